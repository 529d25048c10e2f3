/**
 * What every upstream transport shares: the MCP initialize handshake, request/notify on top of the in-flight
 * table, routing of what the upstream sends (responses, notifications, server->client requests, ping), and the
 * close/retire lifecycle. A transport only says how bytes leave (`sendRequest`, `send`) and calls `receive`.
 */
import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import type { UserOAuth } from '../auth/user-oauth.ts';
import { GatehouseError, UpstreamRpcError, toRpcError } from '../core/errors.ts';
import type { JsonObject, JsonRpcId, JsonRpcRequest } from '../core/jsonrpc.ts';
import { validateEnvelope } from '../core/jsonrpc.ts';
import { notDelivered } from './delivery.ts';
import { PendingRequest, PendingTable } from './pending.ts';
import type { UpstreamConnection, UpstreamHandlers, UpstreamInfo, UpstreamRequestOptions } from './types.ts';

/** The revision the gateway asks for in initialize. */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';
/** Revisions the gateway accepts in an upstream's initialize result. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

/** What every `connectXxx` needs besides the upstream's own config. */
export interface ConnectOptions {
  /** Client capabilities the gateway declares upstream, e.g. `{ sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } }`. */
  capabilities: JsonObject;
  /** The gateway's version, sent as `clientInfo.version`. */
  clientVersion: string;
  /** Lifecycle events only (start, exit, reconnect); never one line per message. */
  logger?: Logger;
  /** The gateway's per-user credential vault, for upstreams with `auth: { type: oauth, approval: user }`. */
  userOAuth?: UserOAuth;
  /** The principal id a per-user connection belongs to: its own messages (initialize, GET stream) act for them. */
  owner?: string;
  /** Name resolution for HTTP upstreams: the allowlist's guard against dialling link-local or private addresses. */
  lookup?: LookupFunction;
}

/** undici options every HTTP upstream pool shares: no undici timeouts (ours apply), and the guarded lookup. */
export function poolOptions(options: ConnectOptions, connections?: number): { connections?: number; headersTimeout: 0; bodyTimeout: 0; connect?: { lookup: LookupFunction } } {
  return {
    ...(connections !== undefined && { connections }),
    headersTimeout: 0,
    bodyTimeout: 0,
    ...(options.lookup && { connect: { lookup: options.lookup } }),
  };
}

/** Counters a connection keeps for the pool and for operators. */
export interface ConnectionCounters {
  /** Requests in flight now. */
  readonly inflight: number;
  /** Requests issued since the connection opened. */
  readonly issued: number;
  /** Messages that were not valid JSON-RPC (non-JSON stdout lines, bad envelopes). */
  readonly invalidMessages: number;
  /** Responses whose id matched no request in flight. */
  readonly unmatchedResponses: number;
}

const OPEN = 0;
const RETIRING = 1;
const CLOSING = 2;
const CLOSED = 3;

const EMPTY_RESULT = '{}';

export abstract class BaseConnection implements UpstreamConnection, ConnectionCounters {
  readonly upstream: string;
  info: UpstreamInfo = { protocolVersion: '', capabilities: {}, serverInfo: { name: '', version: '' } };
  invalidMessages = 0;
  unmatchedResponses = 0;
  protected readonly handlers: UpstreamHandlers;
  protected readonly options: ConnectOptions;
  protected readonly pending: PendingTable;
  protected readonly requestTimeoutMs: number;
  /** Said after the upstream's name when in-flight requests fail because the connection ended ("exited with code 1"). */
  protected closeDetail = '';
  private state = OPEN;
  private established = false;
  private closeNotified = false;
  private closing: Promise<void> | undefined;

  constructor(upstream: string, handlers: UpstreamHandlers, options: ConnectOptions, requestTimeoutMs: number) {
    this.upstream = upstream;
    this.handlers = handlers;
    this.options = options;
    this.requestTimeoutMs = requestTimeoutMs;
    this.pending = new PendingTable(upstream, (id, reason) => {
      if (this.state < CLOSING) this.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":${id},"reason":${JSON.stringify(reason)}}}`).catch(noop);
    });
  }

  /** True once the connection takes no new work: closed, closing, or retiring (draining for a replacement). */
  get closed(): boolean {
    return this.state !== OPEN;
  }

  get inflight(): number {
    return this.pending.size;
  }

  get issued(): number {
    return this.pending.issued;
  }

  request(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<JsonObject> {
    if (this.state >= CLOSING) return Promise.reject(notDelivered(this.closedError()));
    const entry = this.newEntry();
    const promise = this.pending.open(entry, method, options, this.requestTimeoutMs);
    if (entry.settled) return promise;
    let body: string;
    try {
      body = params === undefined
        ? `{"jsonrpc":"2.0","id":${entry.id},"method":${JSON.stringify(method)}}`
        : `{"jsonrpc":"2.0","id":${entry.id},"method":${JSON.stringify(method)},"params":${JSON.stringify(params)}}`;
    } catch (err) {
      this.pending.fail(entry, new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`params cannot be serialized: ${(err as Error).message}`]));
      return promise;
    }
    this.sendRequest(entry, body, options?.tag);
    return promise;
  }

  notify(method: string, params?: JsonObject): Promise<void> {
    if (this.state >= CLOSING) return Promise.reject(this.closedError());
    let body: string;
    try {
      body = params === undefined
        ? `{"jsonrpc":"2.0","method":${JSON.stringify(method)}}`
        : `{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${JSON.stringify(params)}}`;
    } catch (err) {
      return Promise.reject(new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`params cannot be serialized: ${(err as Error).message}`]));
    }
    return this.send(body);
  }

  /** Resolves when no request is in flight. */
  drained(): Promise<void> {
    return this.pending.drained();
  }

  /**
   * Stop taking new work (`closed` turns true so callers that cache the connection acquire a fresh one), let the
   * requests in flight finish, then close. Requests that still arrive meanwhile are served.
   */
  async retire(): Promise<void> {
    if (this.state !== OPEN) {
      if (this.state === RETIRING) await this.pending.drained();
      return this.close();
    }
    this.state = RETIRING;
    await this.pending.drained();
    return this.close();
  }

  /** Close gracefully; idempotent. Transports implement `shutdown` and call `connectionLost` when gone. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state === CLOSED) return this.whenClosed(); // it ended on its own
    this.state = CLOSING;
    this.pending.failAll(this.closedError());
    this.closing = this.shutdown().catch(noop).then(() => this.connectionLost(undefined));
    return this.closing;
  }

  /** The transport's request path: deliver `body` (a serialized request) or `pending.fail(entry, …)`. */
  protected abstract sendRequest(entry: PendingRequest, body: string, tag: unknown): void;
  /** Deliver a notification or a response to a server request. */
  protected abstract send(body: string): Promise<void>;
  /** Start the transport (spawn, open the stream) before initialize. */
  protected abstract start(): Promise<void>;
  /** End the transport (kill the process group, DELETE the session); resolves when it is gone. */
  protected abstract shutdown(): Promise<void>;
  /** Resolves when the transport is gone after a close began. */
  protected abstract whenClosed(): Promise<void>;

  /** A fresh in-flight entry; HTTP returns its own subclass (the entry is its dispatch handler). */
  protected newEntry(): PendingRequest {
    return new PendingRequest();
  }

  /** Extra words for a start failure (stdio: the stderr tail). */
  protected startFailureDetail(): string {
    return '';
  }

  /** Called with the initialize result before `notifications/initialized` is sent. */
  protected onInitialized(_info: UpstreamInfo): void {}

  /**
   * Start, initialize and send `notifications/initialized`, all within `connectTimeoutMs`. On failure the
   * transport is closed (the process group killed) and the error names the upstream and the cause.
   */
  async open(connectTimeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StartTimeout()), connectTimeoutMs);
    });
    try {
      await Promise.race([this.start().then(() => this.initialize()), deadline]);
      this.established = true;
    } catch (err) {
      clearTimeout(timer);
      await this.close().catch(noop);
      throw this.startError(err, connectTimeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run the initialize handshake (also used by HTTP to re-initialize an expired session). */
  protected async initialize(): Promise<void> {
    const result = await this.request('initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: this.options.capabilities,
      clientInfo: { name: 'gatehouse', version: this.options.clientVersion },
    }, { timeoutMs: 0 });
    this.info = parseInitializeResult(this.upstream, result);
    this.onInitialized(this.info);
    await this.notify('notifications/initialized');
  }

  /**
   * Route one decoded value from the upstream. Never throws: garbage is counted and dropped.
   * `tag` is the request whose stream carried it (streamable HTTP), else undefined.
   */
  protected receive(value: unknown, tag: unknown): void {
    if (Array.isArray(value)) {
      // JSON-RPC batches (2025-03-26 allowed servers to send them).
      for (let i = 0; i < value.length; i++) this.receiveOne(value[i], tag);
      return;
    }
    this.receiveOne(value, tag);
  }

  /** The transport is gone: fail what is in flight, tell the owner once (error undefined when we closed it). */
  protected connectionLost(error: Error | undefined): void {
    if (this.closeNotified) return;
    const unexpected = this.state < CLOSING;
    this.state = CLOSED;
    this.closeNotified = true;
    this.pending.failAll(this.closedError());
    if (!this.established) return;
    if (unexpected && error !== undefined) this.options.logger?.warn({ upstream: this.upstream, err: error.message }, 'upstream connection lost');
    try {
      this.handlers.onClose(unexpected ? error : undefined);
    } catch {}
  }

  protected get isClosing(): boolean {
    return this.state >= CLOSING;
  }

  protected closedError(): GatehouseError {
    const name = this.closeDetail === '' ? this.upstream : `${this.upstream} (${this.closeDetail})`;
    return new GatehouseError('GH_ERR_UPSTREAM_CLOSED', [name], { upstream: this.upstream });
  }

  private receiveOne(value: unknown, tag: unknown): void {
    const m = validateEnvelope(value);
    if (typeof m === 'string') {
      this.invalidMessages++;
      // A JSON-RPC 2.0 answer to a request in flight whose result or error is malformed fails that request now,
      // rather than at its deadline (other invalid lines are only counted: some servers log to stdout).
      const v = value as { jsonrpc?: unknown; id?: unknown; method?: unknown; result?: unknown; error?: unknown } | null;
      const answer = v !== null && typeof v === 'object' && v.jsonrpc === '2.0' && v.method === undefined && ('result' in v || 'error' in v);
      const entry = answer ? this.pending.get(v.id) : undefined;
      if (entry !== undefined) this.pending.fail(entry, new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [this.upstream, `the answer to ${entry.method} is not valid JSON-RPC: ${m}`], { upstream: this.upstream }));
      return;
    }
    if ('method' in m) {
      if ('id' in m && m.id !== undefined) {
        this.serve(m, tag);
        return;
      }
      try {
        this.handlers.onNotification(m, tag);
      } catch {}
      return;
    }
    if (!this.pending.settle(m)) this.unmatchedResponses++;
  }

  private serve(request: JsonRpcRequest, tag: unknown): void {
    const id = request.id;
    if (request.method === 'ping') {
      this.reply(id, EMPTY_RESULT);
      return;
    }
    let answer: Promise<JsonObject>;
    try {
      answer = this.handlers.onRequest(request, tag);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (result) => {
        let json: string;
        try {
          json = JSON.stringify(result);
        } catch (err) {
          this.replyError(id, err);
          return;
        }
        this.reply(id, json);
      },
      (err: unknown) => this.replyError(id, err),
    );
  }

  private reply(id: JsonRpcId, resultJson: string): void {
    if (this.state >= CLOSING) return;
    this.send(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`).catch(noop);
  }

  private replyError(id: JsonRpcId, err: unknown): void {
    if (this.state >= CLOSING) return;
    let error: string;
    try {
      error = JSON.stringify(toRpcError(err));
    } catch {
      error = '{"code":-32603,"message":"Internal error"}';
    }
    this.send(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":${error}}`).catch(noop);
  }

  private startError(err: unknown, connectTimeoutMs: number): GatehouseError {
    const detail = this.startFailureDetail();
    let cause: string;
    if (err instanceof StartTimeout) cause = `no answer to initialize within ${connectTimeoutMs} ms`;
    else if (GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CLOSED') cause = this.closeDetail === '' ? 'closed before initialize completed' : `${this.closeDetail} before initialize completed`;
    else if (GatehouseError.is(err)) {
      if (detail === '') return err;
      cause = err.message;
    } else if (err instanceof UpstreamRpcError) cause = `initialize failed: ${err.message} (${err.rpcCode})`;
    else cause = err instanceof Error ? err.message : String(err);
    return new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.upstream, detail === '' ? cause : `${cause}; ${detail}`], { upstream: this.upstream });
  }
}

class StartTimeout extends Error {}

/** Check the initialize result by hand (no schema parse): the fields the gateway relies on. */
export function parseInitializeResult(upstream: string, result: JsonObject): UpstreamInfo {
  const version = result.protocolVersion;
  if (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [upstream, `initialize answered protocol version ${JSON.stringify(version)}; the gateway supports ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`]);
  }
  const caps = result.capabilities;
  if (caps !== undefined && (caps === null || typeof caps !== 'object' || Array.isArray(caps))) {
    throw new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [upstream, 'initialize result capabilities must be an object']);
  }
  const si = result.serverInfo as Record<string, unknown> | undefined;
  const serverInfo: UpstreamInfo['serverInfo'] = si !== null && typeof si === 'object' && typeof si.name === 'string'
    ? { name: si.name, version: typeof si.version === 'string' ? si.version : '' }
    : { name: upstream, version: '' };
  if (si && typeof si.title === 'string') serverInfo.title = si.title;
  const info: UpstreamInfo = { protocolVersion: version, capabilities: (caps as JsonObject | undefined) ?? {}, serverInfo };
  if (typeof result.instructions === 'string') info.instructions = result.instructions;
  return info;
}

function noop(): void {}
