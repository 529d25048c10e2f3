/**
 * The worker side of src/optimizer/embedder-thread.ts: one model, requests answered in order.
 */
import { parentPort } from 'node:worker_threads';
import { LocalEmbedder } from './embedder.ts';

const embedder = new LocalEmbedder();

parentPort!.on('message', async ({ id, texts }: { id: number; texts: string[] }) => {
  try {
    const vectors = await embedder.embed(texts);
    parentPort!.postMessage({ id, vectors }, vectors.map((v) => v.buffer as ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
