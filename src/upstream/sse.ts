/**
 * An upstream on the legacy HTTP+SSE transport (MCP 2024-11-05): one GET event stream carries every message from
 * the server; its first `endpoint` event names where to POST ours. Responses arrive on the stream, not on the
 * POST, so nothing the server sends can be tied to a request's stream (tags are undefined). Losing the stream
 * ends the session: the connection closes and the pool opens a new one.
 */
import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { HttpUpstreamConfig } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import { BaseConnection } from './connection.ts';
import type { ConnectOptions } from './connection.ts';
import { describeNetError } from './http.ts';
import { PendingRequest } from './pending.ts';
import { SseParser } from './sse-parser.ts';
import type { UpstreamHandlers } from './types.ts';

type Controller = Dispatcher.DispatchController;

const ABANDONED = new Error('request abandoned');
const OWN_HEADERS = new Set(['content-type', 'accept']);

export class SseConnection extends BaseConnection {
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
    this.url = new URL(config.url);
    this.connections = config.connections;
    const extra: string[] = [];
    for (const [key, value] of Object.entries(config.headers)) {
      if (!OWN_HEADERS.has(key.toLowerCase())) extra.push(key, value);
    }
    this.postHeaders = ['content-type', 'application/json', ...extra];
    this.getHeaders = ['accept', 'text/event-stream', ...extra];
    this.streamClient = new Client(this.url.origin, { headersTimeout: 0, bodyTimeout: 0 });
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
    this.posts!.dispatch({ path: this.endpointPath, method: 'POST', headers: this.postHeaders, body }, entry as SseExchange);
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
    this.posts = new Pool(url.origin, { connections: this.connections, headersTimeout: 0, bodyTimeout: 0 });
    return undefined;
  }

  /** @internal */
  deliver(value: unknown): void {
    this.receive(value, undefined);
  }

  /** @internal */
  countInvalid(): void {
    this.invalidMessages++;
  }

  /** @internal the event stream ended. */
  lost(error: Error): void {
    this.closeDetail = 'event stream closed';
    this.connectionLost(error);
    this.streamClient.destroy().catch(noop);
    this.posts?.destroy().catch(noop);
  }

  /** @internal */
  unavailable(cause: string): GatehouseError {
    return new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.upstream, cause], { upstream: this.upstream });
  }

  /** @internal */
  protocolError(cause: string): GatehouseError {
    return new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [this.upstream, cause], { upstream: this.upstream });
  }

  /** @internal */
  get ending(): boolean {
    return this.isClosing;
  }
}

/** The GET stream: waits for `endpoint`, then routes every `message` event. */
class SseStream implements Dispatcher.DispatchHandler {
  private readonly conn: SseConnection;
  private readonly parser: SseParser;
  private resolveStart: (() => void) | null;
  private rejectStart: ((err: Error) => void) | null;
  private controller: Controller | null = null;
  private stopped = false;
  private live = false;
  private status = 0;

  constructor(conn: SseConnection, resolve: () => void, reject: (err: Error) => void) {
    this.conn = conn;
    this.resolveStart = resolve;
    this.rejectStart = reject;
    this.parser = new SseParser((type, data) => this.event(type, data));
  }

  stop(): void {
    this.stopped = true;
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(ABANDONED);
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.stopped) controller.abort(ABANDONED);
  }

  onResponseStart(_c: Controller, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return;
    this.status = status;
    const type = headers['content-type'];
    this.live = status === 200 && typeof type === 'string' && type.startsWith('text/event-stream');
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

  private event(type: string, data: string): void {
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
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      this.conn.countInvalid();
      return;
    }
    this.conn.deliver(value);
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

class SsePost implements Dispatcher.DispatchHandler {
  readonly promise: Promise<void>;
  private readonly conn: SseConnection;
  private resolve: () => void = noop;
  private reject: (err: Error) => void = noop;
  private status = 0;

  constructor(conn: SseConnection) {
    this.conn = conn;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onRequestStart(): void {}

  onResponseStart(_c: Controller, status: number): void {
    if (status >= 200) this.status = status;
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    if (this.status < 300) this.resolve();
    else this.reject(this.conn.unavailable(`POST ${this.conn.endpointPath} answered HTTP ${this.status}`));
  }

  onResponseError(_c: Controller, err: Error): void {
    this.reject(this.conn.unavailable(describeNetError(err)));
  }
}

/** Open a legacy SSE upstream: GET the stream, wait for `endpoint`, initialize, all within `timeouts.connect`. */
export async function connectSse(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<SseConnection> {
  const conn = new SseConnection(name, config, handlers, options);
  await conn.open(config.timeouts.connect);
  return conn;
}

function noop(): void {}
