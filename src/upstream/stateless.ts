/**
 * An upstream that speaks only the stateless revision 2026-07-28 over streamable HTTP, behind a gateway whose
 * clients hold sessions: no initialize, no session, no GET stream. Every request carries the protocol context in
 * `_meta` and the routing headers; `server/discover` fills `info`; methods the revision removed are answered here;
 * `input_required` results are resolved through the handlers (MRTR); list_changed and resource updates arrive on
 * one `subscriptions/listen` stream. Spec: 2026-07-28 basic/transports/streamable-http, basic/patterns/mrtr.
 */
import { Pool } from 'undici';
import { createCredentialProvider, NO_HEADERS } from '../auth/upstream-credentials.ts';
import type { CredentialProvider, HeaderList } from '../auth/upstream-credentials.ts';
import { replicaUrl } from '../config/schema.ts';
import type { HttpUpstreamConfig } from '../config/schema.ts';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';
import { RpcCode } from '../core/jsonrpc.ts';
import { BaseConnection } from './connection.ts';
import type { ConnectOptions } from './connection.ts';
import { poolOptions } from './connection.ts';
import { HttpConnection } from './http.ts';
import { ACCEPT_BOTH, EventStreamHandler, HttpBaseConnection, INVALID, MAX_ERROR_BODY, PostExchange, describeNetError, describeStatus, freshCredential, noop, parseEvent } from './http-exchange.ts';
import type { Controller } from './http-exchange.ts';
import type { PendingRequest } from './pending.ts';
import type { UpstreamHandlers, UpstreamInfo, UpstreamRequestOptions } from './types.ts';

/** The stateless revision. */
export const STATELESS_PROTOCOL_VERSION = '2026-07-28';

/** JSON-RPC error: the server does not implement the requested revision (2026-07-28 basic/versioning). */
const UNSUPPORTED_PROTOCOL_VERSION = -32022;
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_CLIENT = 'io.modelcontextprotocol/clientInfo';
const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const META_SERVER = 'io.modelcontextprotocol/serverInfo';
const META_SUBSCRIPTION = 'io.modelcontextprotocol/subscriptionId';

/** Rounds of `input_required` one request may take before the gateway gives up on the upstream. */
export const MAX_INPUT_ROUNDS = 8;
/** Reopen delays of the listen stream (doubling), reset once a stream is acknowledged. */
const LISTEN_BACKOFF_MS = 500;
const LISTEN_MAX_BACKOFF_MS = 30_000;
/** Header lists cached per method sent without Mcp-Name (bounded: methods come from the router's fixed set). */
const MAX_CACHED_METHODS = 64;
const OWN_HEADERS = new Set(['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id']);
/** Methods whose `Mcp-Name` header mirrors a param, and which param. */
const NAME_PARAM: Readonly<Record<string, string>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
const LIST_CHANGED: readonly (readonly [filterKey: string, capability: string, method: string])[] = [
  ['toolsListChanged', 'tools', 'notifications/tools/list_changed'],
  ['promptsListChanged', 'prompts', 'notifications/prompts/list_changed'],
  ['resourcesListChanged', 'resources', 'notifications/resources/list_changed'],
];

export class StatelessHttpConnection extends HttpBaseConnection {
  readonly url: URL;
  /** @internal the path (and query) every message is POSTed to */
  readonly path: string;
  /** The level `logging/setLevel` asked for; sent as `_meta.logLevel` (the revision has no setLevel). */
  logLevel: string | undefined = undefined;
  /** URIs of `resources/subscribe`, kept on the listen stream (the revision has no subscribe). */
  readonly subscriptions = new Set<string>();
  /** How many listen streams were opened (first one included). */
  listenOpens = 0;
  private readonly posts: Pool;
  private streams: Pool | undefined;
  /** content-type, accept, MCP-Protocol-Version and the configured headers: the start of every POST's list. */
  private readonly baseHeaders: string[];
  private readonly methodHeaders = new Map<string, string[]>();
  /** The `_meta` keys the gateway puts on every request, and their JSON (spliced into bodies without `_meta`). */
  private meta: JsonObject;
  private metaJson: string;
  private listener: ListenStream | undefined;
  private listenTimer: NodeJS.Timeout | undefined;
  private listenDelay = LISTEN_BACKOFF_MS;
  private listenDirty = false;
  /** A listen stream dropped and no new one has been acknowledged yet: changes may have gone unannounced. */
  private listenGap = false;
  private nextListenId = 1;
  private nextInputId = 1;
  /** @internal the credential the upstream's `auth` names; null (no `auth`): no credential at all. */
  readonly credentials: CredentialProvider | null;

  constructor(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions) {
    super(name, handlers, options, config.timeouts.request);
    this.url = new URL(replicaUrl(config));
    this.path = this.url.pathname + this.url.search;
    this.posts = new Pool(this.url.origin, poolOptions(options, config.connections));
    const headers = ['content-type', 'application/json', 'accept', ACCEPT_BOTH, 'mcp-protocol-version', STATELESS_PROTOCOL_VERSION];
    for (const [key, value] of Object.entries(config.headers)) {
      if (!OWN_HEADERS.has(key.toLowerCase())) headers.push(key, value);
    }
    this.baseHeaders = headers;
    this.meta = {
      [META_VERSION]: STATELESS_PROTOCOL_VERSION,
      [META_CAPABILITIES]: options.capabilities,
      [META_CLIENT]: { name: 'gatehouse', version: options.clientVersion },
    };
    this.metaJson = JSON.stringify(this.meta);
    this.credentials = createCredentialProvider(name, replicaUrl(config), config.auth, options.logger, options.userOAuth, options.owner);
  }

  /**
   * Send a request. Methods the revision removed are answered here; `resultType` is checked and stripped (the
   * gateway's clients have strict empty-result schemas); `input_required` is resolved and the request retried.
   */
  override request(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<JsonObject> {
    if (this.isClosing) return Promise.reject(this.closedError());
    switch (method) {
      case 'ping':
        return Promise.resolve({});
      case 'logging/setLevel':
        return Promise.resolve(this.setLevel(params));
      case 'resources/subscribe':
        return Promise.resolve(this.subscribe(params, true));
      case 'resources/unsubscribe':
        return Promise.resolve(this.subscribe(params, false));
    }
    return this.call(method, params, options);
  }

  /** This revision has no client->server notification over HTTP (cancelling = closing the stream; no
   *  initialized, no roots/list_changed), so nothing is sent. */
  override notify(_method: string, _params?: JsonObject): Promise<void> {
    return this.isClosing ? Promise.reject(this.closedError()) : Promise.resolve();
  }

  /** @internal dispatch a serialized request; `entry.headers` were set by `exchange`. */
  protected sendRequest(entry: PendingRequest, body: string): void {
    const exchange = entry as StatelessExchange;
    exchange.body = body;
    this.post(exchange);
  }

  /** @internal send (again, after a 401) with the credential for the request's caller, if `auth` names one. */
  post(exchange: StatelessExchange): void {
    if (exchange.settled) return;
    const creds = this.credentials;
    if (creds === null) {
      const trace = exchange.traceHeaders;
      this.posts.dispatch({ path: this.path, method: 'POST', headers: trace === undefined ? exchange.headers : exchange.headers.concat(trace), body: exchange.body }, exchange);
      return;
    }
    const found = exchange.credential(creds);
    if (found === null) return;
    if (!(found instanceof Promise)) return this.postWith(exchange, found);
    found.then((h) => this.postWith(exchange, h), (err: Error) => exchange.table?.fail(exchange, err));
  }

  private postWith(exchange: StatelessExchange, creds: HeaderList): void {
    if (exchange.settled) return;
    exchange.sent = creds;
    exchange.reset();
    const trace = exchange.traceHeaders;
    const headers = creds.length === 0 && trace === undefined ? exchange.headers : exchange.headers.concat(creds, trace ?? []);
    this.posts.dispatch({ path: this.path, method: 'POST', headers, body: exchange.body }, exchange);
  }

  /** Nothing leaves: the only callers are notifications/cancelled (HTTP cancels by closing the response stream) and
   *  answers to server->client requests, which this revision does not have (MRTR replaces them). */
  protected send(): Promise<void> {
    return Promise.resolve();
  }

  protected start(): Promise<void> {
    return Promise.resolve();
  }

  /** No initialize in this revision: `server/discover` says who the upstream is. */
  protected override async initialize(): Promise<void> {
    const result = await this.exchange('server/discover', undefined, { timeoutMs: 0 });
    this.info = parseDiscoverResult(this.upstream, result);
    this.relisten();
  }

  protected async shutdown(): Promise<void> {
    clearTimeout(this.listenTimer);
    this.listener?.stop();
    this.listener = undefined;
    await Promise.all([this.posts.destroy().catch(noop), this.streams?.destroy().catch(noop)]);
  }

  protected whenClosed(): Promise<void> {
    return Promise.resolve();
  }

  // ---- requests ---------------------------------------------------------------------------------

  /** One request to the end: its rounds of `input_required`, all within the request's deadline. */
  private async call(method: string, params: JsonObject | undefined, options: UpstreamRequestOptions | undefined): Promise<JsonObject> {
    const started = performance.now();
    let result = await this.exchange(method, params, options);
    for (let round = 1; result.resultType === 'input_required'; round++) {
      if (round > MAX_INPUT_ROUNDS) throw this.protocolError(`${method} still asked for input after ${MAX_INPUT_ROUNDS} rounds`);
      const total = options?.timeoutMs ?? this.requestTimeoutMs;
      const retry: JsonObject = { ...params };
      delete retry.inputResponses;
      delete retry.requestState;
      const inputs = result.inputRequests;
      if (inputs !== undefined) retry.inputResponses = await this.answerInputs(method, inputs, options, this.left(started, total), total);
      else if (result.requestState === undefined) throw this.protocolError(`${method} answered input_required with neither inputRequests nor requestState`);
      // The spec: echo requestState exactly, and send none when the server sent none.
      if (result.requestState !== undefined) retry.requestState = result.requestState;
      result = await this.exchange(method, retry, { signal: options?.signal, tag: options?.tag, principal: options?.principal, traceHeaders: options?.traceHeaders, timeoutMs: this.left(started, total) });
    }
    return this.complete(method, result);
  }

  /** What is left of a `total` ms deadline (0 = none) that started at `started`; throws once it has passed. */
  private left(started: number, total: number): number {
    if (total <= 0) return 0;
    const left = total - (performance.now() - started);
    if (left < 1) throw new GatehouseError('GH_ERR_UPSTREAM_TIMEOUT', [this.upstream, total]);
    return left;
  }

  /** Ask the handlers (the router, then the client that caused the request) for every input, concurrently. */
  private async answerInputs(method: string, inputs: unknown, options: UpstreamRequestOptions | undefined, leftMs: number, totalMs: number): Promise<JsonObject> {
    if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) throw this.protocolError(`${method} answered input_required with inputRequests that are not an object`);
    const keys = Object.keys(inputs);
    // Check them all before asking anyone, so a bad entry never leaves a client question behind.
    const requests = keys.map((key): JsonRpcRequest => {
      const ask = (inputs as Record<string, unknown>)[key] as { method?: unknown; params?: unknown } | null;
      if (ask === null || typeof ask !== 'object' || typeof ask.method !== 'string') throw this.protocolError(`input request ${JSON.stringify(key)} of ${method} has no method`);
      const p = ask.params;
      return { jsonrpc: '2.0', id: `input-${this.nextInputId++}`, method: ask.method, params: p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as JsonObject) : {} };
    });
    const asks = requests.map((request) => {
      try {
        return this.handlers.onRequest(request, options?.tag);
      } catch (err) {
        return Promise.reject(err);
      }
    });
    const answers = await bounded(Promise.all(asks), options?.signal, leftMs, () => new GatehouseError('GH_ERR_UPSTREAM_TIMEOUT', [this.upstream, totalMs]));
    const responses: JsonObject = {};
    for (let i = 0; i < keys.length; i++) responses[keys[i]] = answers[i];
    return responses;
  }

  /** A final result: `resultType` must be absent or "complete", and is removed. */
  private complete(method: string, result: JsonObject): JsonObject {
    const type = result.resultType;
    if (type === undefined) return result;
    if (type !== 'complete') throw this.protocolError(`${method} answered an unknown resultType ${JSON.stringify(type)}`);
    delete result.resultType; // our own parse of the body: nobody else holds it
    return result;
  }

  /** One round trip: `_meta` and headers added, deadline and cancellation from the in-flight table. */
  private exchange(method: string, params: JsonObject | undefined, options: UpstreamRequestOptions | undefined): Promise<JsonObject> {
    const entry = new StatelessExchange(this);
    const promise = this.pending.open(entry, method, options, this.requestTimeoutMs);
    if (entry.settled) return promise;
    let body: string;
    try {
      body = this.serialize(entry.id, method, params);
    } catch (err) {
      this.pending.fail(entry, new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`params cannot be serialized: ${(err as Error).message}`]));
      return promise;
    }
    entry.tag = options?.tag;
    entry.principal = options?.principal;
    entry.headers = this.headersFor(method, params);
    this.sendRequest(entry, body);
    return promise;
  }

  /** The request's JSON with the gateway's `_meta` keys (they win over a client's own protocol keys). */
  private serialize(id: number | string, method: string, params: JsonObject | undefined): string {
    const head = `{"jsonrpc":"2.0","id":${typeof id === 'number' ? id : JSON.stringify(id)},"method":${JSON.stringify(method)},"params":`;
    if (params === undefined) return `${head}{"_meta":${this.metaJson}}}`;
    const meta = params._meta;
    if (meta === undefined) {
      // The common case: splice our `_meta` into the params' JSON, no object copies.
      const json = JSON.stringify(params);
      return json === '{}' ? `${head}{"_meta":${this.metaJson}}}` : `${head}{"_meta":${this.metaJson},${json.slice(1)}}`;
    }
    const merged = meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? { ...(meta as JsonObject), ...this.meta } : this.meta;
    return `${head}${JSON.stringify({ ...params, _meta: merged })}}`;
  }

  /** MCP-Protocol-Version, Mcp-Method, and Mcp-Name for the methods that route by name. */
  private headersFor(method: string, params: JsonObject | undefined): string[] {
    const nameParam = NAME_PARAM[method];
    if (nameParam !== undefined) {
      const name = params?.[nameParam];
      if (typeof name === 'string') return [...this.baseHeaders, 'mcp-method', method, 'mcp-name', encodeHeaderValue(name)];
    }
    let headers = this.methodHeaders.get(method);
    if (headers === undefined) {
      headers = [...this.baseHeaders, 'mcp-method', encodeHeaderValue(method)];
      if (this.methodHeaders.size < MAX_CACHED_METHODS) this.methodHeaders.set(method, headers);
    }
    return headers;
  }

  // ---- removed methods, answered here -----------------------------------------------------------

  private setLevel(params: JsonObject | undefined): JsonObject {
    const level = params?.level;
    if (typeof level !== 'string') throw new UpstreamRpcError(RpcCode.InvalidParams, 'logging/setLevel needs a string "level"');
    this.logLevel = level;
    this.meta = { ...this.meta, [META_LOG_LEVEL]: level };
    this.metaJson = JSON.stringify(this.meta);
    return {};
  }

  private subscribe(params: JsonObject | undefined, on: boolean): JsonObject {
    const uri = params?.uri;
    if (typeof uri !== 'string') throw new UpstreamRpcError(RpcCode.InvalidParams, `resources/${on ? '' : 'un'}subscribe needs a string "uri"`);
    if (on && !capability(this.info.capabilities, 'resources', 'subscribe')) throw new UpstreamRpcError(RpcCode.MethodNotFound, `${this.upstream} does not offer resource subscriptions`);
    if (on === this.subscriptions.has(uri)) return {};
    if (on) this.subscriptions.add(uri);
    else this.subscriptions.delete(uri);
    // Several subscribes in a row reopen the stream once.
    if (!this.listenDirty) {
      this.listenDirty = true;
      queueMicrotask(() => this.relisten());
    }
    return {};
  }

  // ---- the listen stream ------------------------------------------------------------------------

  /** (Re)open the listen stream for what is wanted now; closes the current one. */
  private relisten(): void {
    this.listenDirty = false;
    clearTimeout(this.listenTimer);
    this.listenTimer = undefined;
    this.listener?.stop();
    this.listener = undefined;
    if (this.isClosing) return;
    const caps = this.info.capabilities;
    const filter: JsonObject = {};
    for (const [key, cap] of LIST_CHANGED) if (capability(caps, cap, 'listChanged')) filter[key] = true;
    if (this.subscriptions.size > 0) filter.resourceSubscriptions = [...this.subscriptions];
    if (Object.keys(filter).length === 0) return;
    const id = `listen-${this.nextListenId++}`;
    this.listenOpens++;
    const listener = new ListenStream(this);
    this.listener = listener;
    const body = this.serialize(id, 'subscriptions/listen', { notifications: filter });
    const send = (own: HeaderList): void => {
      if (listener !== this.listener || this.isClosing) return;
      listener.sent = own;
      const listed = this.headersFor('subscriptions/listen', undefined);
      this.streamDispatcher().dispatch({ path: this.path, method: 'POST', headers: own.length === 0 ? listed : listed.concat(own), body }, listener);
    };
    const own = freshCredential(this.credentials);
    if (own instanceof Promise) own.then(send, noop);
    else send(own);
  }

  /** True while a listen stream is open and acknowledged (list_changed and resource updates can arrive). */
  get listening(): boolean {
    return this.listener?.acknowledged === true;
  }

  /** @internal the upstream acknowledged a listen stream: it is live. */
  listenAcknowledged(stream: ListenStream, granted: unknown): void {
    if (stream !== this.listener) return;
    stream.acknowledged = true;
    this.listenDelay = LISTEN_BACKOFF_MS;
    if (!this.listenGap) return;
    this.listenGap = false;
    if (granted === null || typeof granted !== 'object') return;
    // Changes made while the stream was down were never announced: say "changed" for what the stream covers,
    // so the catalog re-lists (a spurious re-list costs one list call; a missed one leaves clients stale).
    for (const [key, , method] of LIST_CHANGED) {
      if ((granted as JsonObject)[key] === true) this.deliverNotification({ jsonrpc: '2.0', method });
    }
  }

  /** @internal a listen stream ended; reopen after a backoff unless the upstream refused it. */
  listenEnded(stream: ListenStream, status: number, detail: string): void {
    if (stream !== this.listener || this.isClosing) return;
    this.listener = undefined;
    this.listenGap = true;
    // A refused token (expired while the stream was down) is replaced; the reopen below uses the new one.
    const refreshed = status === 401 && stream.sent.length > 0 && this.credentials?.rejected(undefined, stream.sent, undefined) !== false;
    if (!refreshed && status >= 400 && status < 500 && status !== 408 && status !== 429) {
      this.options.logger?.warn({ upstream: this.upstream, status, err: detail }, 'upstream refused subscriptions/listen; no list_changed from it');
      return;
    }
    const wait = this.listenDelay;
    this.listenDelay = Math.min(this.listenDelay * 2, LISTEN_MAX_BACKOFF_MS);
    this.listenTimer = setTimeout(() => this.relisten(), wait);
    this.listenTimer.unref();
  }

  /** @internal a notification from the listen stream, its subscription id removed. */
  deliverNotification(n: JsonRpcNotification): void {
    const params = n.params;
    const meta = params?._meta as JsonObject | undefined;
    if (meta !== null && typeof meta === 'object' && META_SUBSCRIPTION in meta) {
      delete meta[META_SUBSCRIPTION];
      if (Object.keys(meta).length === 0) {
        delete params!._meta;
        if (Object.keys(params!).length === 0) delete n.params;
      }
    }
    try {
      this.handlers.onNotification(n, undefined);
    } catch {}
  }

  /** The dispatcher of the long-lived listen stream, apart from the POST pool so it never takes a request's slot. */
  private streamDispatcher(): Pool {
    return (this.streams ??= new Pool(this.url.origin, poolOptions(this.options)));
  }
}

/**
 * One round trip (see `PostExchange`). Simpler than http.ts's exchange: no session, no resumption (a broken stream
 * loses the request in this revision), and 4xx answers carry the JSON-RPC error (400 -32602/-32020/-32021, 404
 * -32601), which is passed on as such. Closing the response stream is this revision's cancellation over HTTP.
 */
class StatelessExchange extends PostExchange<StatelessHttpConnection> {
  headers: string[] = [];

  protected resend(): void {
    this.conn.post(this);
  }

  protected refused(text: string): Error {
    const rpc = this.status === 400 || this.status === 404 ? rpcError(text) : undefined;
    return rpc ?? this.conn.unavailable(describeStatus(this.status, text));
  }

  protected unexpected(): Error {
    return this.conn.protocolError(`the answer to ${this.method} is neither JSON nor an event stream (HTTP ${this.status})`);
  }
}

/**
 * The `subscriptions/listen` stream: a POST whose SSE answer stays open. Its first message acknowledges the
 * subscription; then list_changed / resources/updated, each with the subscription id in `_meta`.
 */
class ListenStream extends EventStreamHandler {
  acknowledged = false;
  /** The credential it was opened with. */
  sent: HeaderList = NO_HEADERS;
  private readonly conn: StatelessHttpConnection;
  private error = '';

  constructor(conn: StatelessHttpConnection) {
    super();
    this.conn = conn;
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (this.live) this.parser.push(chunk);
    else if (this.error.length < MAX_ERROR_BODY) this.error += chunk.toString('utf8');
  }

  onResponseEnd(): void {
    this.ended();
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.error === '') this.error = describeNetError(err);
    this.ended();
  }

  private ended(): void {
    this.controller = null;
    if (this.live) this.parser.end();
    if (this.stopped) return;
    this.stopped = true;
    // A 200 that was not an event stream (a JSON error, say) is as final as a 4xx.
    const status = this.live || this.status === 0 ? 0 : this.status === 200 ? 400 : this.status;
    this.conn.listenEnded(this, status, this.error === '' ? `HTTP ${this.status}` : describeStatus(this.status, this.error));
  }

  protected event(type: string, data: string): void {
    if (this.stopped || type !== 'message' || data.length === 0) return;
    const parsed = parseEvent(this.conn, data);
    if (parsed === INVALID) return;
    const m = parsed as { id?: unknown; method?: unknown; params?: JsonObject } | null;
    if (m === null || typeof m !== 'object' || typeof m.method !== 'string' || 'id' in m) {
      // The final response of a graceful teardown ends the stream; anything else has no place here.
      if (m === null || typeof m !== 'object' || !('result' in m || 'error' in m)) this.conn.countInvalid();
      return;
    }
    if (m.params !== undefined && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params))) {
      this.conn.countInvalid();
      return;
    }
    if (m.method === 'notifications/subscriptions/acknowledged') {
      this.conn.listenAcknowledged(this, m.params?.notifications);
      return;
    }
    this.conn.deliverNotification(m as JsonRpcNotification);
  }
}

/** Open a 2026-07-28 upstream: `server/discover` within `timeouts.connect`, then the listen stream. */
export async function connectStateless(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions, connectTimeoutMs = config.timeouts.connect): Promise<StatelessHttpConnection> {
  const conn = new StatelessHttpConnection(name, config, handlers, options);
  await conn.open(connectTimeoutMs);
  return conn;
}

/**
 * Open a streamable-HTTP upstream in the revision it speaks. `protocol: auto` tries initialize (the session
 * revisions, what most servers speak: no extra round trip for them) and switches to 2026-07-28 when the upstream
 * refuses initialize listing that revision among those it supports (spec: a modern-only server SHOULD list its
 * versions in any error to initialize), or with -32022 (Unsupported protocol version) and no list at all — then
 * the switch is a guess, and if discovery fails too, the initialize error is what the operator sees.
 */
export async function connectStreamableHttp(name: string, config: HttpUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<BaseConnection> {
  if (config.protocol === STATELESS_PROTOCOL_VERSION) return connectStateless(name, config, handlers, options);
  const started = performance.now();
  const conn = new HttpConnection(name, config, handlers, options);
  let refused: unknown;
  try {
    await conn.open(config.timeouts.connect);
    return conn;
  } catch (err) {
    refused = err;
  }
  const refusal = conn.initializeRefusal;
  const listed = refusal?.supported?.includes(STATELESS_PROTOCOL_VERSION) === true;
  const guess = refusal?.code === UNSUPPORTED_PROTOCOL_VERSION && refusal.supported === undefined;
  if (config.protocol !== 'auto' || !(listed || guess)) throw refused;
  options.logger?.info({ upstream: name }, 'upstream refused initialize and may speak 2026-07-28: trying the stateless revision');
  const left = Math.max(1, Math.round(config.timeouts.connect - (performance.now() - started)));
  try {
    return await connectStateless(name, config, handlers, options, left);
  } catch (err) {
    throw guess ? refused : err;
  }
}

/** Check the discover result by hand (no schema parse): the fields the gateway relies on. */
export function parseDiscoverResult(upstream: string, result: JsonObject): UpstreamInfo {
  const versions = result.supportedVersions;
  if (Array.isArray(versions) && !versions.includes(STATELESS_PROTOCOL_VERSION)) {
    throw new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [upstream, `server/discover lists versions ${versions.join(', ')}; the gateway speaks ${STATELESS_PROTOCOL_VERSION} to it`]);
  }
  const caps = result.capabilities;
  if (caps !== undefined && (caps === null || typeof caps !== 'object' || Array.isArray(caps))) {
    throw new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [upstream, 'server/discover capabilities must be an object']);
  }
  // schema.ts puts the identity in `_meta`; a draft of server/discover.mdx has a top-level `serverInfo`.
  const meta = result._meta as JsonObject | undefined;
  const fromMeta = meta !== null && typeof meta === 'object' ? meta[META_SERVER] : undefined;
  const si = (isNamed(fromMeta) ? fromMeta : isNamed(result.serverInfo) ? result.serverInfo : undefined) as { name: string; version?: unknown; title?: unknown } | undefined;
  const serverInfo: UpstreamInfo['serverInfo'] = si ? { name: si.name, version: typeof si.version === 'string' ? si.version : '' } : { name: upstream, version: '' };
  if (si && typeof si.title === 'string') serverInfo.title = si.title;
  const info: UpstreamInfo = { protocolVersion: STATELESS_PROTOCOL_VERSION, capabilities: (caps as JsonObject | undefined) ?? {}, serverInfo };
  if (typeof result.instructions === 'string') info.instructions = result.instructions;
  return info;
}

/**
 * An HTTP field value per the revision's rule: plain when it is safe visible ASCII (tab allowed) without
 * leading/trailing whitespace and not itself sentinel-shaped, else `=?base64?<base64 of UTF-8>?=`.
 */
export function encodeHeaderValue(value: string): string {
  let plain = value.length > 0 && value.charCodeAt(0) > 0x20 && value.charCodeAt(value.length - 1) > 0x20;
  for (let i = 0; plain && i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09)) plain = false;
  }
  if (plain && !(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  return `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function isNamed(v: unknown): boolean {
  return v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string';
}

function capability(caps: JsonObject, name: string, flag: string): boolean {
  const c = caps[name];
  return c !== null && typeof c === 'object' && (c as JsonObject)[flag] === true;
}

/** The JSON-RPC error in a 4xx body, if it is one. */
function rpcError(body: string): UpstreamRpcError | undefined {
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown; data?: unknown } } | null)?.error;
    if (e && typeof e.code === 'number' && typeof e.message === 'string') return new UpstreamRpcError(e.code, e.message, e.data);
  } catch {}
  return undefined;
}

/** `promise`, unless the signal aborts or `ms` (0 = no limit) passes first. */
function bounded<T>(promise: Promise<T>, signal: AbortSignal | undefined, ms: number, timeout: () => Error): Promise<T> {
  if (signal === undefined && ms <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => finish(new GatehouseError('GH_ERR_REQUEST_CANCELLED'));
    const finish = (err: Error | undefined, value?: T): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(value as T);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (ms > 0) timer = setTimeout(() => finish(timeout()), ms);
    promise.then((v) => finish(undefined, v), (err: Error) => finish(err));
  });
}

