/**
 * One server-sent-events stream with resumability: every event gets an id `<streamId>.<seq>` and the last
 * `capacity` events are kept, so a client reconnecting with `Last-Event-ID` receives what it missed
 * (streamable HTTP, "Resumability and Redelivery"). The HTTP response under the stream can come and go.
 */
import type { ServerResponse } from 'node:http';

interface BufferedEvent {
  seq: number;
  frame: string;
}

/**
 * Where a stream's events are also written, so that another replica can replay them to a client that reconnects
 * there with Last-Event-ID (src/store/redis/event-journal.ts). `key` names the stream among every replica's.
 */
export interface StreamJournal {
  record(key: string, seq: number, frame: string): void;
  finish(key: string): void;
}

export class EventStream {
  readonly id: string;
  private seq = 0;
  private readonly capacity: number;
  private readonly buffer: BufferedEvent[] = [];
  private res: ServerResponse | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  /** Set when the stream will carry no more events (its request was answered); the response ends after replay. */
  finished = false;
  onDetach: (() => void) | null = null;
  /** Set by the session when replicas share a journal. */
  journal: { sink: StreamJournal; key: string } | null = null;

  constructor(id: string, capacity: number) {
    this.id = id;
    this.capacity = capacity;
  }

  get attached(): boolean {
    return this.res !== null;
  }

  /**
   * Start (or resume) delivery on `res`; replays events after `afterSeq` when resuming. Long-lived streams get a
   * keep-alive comment every 25 s; a request's own stream ends with its answer and needs none.
   */
  attach(res: ServerResponse, headers: Record<string, string>, afterSeq?: number, longLived = true): void {
    this.detach();
    this.res = res;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', ...headers });
    res.flushHeaders();
    res.on('close', () => {
      if (this.res === res) this.detach();
    });
    if (afterSeq !== undefined) {
      for (const ev of this.buffer) if (ev.seq > afterSeq) res.write(ev.frame);
    }
    if (this.finished) {
      this.end();
      return;
    }
    if (!longLived) return;
    // A comment line every 25 s keeps idle proxies from closing a quiet stream.
    this.keepAlive = setInterval(() => this.res?.write(': keep-alive\n\n'), 25_000);
    this.keepAlive.unref();
  }

  /** A first event with an id and no data, plus a reconnection delay: lets the client resume this stream. */
  prime(retryMs: number): void {
    this.res?.write(`id: ${this.id}.0\nretry: ${retryMs}\ndata: \n\n`);
  }

  /** Queue one JSON-RPC message (already serialised) as an event. */
  sendSerialized(json: string): void {
    const seq = ++this.seq;
    const frame = `id: ${this.id}.${seq}\ndata: ${json}\n\n`;
    if (this.capacity > 0) {
      this.buffer.push({ seq, frame });
      if (this.buffer.length > this.capacity) this.buffer.shift();
      this.journal?.sink.record(this.journal.key, seq, frame);
    }
    this.res?.write(frame);
  }

  send(message: unknown): void {
    this.sendSerialized(JSON.stringify(message));
  }

  /** Write a raw SSE frame that is not part of the resumable sequence (the legacy `endpoint` event). */
  writeRaw(frame: string): void {
    this.res?.write(frame);
  }

  /** No more events: end the current response (a later resume still gets the buffered tail). */
  end(): void {
    if (!this.finished) this.journal?.sink.finish(this.journal.key);
    this.finished = true;
    const res = this.res;
    this.detach();
    res?.end();
  }

  private detach(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
    if (this.res) {
      this.res = null;
      this.onDetach?.();
    }
  }

  /** Parse a Last-Event-ID of this gateway: `<streamId>.<seq>`. */
  static parseEventId(value: string): { streamId: string; seq: number } | null {
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return null;
    const seq = Number(value.slice(dot + 1));
    if (!Number.isSafeInteger(seq) || seq < 0) return null;
    return { streamId: value.slice(0, dot), seq };
  }
}
