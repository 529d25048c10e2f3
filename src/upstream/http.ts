/**
 * An upstream reached over MCP streamable HTTP (basic/transports, 2025-03-26 and later): every message is a POST
 * answered by JSON or by an SSE stream that may carry the request's notifications and server->client requests
 * before its response; a GET stream carries what the server sends on its own. One upstream session, multiplexed,
 * over an undici keep-alive pool; each request is its own dispatch handler (no Readable, no fetch).
 */
import { Pool } from 'undici';
import type { Principal } from '../auth/principal.ts';
import { createCredentialProvider, NO_HEADERS } from '../auth/upstream-credentials.ts';
import type { CredentialProvider, HeaderList } from '../auth/upstream-credentials.ts';
import { replicaUrl } from '../config/schema.ts';
import type { HttpUpstreamConfig } from '../config/schema.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { ConnectOptions } from './connection.ts';
import { poolOptions } from './connection.ts';
import { ACCEPT_BOTH, AcceptedPost, EventStreamHandler, HttpBaseConnection, INVALID, MODE_OWN, MODE_SSE, PostExchange, challengeOf, describeNetError, describeStatus, freshCredential, insufficientScope, noop, parseEvent } from './http-exchange.ts';
import type { Controller, Headers } from './http-exchange.ts';
import type { PendingRequest } from './pending.ts';
import type { SseParser } from './sse-parser.ts';
import type { UpstreamHandlers, UpstreamInfo, UpstreamRequestOptions } from './types.ts';

/** Reconnect delays of the GET stream when the server gives no `retry:` hint. */
const STREAM_BACKOFF_MS = 500;
const STREAM_MAX_BACKOFF_MS = 30_000;
/** Attempts to resume a request's SSE stream (Last-Event-ID) before giving up on its response. */
const RESUME_ATTEMPTS = 3;
const DELETE_TIMEOUT_MS = 2_000;
const OWN_HEADERS = new Set(['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']);

/** How an upstream refused initialize: its JSON-RPC error code and the revisions it listed (`data.supported`). */
export interface InitializeRefusal {
  code: number;
  supported: string[] | undefined;
}

export class HttpConnection extends HttpBaseConnection {
  readonly url: URL;
  /** The upstream session id (Mcp-Session-Id), once initialized; undefined for a sessionless server. */
  sessionId: string | undefined = undefined;
  /** How many times an expired upstream session (404) was re-initialized. */
  reinitializations = 0;
  /** The JSON-RPC error code and `data.supported` revisions of a refused initialize (a server that speaks only
   *  2026-07-28 answers -32022 with its list), with an HTTP error status or not; undefined if it was not refused. */
  initializeRefusal: InitializeRefusal | undefined = undefined;
  /** @internal the path (and query) every message is POSTed to */
  readonly path: string;
  private readonly posts: Pool;
  private streams: Pool | undefined;
  private readonly configHeaders: string[];
  private protocolVersion = '';
  /** @internal flat header lists, rebuilt only when the session changes */
  postHeaders: string[];
  /** @internal */
  getHeaders: string[];
  private sessionReady = false;
  private reinitializing: Promise<void> | undefined;
  private listener: EventStream | undefined;
  private readonly resumeStreams = new Set<EventStream>();
  /** @internal the credential the upstream's `auth` names; null (no `auth`): no credential at all. */
  readonly credentials: CredentialProvider | null;
  /** The caller of the request being opened (set around `super.request`, read by `newEntry`). */
  private caller: Principal | undefined = undefined;
  /** The last POST header list with credentials, and what it was built from. */
  private mergedFrom: HeaderList | null = null;
  private mergedBase: string[] | null = null;
  private merged: string[] = [];

  constructor(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions) {
    super(name, handlers, options, config.timeouts.request);
    this.url = new URL(replicaUrl(config));
    this.path = this.url.pathname + this.url.search;
    this.posts = new Pool(this.url.origin, poolOptions(options, config.connections));
    const extra: string[] = [];
    for (const [key, value] of Object.entries(config.headers)) {
      if (!OWN_HEADERS.has(key.toLowerCase())) extra.push(key, value);
    }
    this.configHeaders = extra;
    this.postHeaders = [];
    this.getHeaders = [];
    this.buildHeaders();
    this.credentials = createCredentialProvider(name, replicaUrl(config), config.auth, options.logger, options.userOAuth, options.owner);
  }

  override request(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<JsonObject> {
    this.caller = options?.principal;
    try {
      return super.request(method, params, options);
    } finally {
      this.caller = undefined;
    }
  }

  protected start(): Promise<void> {
    return Promise.resolve();
  }

  protected override newEntry(): PendingRequest {
    const exchange = new HttpExchange(this);
    exchange.principal = this.caller;
    return exchange;
  }

  protected sendRequest(entry: PendingRequest, body: string, tag: unknown): void {
    const exchange = entry as HttpExchange;
    exchange.body = body;
    exchange.tag = tag;
    if (!this.sessionReady && exchange.method !== 'initialize') {
      // A re-initialize is running: this request goes out on the new session.
      this.whenReady().then(() => this.post(exchange), (err: Error) => exchange.table?.fail(exchange, err));
      return;
    }
    this.post(exchange);
  }

  protected send(body: string): Promise<void> {
    if (!this.sessionReady && this.reinitializing !== undefined) return this.reinitializing.then(() => this.send(body));
    const post = new HttpPost(this, this.sessionId);
    this.posts.dispatch({ path: this.path, method: 'POST', headers: this.ownHeaders(this.postHeaders), body }, post);
    return post.promise;
  }

  protected override onInitialized(info: UpstreamInfo): void {
    this.protocolVersion = info.protocolVersion;
    this.sessionReady = true;
    this.buildHeaders();
  }

  protected override async initialize(): Promise<void> {
    try {
      await super.initialize();
    } catch (err) {
      if (err instanceof UpstreamRpcError) this.initializeRefusal ??= { code: err.rpcCode, supported: supportedVersions(err.data) };
      throw err;
    }
    this.listen();
  }

  protected async shutdown(): Promise<void> {
    this.listener?.stop();
    for (const s of this.resumeStreams) s.stop();
    this.resumeStreams.clear();
    const session = this.sessionId;
    if (session !== undefined) {
      // Spec: a client that no longer needs the session SHOULD DELETE it; 405 means the server does not allow it.
      try {
        const res = await this.posts.request({ path: this.path, method: 'DELETE', headers: this.ownHeaders(this.getHeaders), headersTimeout: DELETE_TIMEOUT_MS, bodyTimeout: DELETE_TIMEOUT_MS });
        await res.body.dump();
      } catch {}
    }
    await Promise.all([this.posts.destroy().catch(noop), this.streams?.destroy().catch(noop)]);
  }

  protected whenClosed(): Promise<void> {
    return Promise.resolve();
  }

  /** @internal POST one request (again, after a session re-initialize). */
  post(exchange: HttpExchange): void {
    if (exchange.settled) return;
    const creds = this.credentials;
    if (creds === null) return this.dispatchPost(exchange, this.postHeaders, null);
    const found = exchange.credential(creds);
    if (found === null) return;
    if (!(found instanceof Promise)) return this.dispatchPost(exchange, this.withCredentials(found), found);
    found.then((h) => this.dispatchPost(exchange, this.withCredentials(h), h), (err: Error) => exchange.table?.fail(exchange, err));
  }

  private dispatchPost(exchange: HttpExchange, headers: string[], sent: HeaderList | null): void {
    if (exchange.settled) return;
    exchange.session = this.sessionId;
    exchange.sent = sent;
    exchange.reset();
    const trace = exchange.traceHeaders;
    this.posts.dispatch({ path: this.path, method: 'POST', headers: trace === undefined ? headers : headers.concat(trace), body: exchange.body }, exchange);
  }

  /** The POST headers plus `creds`; the same array again while neither changed (no allocation per request). */
  private withCredentials(creds: HeaderList): string[] {
    if (creds.length === 0) return this.postHeaders;
    if (creds !== this.mergedFrom || this.postHeaders !== this.mergedBase) {
      this.mergedFrom = creds;
      this.mergedBase = this.postHeaders;
      this.merged = this.postHeaders.concat(creds);
    }
    return this.merged;
  }

  /** @internal headers of the connection's own messages (DELETE, notifications): its current credential. */
  ownHeaders(base: string[]): string[] {
    const creds = this.credentials?.current();
    return creds === undefined || creds.length === 0 ? base : base.concat(creds);
  }

  /** @internal the connection's own credential, fresh (a GET stream may reconnect long after the last request). */
  ownCredential(): HeaderList | Promise<HeaderList> {
    return freshCredential(this.credentials);
  }

  /** @internal the dispatcher for long-lived GET streams, apart from the POST pool so they never starve it. */
  streamDispatcher(): Pool {
    return (this.streams ??= new Pool(this.url.origin, poolOptions(this.options)));
  }

  /** @internal resume a request's SSE stream from its last event id (the server closed it before the response). */
  resume(exchange: HttpExchange, lastEventId: string, retryMs: number): void {
    if (this.isClosing) return;
    const stream = new EventStream(this, exchange, lastEventId, retryMs);
    this.resumeStreams.add(stream);
    stream.schedule();
  }

  /** @internal */
  streamEnded(stream: EventStream): void {
    this.resumeStreams.delete(stream);
  }

  /**
   * @internal The upstream answered 404 to a message sent with session `expired`: the session is gone (MCP
   * streamable HTTP, session management). Initialize a new one, once for everyone who saw the same 404.
   */
  sessionExpired(expired: string): Promise<void> {
    if (this.isClosing) return Promise.reject(this.closedError());
    if (this.reinitializing !== undefined) return this.reinitializing;
    if (this.sessionId !== expired) return Promise.resolve();
    this.options.logger?.info({ upstream: this.upstream }, 'upstream session expired; initializing a new one');
    this.reinitializations++;
    this.sessionReady = false;
    this.sessionId = undefined;
    this.buildHeaders();
    this.listener?.stop();
    this.listener = undefined;
    const attempt = this.initialize();
    this.reinitializing = attempt.then(
      () => {
        this.reinitializing = undefined;
      },
      (err: unknown) => {
        this.reinitializing = undefined;
        const error = GatehouseError.is(err) ? err : new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.upstream, `session expired and initialize failed: ${(err as Error).message}`]);
        // Without a session the connection is useless: end it so the pool starts a fresh one.
        this.connectionLost(error);
        throw error;
      },
    );
    return this.reinitializing;
  }

  /** @internal initialize was answered with an HTTP error status: keep what its JSON-RPC error says, if any. */
  initializeRefused(body: string): void {
    try {
      const error = (JSON.parse(body) as { error?: { code?: unknown; data?: unknown } } | null)?.error;
      if (error && typeof error.code === 'number') this.initializeRefusal ??= { code: error.code, supported: supportedVersions(error.data) };
    } catch {}
  }

  /** @internal */
  setSession(id: string): void {
    this.sessionId = id;
    this.buildHeaders();
  }

  private whenReady(): Promise<void> {
    if (this.reinitializing !== undefined) return this.reinitializing;
    return Promise.reject(this.closedError());
  }

  private listen(): void {
    this.listener?.stop();
    this.listener = new EventStream(this, null, '', -1);
    this.listener.open();
  }

  private buildHeaders(): void {
    const common: string[] = [];
    if (this.sessionId !== undefined) common.push('mcp-session-id', this.sessionId);
    if (this.sessionReady && this.protocolVersion !== '') common.push('mcp-protocol-version', this.protocolVersion);
    for (let i = 0; i < this.configHeaders.length; i++) common.push(this.configHeaders[i]);
    this.postHeaders = ['content-type', 'application/json', 'accept', ACCEPT_BOTH, ...common];
    this.getHeaders = ['accept', 'text/event-stream', ...common];
  }
}

/** 404 to a message sent with a session: the session expired. */
const MODE_EXPIRED = MODE_OWN;

/**
 * One request's round trip (see `PostExchange`), plus what sessions add: a 404 to a request sent with a session
 * id re-initializes and re-sends it; an event stream that ends or breaks after an event id is resumed.
 */
export class HttpExchange extends PostExchange<HttpConnection> {
  /** The session id this exchange was sent with. */
  session: string | undefined = undefined;
  private retried = false;

  override onResponseStart(controller: Controller, status: number, headers: Headers): void {
    if (status === 404 && this.session !== undefined && !this.retried) {
      this.status = status;
      this.mode = MODE_EXPIRED;
      return;
    }
    super.onResponseStart(controller, status, headers);
    if (this.method === 'initialize' && status >= 200 && status < 300) {
      const sid = headers['mcp-session-id'];
      if (typeof sid === 'string' && sid !== '') this.conn.setSession(sid);
    }
  }

  override onResponseEnd(): void {
    if (this.mode !== MODE_EXPIRED || this.settled) return super.onResponseEnd();
    // 404: the request was not received, so sending it again on a new session is safe (even tools/call).
    this.retried = true;
    this.conn.sessionExpired(this.session!).then(() => this.conn.post(this), (err: Error) => this.table?.fail(this, err));
  }

  override onResponseError(controller: Controller, err: Error): void {
    const parser = this.parser;
    if (!this.settled && this.mode === MODE_SSE && parser !== null && parser.lastEventId !== '' && !this.conn.ending) {
      this.conn.resume(this, parser.lastEventId, parser.retry);
      return;
    }
    super.onResponseError(controller, err);
  }

  protected override streamEnded(parser: SseParser): void {
    if (parser.lastEventId !== '') this.conn.resume(this, parser.lastEventId, parser.retry);
    else super.streamEnded(parser);
  }

  protected resend(): void {
    this.conn.post(this);
  }

  protected refused(text: string): Error {
    if (this.method === 'initialize') this.conn.initializeRefused(text);
    return this.conn.unavailable(describeStatus(this.status, text));
  }

  protected unexpected(): Error {
    return this.conn.protocolError(this.status === 202 ? `${this.method} was answered 202 Accepted with no response` : `the answer to ${this.method} is neither JSON nor an event stream`);
  }
}

/** A notification or a response to a server request: accepted with 202 (or any 2xx). */
class HttpPost extends AcceptedPost<HttpConnection> {
  private readonly session: string | undefined;

  constructor(conn: HttpConnection, session: string | undefined) {
    super(conn);
    this.session = session;
  }

  protected refused(): Error {
    if (this.status === 404 && this.session !== undefined) this.conn.sessionExpired(this.session).catch(noop);
    return this.conn.unavailable(`HTTP ${this.status}`);
  }
}

/**
 * A GET event stream: the standalone one (server-initiated messages, reconnecting with backoff for the life of
 * the session; 405 means the server offers none) or the resumption of one request's POST stream (Last-Event-ID).
 */
class EventStream extends EventStreamHandler {
  private readonly conn: HttpConnection;
  /** The request whose stream this resumes, or null for the standalone stream. */
  private readonly owner: HttpExchange | null;
  private timer: NodeJS.Timeout | undefined;
  private delay = STREAM_BACKOFF_MS;
  private attempts = 0;
  /** The credential the current attempt was sent with, and the challenge of a 401 to it. */
  private sent: HeaderList = NO_HEADERS;
  private challenge: string | undefined = undefined;

  constructor(conn: HttpConnection, owner: HttpExchange | null, lastEventId: string, retryMs: number) {
    super();
    this.conn = conn;
    this.owner = owner;
    this.parser.lastEventId = lastEventId;
    this.parser.retry = retryMs;
  }

  open(): void {
    if (this.stopped || this.conn.ending) return;
    if (this.owner !== null && (this.owner.settled || this.attempts >= RESUME_ATTEMPTS)) return this.finish();
    this.attempts++;
    this.status = 0;
    this.live = false;
    const creds = this.conn.ownCredential();
    if (creds instanceof Promise) creds.then((c) => this.dispatch(c), noop);
    else this.dispatch(creds);
  }

  private dispatch(creds: HeaderList): void {
    if (this.stopped || this.conn.ending) return;
    this.sent = creds;
    const last = this.parser.lastEventId;
    const base = creds.length === 0 ? this.conn.getHeaders : this.conn.getHeaders.concat(creds);
    const headers = last === '' ? base : [...base, 'last-event-id', last];
    this.conn.streamDispatcher().dispatch({ path: this.conn.path, method: 'GET', headers }, this);
  }

  /** Reconnect after the server's `retry` hint or the backoff. */
  schedule(): void {
    if (this.stopped || this.conn.ending) return;
    const wait = this.parser.retry >= 0 ? this.parser.retry : this.delay;
    this.delay = Math.min(this.delay * 2, STREAM_MAX_BACKOFF_MS);
    this.timer = setTimeout(() => this.open(), wait);
    this.timer.unref();
  }

  override stop(): void {
    clearTimeout(this.timer);
    super.stop();
  }

  override onResponseStart(c: Controller, status: number, headers: Headers): void {
    super.onResponseStart(c, status, headers);
    if (status < 200) return;
    if (status === 401) this.challenge = challengeOf(headers);
    if (this.live && this.owner === null) {
      this.delay = STREAM_BACKOFF_MS;
      this.attempts = 0;
    }
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (this.live) this.parser.push(chunk);
  }

  onResponseEnd(): void {
    this.parser.end();
    this.ended();
  }

  onResponseError(): void {
    this.parser.end();
    this.ended();
  }

  private ended(): void {
    this.controller = null;
    if (this.stopped || this.conn.ending) return this.finish();
    const status = this.status;
    if (this.owner === null) {
      if (status === 405) return this.finish(); // the server offers no standalone stream
      if (status === 404 && this.conn.sessionId !== undefined) {
        this.conn.sessionExpired(this.conn.sessionId).catch(noop); // a new listener opens after initialize
        return this.finish();
      }
      if (status === 401 && this.sent.length > 0 && this.conn.credentials?.rejected(undefined, this.sent, this.challenge) !== false) {
        // The token expired or was revoked while the stream was down: a fresh one on the next attempt (backoff).
        return this.schedule();
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return this.finish();
      return this.schedule();
    }
    if (this.owner.settled) return this.finish();
    if (status !== 0 && !this.live) {
      this.owner.table?.fail(this.owner, this.conn.protocolError(`resuming the event stream of ${this.owner.method} failed with HTTP ${status}`));
      return this.finish();
    }
    if (this.attempts >= RESUME_ATTEMPTS) {
      this.owner.table?.fail(this.owner, this.conn.protocolError(`the event stream of ${this.owner.method} ended without its response`));
      return this.finish();
    }
    this.schedule();
  }

  private finish(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.owner !== null) this.conn.streamEnded(this);
  }

  protected event(type: string, data: string): void {
    if (this.owner !== null) {
      this.owner.event(type, data);
      if (this.owner.settled) this.stop();
      return;
    }
    if (type !== 'message' || data.length === 0) return;
    const value = parseEvent(this.conn, data);
    if (value !== INVALID) this.conn.deliver(value, undefined);
  }
}

/** Open a streamable-HTTP upstream: initialize within `timeouts.connect`, then listen on the GET stream. */
export async function connectHttp(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<HttpConnection> {
  const conn = new HttpConnection(name, config, handlers, options);
  await conn.open(config.timeouts.connect);
  return conn;
}

/** `data.supported` of a JSON-RPC error (-32022 Unsupported protocol version), when it is a list of strings. */
function supportedVersions(data: unknown): string[] | undefined {
  const list = data !== null && typeof data === 'object' ? (data as { supported?: unknown }).supported : undefined;
  return Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string') : undefined;
}

export { describeNetError, describeStatus, insufficientScope };
