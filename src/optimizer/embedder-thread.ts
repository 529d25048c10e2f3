/**
 * Runs the offline embedding model on a worker thread. The model computes on the CPU in JavaScript: embedding a
 * catalog takes seconds per batch, and on the gateway's own thread every session would stall meanwhile. The worker
 * is started on first use and unref'd, so an idle gateway exits normally.
 */
import { Worker } from 'node:worker_threads';
import type { Embedder } from './embedder.ts';

/** The worker module beside this one: `.ts` when Node runs src/, `.js` when it runs the build in dist/. */
const WORKER_URL = new URL(`./embedder-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

interface Reply {
  id: number;
  vectors?: Float32Array[];
  error?: string;
}

export class ThreadEmbedder implements Embedder {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void }>();

  embed(texts: string[]): Promise<Float32Array[]> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.ref(); // keep the process alive while an answer is owed
      worker.postMessage({ id, texts });
    });
  }

  /** Stops the worker; pending calls fail. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#fail(new Error('the embedding worker was stopped'));
    await worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL);
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.#waiting.get(reply.id);
      if (!waiter) return;
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) worker.unref();
      if (reply.vectors) waiter.resolve(reply.vectors);
      else waiter.reject(new Error(`embedding failed: ${reply.error}`));
    });
    const lost = (err: Error) => {
      if (this.#worker !== worker) return; // a closed worker: its calls were failed already
      this.#worker = undefined; // the next call starts a fresh one
      this.#fail(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the embedding worker exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #fail(err: Error): void {
    for (const waiter of this.#waiting.values()) waiter.reject(err);
    this.#waiting.clear();
  }
}
