/**
 * An upstream on the legacy HTTP+SSE transport (MCP 2024-11-05): one GET event stream carries every message from
 * the server; its first `endpoint` event names where to POST ours. Responses arrive on the stream, not on the
 * POST, so nothing the server sends can be tied to a request's stream (tags are undefined). Losing the stream
 * ends the session: the connection closes and the pool opens a new one.
 */
import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { replicaUrl } from '../config/schema.ts';
import type { HttpUpstreamConfig } from '../config/schema.ts';
import type { ConnectOptions } from './connection.ts';
import { poolOptions } from './connection.ts';
import { ABANDONED, AcceptedPost, EventStreamHandler, HttpBaseConnection, INVALID, describeNetError, noop, parseEvent } from './http-exchange.ts';
import type { Controller } from './http-exchange.ts';
import { PendingRequest } from './pending.ts';
import type { UpstreamHandlers } from './types.ts';

const OWN_HEADERS = new Set(['content-type', 'accept']);

export class SseConnection extends HttpBaseConnection {
  readonly url: URL;
  /** Where messages are POSTed, from the server's `endpoint` event. */
  endpoint: URL | undefined = undefined;
  /** @internal */
  endpointPath = '';
  /** @internal */
  readonly postHeaders: string[];
  private readonly getHeaders: string[];
  private readonly connections: number;
  private posts: Pool | undefined;
  private readonly streamClient: Client;
  private stream: SseStream | undefined;

  constructor(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions) {
    super(name, handlers, options, config.timeouts.request);
    this.url = new URL(replicaUrl(config));
    this.connections = config.connections;
    const extra: string[] = [];
    for (const [key, value] of Object.entries(config.headers)) {
      if (!OWN_HEADERS.has(key.toLowerCase())) extra.push(key, value);
    }
    this.postHeaders = ['content-type', 'application/json', ...extra];
    this.getHeaders = ['accept', 'text/event-stream', ...extra];
    this.streamClient = new Client(this.url.origin, poolOptions(options));
  }

  protected start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream = new SseStream(this, resolve, reject);
      this.streamClient.dispatch({ path: this.url.pathname + this.url.search, method: 'GET', headers: this.getHeaders }, this.stream);
    });
  }

  protected override newEntry(): PendingRequest {
    return new SseExchange(this);
  }

  protected sendRequest(entry: PendingRequest, body: string): void {
    const trace = entry.traceHeaders;
    this.posts!.dispatch({ path: this.endpointPath, method: 'POST', headers: trace === undefined ? this.postHeaders : this.postHeaders.concat(trace), body }, entry as SseExchange);
  }

  protected send(body: string): Promise<void> {
    const post = new SsePost(this);
    this.posts!.dispatch({ path: this.endpointPath, method: 'POST', headers: this.postHeaders, body }, post);
    return post.promise;
  }

  protected async shutdown(): Promise<void> {
    this.stream?.stop();
    await Promise.all([this.streamClient.destroy().catch(noop), this.posts?.destroy().catch(noop)]);
  }

  protected whenClosed(): Promise<void> {
    return Promise.resolve();
  }

  /** @internal the `endpoint` event: resolve it against the stream URL; it must stay on the same origin. */
  setEndpoint(data: string): string | undefined {
    let url: URL;
    try {
      url = new URL(data.trim(), this.url);
    } catch {
      return `endpoint event ${JSON.stringify(data)} is not a URL`;
    }
    if (url.origin !== this.url.origin) return `endpoint ${url.href} is not on the origin of ${this.url.href}`;
    this.endpoint = url;
    this.endpointPath = url.pathname + url.search;
    this.posts = new Pool(url.origin, poolOptions(this.options, this.connections));
    return undefined;
  }

  /** @internal the event stream ended. */
  lost(error: Error): void {
    this.closeDetail = 'event stream closed';
    this.connectionLost(error);
    this.streamClient.destroy().catch(noop);
    this.posts?.destroy().catch(noop);
  }
}

/** The GET stream: waits for `endpoint`, then routes every `message` event. */
class SseStream extends EventStreamHandler {
  private readonly conn: SseConnection;
  private resolveStart: (() => void) | null;
  private rejectStart: ((err: Error) => void) | null;

  constructor(conn: SseConnection, resolve: () => void, reject: (err: Error) => void) {
    super();
    this.conn = conn;
    this.resolveStart = resolve;
    this.rejectStart = reject;
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (this.live) this.parser.push(chunk);
  }

  onResponseEnd(): void {
    this.parser.end();
    this.ended(this.live ? 'the event stream ended' : `GET ${this.conn.url.href} answered HTTP ${this.status}, not an event stream`);
  }

  onResponseError(_c: Controller, err: Error): void {
    this.parser.end();
    this.ended(describeNetError(err));
  }

  private ended(cause: string): void {
    this.controller = null;
    if (this.rejectStart !== null) {
      const reject = this.rejectStart;
      this.rejectStart = this.resolveStart = null;
      reject(this.conn.unavailable(cause));
      return;
    }
    if (!this.stopped && !this.conn.ending) this.conn.lost(this.conn.unavailable(cause));
  }

  protected event(type: string, data: string): void {
    if (type === 'endpoint') {
      if (this.resolveStart === null) return; // only the first one counts
      const problem = this.conn.setEndpoint(data);
      const resolve = this.resolveStart;
      const reject = this.rejectStart!;
      this.resolveStart = this.rejectStart = null;
      if (problem === undefined) resolve();
      else {
        reject(this.conn.protocolError(problem));
        this.stop();
      }
      return;
    }
    if (type !== 'message' || data.length === 0) return;
    const value = parseEvent(this.conn, data);
    if (value !== INVALID) this.conn.deliver(value);
  }
}

/** One request's POST: its answer comes on the stream; here only a refused POST fails the request. */
class SseExchange extends PendingRequest implements Dispatcher.DispatchHandler {
  private readonly conn: SseConnection;
  private controller: Controller | null = null;
  private status = 0;

  constructor(conn: SseConnection) {
    super();
    this.conn = conn;
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.settled) controller.abort(ABANDONED);
  }

  onResponseStart(_c: Controller, status: number): void {
    if (status >= 200) this.status = status;
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    this.controller = null;
    if (this.status >= 300) this.table?.fail(this, this.conn.unavailable(`POST ${this.conn.endpointPath} answered HTTP ${this.status}`));
  }

  onResponseError(_c: Controller, err: Error): void {
    this.controller = null;
    this.table?.fail(this, this.conn.unavailable(describeNetError(err)));
  }

  protected override onAbandon(): void {
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(ABANDONED);
  }
}

/** A notification or a response to a server request: accepted with 202 (or any 2xx). */
class SsePost extends AcceptedPost<SseConnection> {
  protected refused(): Error {
    return this.conn.unavailable(`POST ${this.conn.endpointPath} answered HTTP ${this.status}`);
  }
}

/** Open a legacy SSE upstream: GET the stream, wait for `endpoint`, initialize, all within `timeouts.connect`. */
export async function connectSse(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<SseConnection> {
  const conn = new SseConnection(name, config, handlers, options);
  await conn.open(config.timeouts.connect);
  return conn;
}
