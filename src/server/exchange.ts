/**
 * Where the messages of one client request go. A streamable-HTTP POST answers with plain JSON when nothing
 * else needs to be said, and upgrades itself to an SSE stream the moment a related message (progress, a log
 * line, a sampling request) must reach the client before the response. The legacy SSE transport and the
 * session's standalone stream implement the same interface.
 */
import type { ServerResponse } from 'node:http';
import type { JsonRpcMessage, JsonRpcResponse } from '../core/jsonrpc.ts';
import { httpReplyOf } from '../core/errors.ts';
import { EventStream } from './event-stream.ts';

export interface Exchange {
  /** A message related to an in-flight request (progress, logging, server->client request). */
  related(message: JsonRpcMessage): void;
  /** The response to one of the requests this exchange carries. */
  respond(message: JsonRpcResponse): void;
  /** Whether the client can still receive related messages on this exchange. */
  readonly open: boolean;
  /**
   * The answer is decided and only waits (for its audit record): a stream not opened yet stays closed, so a refusal
   * with its own HTTP status (429 + Retry-After) keeps it.
   */
  hold?(): void;
}

export interface StreamRegistry {
  /** Keep a stream findable for `Last-Event-ID` resumption. */
  registerStream(stream: EventStream): void;
  newStreamId(): string;
  readonly resumeCapacity: number;
}

const PRIMING_RETRY_MS = 1000;

/** The answer to one POST carrying `expected` requests (1 unless a 2025-03-26 batch). */
export class PostExchange implements Exchange {
  private readonly res: ServerResponse;
  private readonly headers: Record<string, string>;
  private readonly batch: boolean;
  private readonly canStream: boolean;
  private readonly streams: StreamRegistry;
  private remaining: number;
  private collected: JsonRpcResponse[] | null = null;
  private stream: EventStream | null = null;
  /** startStream() was asked for: the stream opens on the next turn of the event loop (see startStream). */
  private streamPending = false;
  /** hold(): the answer is decided, the pending stream waits for it. */
  private held = false;
  /** Open SSE streams with a priming event and a retry hint, so the client may reconnect and resume (2025-11-25). */
  priming = false;

  constructor(res: ServerResponse, expected: number, batch: boolean, canStream: boolean, headers: Record<string, string>, streams: StreamRegistry) {
    this.res = res;
    this.remaining = expected;
    this.batch = batch;
    this.canStream = canStream;
    this.headers = headers;
    this.streams = streams;
  }

  get open(): boolean {
    return this.remaining > 0 && !this.res.destroyed && (this.stream !== null || this.canStream);
  }

  related(message: JsonRpcMessage): void {
    if (this.remaining === 0 || !this.canStream) return;
    this.upgrade().send(message);
  }

  respond(message: JsonRpcResponse): void {
    if (this.remaining === 0) return;
    this.remaining--;
    if (!this.stream && !this.batch) {
      // A refusal with its own HTTP status (429 + Retry-After) can have it while this POST carries only that request.
      const reply = 'error' in message ? httpReplyOf(message.error) : undefined;
      if (reply !== undefined) {
        writeJson(this.res, reply.status, message, { ...this.headers, ...reply.headers });
        return;
      }
      if (this.streamPending) this.upgrade();
    }
    if (this.stream) {
      this.stream.send(message);
      if (this.remaining === 0) this.stream.end();
      return;
    }
    if (!this.batch) {
      writeJson(this.res, 200, message, this.headers);
      return;
    }
    (this.collected ??= []).push(message);
    if (this.remaining === 0) writeJson(this.res, 200, this.collected, this.headers);
  }

  /** Answer with an SSE stream from the start (when the client accepts one). */
  startStream(): void {
    if (!this.canStream || this.remaining === 0 || this.stream) return;
    // Not at once: a request the guard stages refuse straight away (rate-limited) is answered within this turn and may
    // still get its own HTTP status; any other answer, or a related message, opens the stream as before.
    this.streamPending = true;
    setImmediate(() => {
      if (this.streamPending && !this.held && this.remaining > 0 && !this.res.destroyed) this.upgrade();
    });
  }

  hold(): void {
    this.held = true;
  }

  private upgrade(): EventStream {
    if (this.stream) return this.stream;
    this.streamPending = false;
    const stream = new EventStream(this.streams.newStreamId(), this.streams.resumeCapacity);
    this.streams.registerStream(stream);
    stream.attach(this.res, this.headers, undefined, false);
    if (this.priming) stream.prime(PRIMING_RETRY_MS);
    // Responses collected for a batch before the upgrade go out first.
    if (this.collected) for (const m of this.collected) stream.send(m);
    this.collected = null;
    this.stream = stream;
    return stream;
  }
}

/** Delivery over one long-lived SSE stream (the legacy transport, or a 2026-07-28 listen stream). */
export class StreamExchange implements Exchange {
  private readonly stream: EventStream;
  constructor(stream: EventStream) {
    this.stream = stream;
  }
  get open(): boolean {
    return !this.stream.finished;
  }
  related(message: JsonRpcMessage): void {
    this.stream.send(message);
  }
  respond(message: JsonRpcResponse): void {
    this.stream.send(message);
  }
}

export function writeJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
