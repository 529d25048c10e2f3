/**
 * The router: serves one downstream request against a virtual server's view. Lists come from the view's
 * cache; calls are mapped to (upstream, original name) and forwarded on the session's upstream connection
 * with the gateway's own progress token; upstream notifications and server->client requests are routed back
 * to the downstream session they belong to.
 */
import { GatehouseError, httpReplyOf, toRpcError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '../core/jsonrpc.ts';
import { RpcCode, success } from '../core/jsonrpc.ts';
import { LocalReply, rejectionOf } from '../core/stage.ts';
import type { Pipeline, StageContext, StageFinding, StageTracer } from '../core/stage.ts';
import type { AuditEntry } from '../observe/audit.ts';
import type { GatewayMetrics, RequestOutcome } from '../observe/metrics.ts';
import { Tracing, passThrough, withTraceMeta } from '../observe/tracing.ts';
import type { Span, TraceCarrier } from '../observe/tracing.ts';
import type { CallContext, DownstreamSession } from '../session/session.ts';
import type { Exchange } from '../server/exchange.ts';
import type { UpstreamConnection, UpstreamRequestOptions } from '../upstream/types.ts';
import { undelivered } from '../upstream/delivery.ts';
import { replicaFailed } from '../upstream/replica-set.ts';
import type { View } from './view.ts';
import type { QuarantinedDef } from './catalog.ts';
import { quarantineText } from '../guard/pinning.ts';
import type { QuarantineReason } from '../guard/pinning.ts';
import { InputRequests } from './input-requests.ts';
import type { Logger } from 'pino';

/** An upstream's replicas as the router sees them (src/upstream/replica-set.ts). */
export interface ConnectionSource {
  /** The session's connection: its replica while that one takes requests, else another, preferring none in `tried`. */
  acquire(ctx: { sessionId: string; principal: string }, tried?: ReadonlySet<UpstreamConnection>): Promise<UpstreamConnection>;
  release(sessionId: string): void;
  /** Send one request on `conn`, admitted and accounted by its replica (breaker, concurrency limit, metrics). */
  request(conn: UpstreamConnection, method: string, params: JsonObject | undefined, options: UpstreamRequestOptions): Promise<JsonObject>;
  /** False once `conn`'s replica is out of rotation: the session moves to another one. */
  usable(conn: UpstreamConnection): boolean;
  /** session-affinity keeps a session on its replica; the other strategies pick per request. */
  readonly affine: boolean;
  /** Further attempts a request safe to repeat may make after a replica failed it. */
  readonly retryAttempts: number;
  /** Tools (the upstream's names) the config marks safe to repeat. */
  idempotent(tool: string): boolean;
  countRetry(method: string): void;
  countFailover(): void;
  /** The replica that owns `conn` (host:port, or a stdio copy's number), for trace attributes. */
  replicaOf?(conn: UpstreamConnection): string | undefined;
}

export interface RouterDeps {
  view(virtualServer: string): View | undefined;
  pipeline(virtualServer: string): Pipeline | null;
  pool(upstream: string): ConnectionSource | undefined;
  sessions(): Iterable<DownstreamSession>;
  /** Deadline of a request to an upstream (per tool when configured). */
  requestTimeout(upstream: string, tool?: string): number;
  /** Items per page of the gateway's own lists (0 = everything in one page). */
  pageSize: number;
  /** Called after an upstream said list_changed: re-list it (the gateway then notifies sessions). */
  refreshCatalog(upstream: string, conn: UpstreamConnection, kind: 'tools' | 'resources' | 'prompts'): void;
  /** A resource changed upstream: 2026-07-28 listen streams that asked for it are told. */
  resourceUpdated(uri: string, n: JsonRpcNotification): void;
  /** A tools/list page was served to a session (`all`: the view's whole list, before stages): token accounting. */
  toolsListed?(session: DownstreamSession, served: readonly JsonObject[], all: readonly JsonObject[]): void;
  /**
   * The audit log (issue 4): a call of a method it `wants` (denials included) is appended, and the router answers only
   * once `append` resolved — an answered call is durable in the log. A rejected append withholds the result
   * (GH_ERR_AUDIT_UNAVAILABLE): fail closed.
   */
  audit?: { wants(method: string): boolean; append(entry: AuditEntry): Promise<unknown> };
  /** Request metrics; absent with `server.metrics: false`, and then nothing is recorded. */
  metrics?: GatewayMetrics;
  /** A client's response to a request this replica did not send (replicas hand it to the one that did). */
  unclaimedResponse?(session: DownstreamSession, response: JsonRpcResponse): void;
  /** Logs one debug line per answered call (session, request id, outcome, trace id) when debug is enabled. */
  logger?: Logger;
  /** Spans of the request path; absent when tracing is off (the client's trace context then passes through). */
  tracing?: Tracing;
}

type Handler = (ctx: CallContext, params: JsonObject | undefined, view: View) => Promise<JsonObject> | JsonObject;

/** Requests whose 2026-07-28 answer may be `input_required`. */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** Forwarded methods that change nothing upstream, or change it the same way twice: failover may repeat them. */
const REPEATABLE = new Set(['prompts/get', 'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'completion/complete', 'logging/setLevel', 'ping']);

/** Below this much of its deadline left, a failed request is not tried again. */
const MIN_RETRY_MS = 50;

export class Router {
  private readonly deps: RouterDeps;
  private readonly handlers = new Map<string, Handler>();
  /** Gateway progress token -> the call it belongs to. */
  private readonly progress = new Map<string, CallContext>();
  private nextToken = 0;
  /** In-flight calls per upstream connection, oldest first: attributes untagged upstream messages. */
  private readonly inflightByConn = new Map<UpstreamConnection, Set<CallContext>>();
  /** Server->client requests forwarded to a client, by upstream connection and upstream id: for cancellation. */
  private readonly relayed = new WeakMap<UpstreamConnection, Map<string | number, AbortController>>();

  /** Findings stages reported per call (StageContext.addFinding), for its audit record. */
  private readonly findings = new WeakMap<CallContext, StageFinding[]>();
  /** Calls a stage answered itself (meta-tools): their tool name is one the gateway defines, fit for a metric label. */
  private readonly answeredLocally = new WeakSet<CallContext>();

  /** Client requests being served, and who waits for that to reach zero (drain on SIGTERM). */
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  /** 2026-07-28 clients take server->client requests as `input_required` results (multi round-trip requests). */
  readonly inputs = new InputRequests();

  constructor(deps: RouterDeps) {
    this.deps = deps;
    const h = this.handlers;
    h.set('ping', () => ({}));
    h.set('tools/list', (ctx, p, v) => this.list(ctx, p, v, 'tools', v.tools));
    h.set('prompts/list', (ctx, p, v) => this.list(ctx, p, v, 'prompts', v.prompts));
    h.set('resources/list', (ctx, p, v) => this.list(ctx, p, v, 'resources', v.resources));
    h.set('resources/templates/list', (ctx, p, v) => this.list(ctx, p, v, 'resourceTemplates', v.resourceTemplates));
    h.set('tools/call', (ctx, p, v) => this.callTool(ctx, p, v));
    h.set('prompts/get', (ctx, p, v) => this.getPrompt(ctx, p, v));
    h.set('resources/read', (ctx, p, v) => this.byUri(ctx, p, v, 'resources/read'));
    h.set('resources/subscribe', (ctx, p, v) => this.subscribe(ctx, p, v, true));
    h.set('resources/unsubscribe', (ctx, p, v) => this.subscribe(ctx, p, v, false));
    h.set('completion/complete', (ctx, p, v) => this.complete(ctx, p, v));
    h.set('logging/setLevel', (ctx, p, v) => this.setLevel(ctx, p, v));
  }

  /**
   * Serve one client request; the answer goes out through `exchange`. Never throws. `trace` is the W3C trace context
   * of the HTTP request that carried it, if any (`params._meta` may carry the request's own).
   */
  handleRequest(session: DownstreamSession, request: JsonRpcRequest, exchange: Exchange, trace?: TraceCarrier): void {
    if (!session.stateful && this.inputs.resume(session, request, exchange)) return;
    const ctx: CallContext = {
      session,
      requestId: request.id,
      method: request.method,
      exchange,
      abort: new AbortController(),
      connection: null,
      progressToken: undefined,
      upstreamProgressToken: undefined,
      attributed: false,
      startedAt: performance.now(),
      upstreamMs: 0,
      trace,
      span: undefined,
    };
    const tracing = this.deps.tracing;
    if (tracing !== undefined) {
      const info = { method: request.method, target: targetOf(request.method, request.params), sessionId: session.id, requestId: request.id, protocolVersion: session.revision, virtualServer: session.virtualServer };
      ctx.span = tracing.startRequest(info, trace, request.params?._meta as JsonObject | undefined);
    }
    session.inFlight.set(request.id, ctx);
    this.active++;
    this.deps.metrics?.requestStarted(session.virtualServer);
    const params = request.params;
    this.dispatch(ctx, params).then(
      (result) => this.finish(ctx, success(ctx.requestId, result), params, result, null),
      (err) => this.finish(ctx, { jsonrpc: '2.0', id: ctx.requestId, error: toRpcError(err) }, params, undefined, err),
    );
  }

  /** Resolves when no client request is being served. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Answer a call — for an audited method only once its record is durable (still counted active until then, for drain). */
  private finish(ctx: CallContext, response: JsonRpcResponse, params: JsonObject | undefined, result: JsonObject | undefined, err: unknown): void {
    const audit = this.deps.audit;
    if (audit === undefined || !audit.wants(ctx.method)) return this.respond(ctx, response, params, result, err);
    // A refusal with its own HTTP status must not lose it to a stream opening while its record is written.
    if ('error' in response && httpReplyOf(response.error) !== undefined) ctx.exchange.hold?.();
    const span = ctx.span?.isRecording() === true ? this.deps.tracing?.startChild(ctx.span, 'gatehouse.audit') : undefined;
    audit.append(this.auditEntry(ctx, params, result, err)).then(
      () => {
        if (span !== undefined) Tracing.end(span);
        this.respond(ctx, response, params, result, err);
      },
      (auditErr: unknown) => {
        if (span !== undefined) Tracing.end(span, auditErr);
        const failure = new GatehouseError('GH_ERR_AUDIT_UNAVAILABLE');
        this.respond(ctx, { jsonrpc: '2.0', id: ctx.requestId, error: toRpcError(failure) }, params, undefined, failure);
      },
    );
  }

  private respond(ctx: CallContext, response: JsonRpcResponse, params: JsonObject | undefined, result: JsonObject | undefined, err: unknown): void {
    if (--this.active === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
    const { session } = ctx;
    if (session.inFlight.get(ctx.requestId) === ctx) session.inFlight.delete(ctx.requestId);
    if (ctx.upstreamProgressToken !== undefined) this.progress.delete(ctx.upstreamProgressToken);
    const metrics = this.deps.metrics;
    // Before the answer goes out: a client that scrapes /metrics after its answer sees its call counted.
    if (metrics !== undefined) {
      metrics.requestEnded(session.virtualServer);
      this.observe(metrics, ctx, params, result, err);
    }
    if (ctx.span !== undefined) endCall(ctx.span, ctx, result, err);
    // One line per call at debug level only: nothing per message at info on the hot path.
    const logger = this.deps.logger;
    if (logger?.isLevelEnabled('debug') === true) {
      logger.debug({
        session: session.id, request: ctx.requestId, method: ctx.method, target: targetOf(ctx.method, params), upstream: ctx.connection?.upstream,
        outcome: outcomeOf(ctx, result, err), ms: Math.round(performance.now() - ctx.startedAt), traceId: ctx.span?.spanContext().traceId,
      }, 'request served');
    }
    ctx.exchange.respond(response);
  }

  /**
   * Count and time a finished call. Labels stay bounded: `tool` is a name the view routes (or a stage answered: a
   * meta-tool), never a client's unknown name; resources are never labelled by URI; unknown methods are `other`.
   */
  private observe(metrics: GatewayMetrics, ctx: CallContext, params: JsonObject | undefined, result: JsonObject | undefined, err: unknown): void {
    const vs = ctx.session.virtualServer;
    let upstream = ctx.connection?.upstream ?? '';
    let tool = '';
    const name = params?.name;
    if ((ctx.method === 'tools/call' || ctx.method === 'prompts/get') && typeof name === 'string') {
      const view = this.deps.view(vs);
      const route = ctx.method === 'tools/call' ? view?.toolRoutes.get(name) : view?.promptRoutes.get(name);
      if (route !== undefined) {
        upstream = route.upstream;
        tool = name;
      } else if (this.answeredLocally.has(ctx)) tool = name;
    }
    const seconds = (performance.now() - ctx.startedAt) / 1000;
    metrics.observeRequest(this.handlers.has(ctx.method) ? ctx.method : 'other', vs, upstream, tool, outcomeOf(ctx, result, err), seconds, ctx.upstreamMs / 1000);
  }

  private async dispatch(ctx: CallContext, params: JsonObject | undefined): Promise<JsonObject> {
    const handler = this.handlers.get(ctx.method);
    if (!handler) throw new GatehouseError('GH_ERR_RPC_METHOD_NOT_FOUND', [ctx.method]);
    const view = this.deps.view(ctx.session.virtualServer);
    if (!view) throw new GatehouseError('GH_ERR_SESSION_NOT_FOUND');
    const pipeline = this.deps.pipeline(ctx.session.virtualServer);
    if (pipeline === null || (pipeline.onRequest === null && pipeline.onResponse === null)) return handler(ctx, params, view);
    const stage = this.stageContext(ctx, view, params, pipeline);
    if (pipeline.onRequest) {
      const outcome = await pipeline.onRequest(stage, params);
      if (outcome instanceof LocalReply) {
        this.answeredLocally.add(ctx);
        return outcome.result;
      }
      params = outcome;
    }
    let result = await handler(ctx, params, view);
    if (pipeline.onResponse) result = await pipeline.onResponse(stage, result);
    return result;
  }

  /** A notification from the client. */
  handleNotification(session: DownstreamSession, n: JsonRpcNotification): void {
    switch (n.method) {
      case 'notifications/cancelled': {
        const id = n.params?.requestId;
        if (typeof id === 'string' || typeof id === 'number') session.inFlight.get(id)?.abort.abort();
        return;
      }
      case 'notifications/roots/list_changed':
        for (const conn of session.connections.values()) conn.notify('notifications/roots/list_changed').catch(() => {});
        return;
      default:
        return; // initialized, progress of a client-side task, ...: nothing to do
    }
  }

  /** A response from the client to a request the gateway relayed. */
  handleResponse(session: DownstreamSession, response: JsonRpcResponse): void {
    // Not ours: the request may be another replica's (a sampling answer POSTed here). It is handed over.
    if (!session.resolveClientResponse(response)) this.deps.unclaimedResponse?.(session, response);
  }

  // ---- lists -------------------------------------------------------------------------------------

  private list(ctx: CallContext, params: JsonObject | undefined, view: View, key: string, items: readonly JsonObject[]): JsonObject {
    const pipeline = this.deps.pipeline(ctx.session.virtualServer);
    if (pipeline?.onList) items = pipeline.onList(this.stageContext(ctx, view, params, pipeline), key, items);
    const size = this.deps.pageSize;
    const cursor = params?.cursor;
    if (cursor === undefined && (size <= 0 || items.length <= size)) {
      if (key === 'tools') this.deps.toolsListed?.(ctx.session, items, view.tools);
      return { [key]: items };
    }
    let offset = 0;
    if (cursor !== undefined) {
      offset = typeof cursor === 'string' ? decodeCursor(cursor) : -1;
      if (offset < 0 || offset > items.length) throw new GatehouseError('GH_ERR_CURSOR_INVALID', [String(cursor)]);
    }
    const end = size <= 0 ? items.length : Math.min(items.length, offset + size);
    const page = items.slice(offset, end);
    if (key === 'tools') this.deps.toolsListed?.(ctx.session, page, view.tools);
    const result: JsonObject = { [key]: page };
    if (end < items.length) result.nextCursor = encodeCursor(end);
    return result;
  }

  // ---- calls -------------------------------------------------------------------------------------

  private callTool(ctx: CallContext, params: JsonObject | undefined, view: View): Promise<JsonObject> {
    const name = params?.name;
    if (typeof name !== 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['tools/call needs a string "name"']);
    const route = view.toolRoutes.get(name);
    if (!route) throw notFound('tool', name, view.quarantine.tools, 'GH_ERR_TOOL_NOT_FOUND');
    let args = params!.arguments;
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['tools/call "arguments" must be an object']);
    }
    if (route.fixed || route.defaults) args = { ...route.defaults, ...(args as JsonObject | undefined), ...route.fixed };
    const upstreamParams: JsonObject = { name: route.original };
    if (args !== undefined) upstreamParams.arguments = args;
    if (params!._meta !== undefined) upstreamParams._meta = params!._meta;
    const repeatable = route.repeatable || this.deps.pool(route.upstream)?.idempotent(route.original) === true;
    return this.forward(ctx, route.upstream, 'tools/call', upstreamParams, route.original, repeatable);
  }

  private getPrompt(ctx: CallContext, params: JsonObject | undefined, view: View): Promise<JsonObject> {
    const name = params?.name;
    if (typeof name !== 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['prompts/get needs a string "name"']);
    const route = view.promptRoutes.get(name);
    if (!route) throw notFound('prompt', name, view.quarantine.prompts, 'GH_ERR_PROMPT_NOT_FOUND');
    return this.forward(ctx, route.upstream, 'prompts/get', { ...params, name: route.original });
  }

  private byUri(ctx: CallContext, params: JsonObject | undefined, view: View, method: string): Promise<JsonObject> {
    const uri = params?.uri;
    if (typeof uri !== 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`${method} needs a string "uri"`]);
    if (view.quarantine.resources.has(uri)) throw notFound('resource', uri, view.quarantine.resources, 'GH_ERR_RESOURCE_NOT_FOUND');
    const upstream = resourceUpstream(view, uri);
    if (!upstream) throw new GatehouseError('GH_ERR_RESOURCE_NOT_FOUND', [uri]);
    return this.forward(ctx, upstream, method, params);
  }

  private async subscribe(ctx: CallContext, params: JsonObject | undefined, view: View, on: boolean): Promise<JsonObject> {
    const uri = params?.uri;
    if (typeof uri !== 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`resources/${on ? '' : 'un'}subscribe needs a string "uri"`]);
    const upstream = resourceUpstream(view, uri);
    if (!upstream) throw new GatehouseError('GH_ERR_RESOURCE_NOT_FOUND', [uri]);
    if (on) {
      await this.forward(ctx, upstream, 'resources/subscribe', params);
      ctx.session.subscriptions.add(uri);
      return {};
    }
    ctx.session.subscriptions.delete(uri);
    // Other sessions sharing the upstream connection may still want updates for this URI.
    const conn = ctx.session.connections.get(upstream);
    for (const s of this.deps.sessions()) {
      if (s !== ctx.session && s.subscriptions.has(uri) && s.connections.get(upstream) === conn) return {};
    }
    return this.forward(ctx, upstream, 'resources/unsubscribe', params);
  }

  private complete(ctx: CallContext, params: JsonObject | undefined, view: View): Promise<JsonObject> {
    const ref = params?.ref as JsonObject | undefined;
    if (!ref || typeof ref !== 'object') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['completion/complete needs a "ref"']);
    if (ref.type === 'ref/prompt' && typeof ref.name === 'string') {
      const route = view.promptRoutes.get(ref.name);
      if (!route) throw new GatehouseError('GH_ERR_PROMPT_NOT_FOUND', [ref.name]);
      return this.forward(ctx, route.upstream, 'completion/complete', { ...params, ref: { ...ref, name: route.original } });
    }
    if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
      const t = view.templateRoutes.find((r) => r.uriTemplate === ref.uri);
      const upstream = t?.upstream ?? resourceUpstream(view, ref.uri);
      if (!upstream) throw new GatehouseError('GH_ERR_RESOURCE_NOT_FOUND', [ref.uri]);
      return this.forward(ctx, upstream, 'completion/complete', params);
    }
    throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['ref must be {type:"ref/prompt", name} or {type:"ref/resource", uri}']);
  }

  private async setLevel(ctx: CallContext, params: JsonObject | undefined, view: View): Promise<JsonObject> {
    const level = params?.level;
    if (typeof level !== 'string' || !LOG_LEVELS.includes(level)) {
      throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', [`level must be one of ${LOG_LEVELS.join(', ')}`]);
    }
    ctx.session.logLevel = level;
    // Upstreams filter at the lowest level any session wants; the gateway filters per session.
    await Promise.all(
      view.upstreams.map(async (u) => {
        const conn = await this.connection(ctx.session, u).catch(() => null);
        if (conn && conn.info.capabilities.logging !== undefined) await conn.request('logging/setLevel', { level: this.lowestLevel(conn, level) }).catch(() => {});
      }),
    );
    return {};
  }

  private lowestLevel(conn: UpstreamConnection, fallback: string): string {
    let lowest = LOG_LEVELS.indexOf(fallback);
    for (const s of this.deps.sessions()) {
      if (s.logLevel && [...s.connections.values()].includes(conn)) lowest = Math.min(lowest, LOG_LEVELS.indexOf(s.logLevel));
    }
    return LOG_LEVELS[lowest];
  }

  /**
   * Send a request upstream on behalf of a client call. When the replica fails it (connection lost or refused, HTTP
   * 5xx, garbage), a request safe to repeat is sent again — to another replica when there is one — within the call's
   * deadline; one that is not safe to repeat is sent again only if it provably never arrived, and otherwise fails
   * with GH_ERR_UPSTREAM_OUTCOME_UNKNOWN: the gateway never runs a tools/call twice behind the caller's back.
   */
  private async forward(ctx: CallContext, upstream: string, method: string, params: JsonObject | undefined, tool?: string, repeatable = REPEATABLE.has(method)): Promise<JsonObject> {
    const source = this.deps.pool(upstream);
    if (!source) throw new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [upstream, 'it is not configured']);
    const meta = params?._meta as JsonObject | undefined;
    if (meta && meta.progressToken !== undefined) {
      const token = `gh${this.nextToken++}`;
      ctx.progressToken = meta.progressToken as string | number;
      ctx.upstreamProgressToken = token;
      this.progress.set(token, ctx);
      params = { ...params, _meta: { ...meta, progressToken: token } };
    }
    const tracing = ctx.span === undefined ? undefined : this.deps.tracing;
    // Untraced, the client's context goes upstream as it came (the HTTP header's also in `_meta`, for every transport).
    const passed = tracing === undefined && ctx.trace !== undefined ? passThrough(ctx.trace, meta) : null;
    if (passed !== null && typeof meta?.traceparent !== 'string') params = withTraceMeta(params, passed);
    // Subscriptions and the log level live on the session's own connection; calls follow the balancer.
    const home = source.affine || method === 'resources/subscribe' || method === 'resources/unsubscribe' || method === 'logging/setLevel';
    const deadline = performance.now() + this.deps.requestTimeout(upstream, tool);
    let tried: Set<UpstreamConnection> | undefined;
    for (let attempt = 0; ; attempt++) {
      const conn = home
        ? await this.connection(ctx.session, upstream, tried)
        : await source.acquire({ sessionId: ctx.session.id, principal: ctx.session.principal.id }, tried);
      ctx.connection = conn;
      let calls = this.inflightByConn.get(conn);
      if (!calls) this.inflightByConn.set(conn, (calls = new Set()));
      calls.add(ctx);
      let span: Span | undefined;
      let propagation = passed;
      if (tracing !== undefined) {
        ({ span, propagation } = tracing.startUpstream(ctx.span!, method, upstream, tool ?? targetOf(method, params), attempt));
        const replica = source.replicaOf?.(conn);
        if (replica !== undefined) span.setAttribute('gatehouse.replica', replica);
      }
      try {
        // Rounded up: the first attempt's deadline is the configured one (a message says "within 800 ms", not 799).
        const timeoutMs = Math.max(1, Math.ceil(deadline - performance.now()));
        const options: UpstreamRequestOptions = { signal: ctx.abort.signal, timeoutMs, tag: ctx, principal: ctx.session.principal };
        if (propagation !== null) options.traceHeaders = propagation.headers;
        const sent = performance.now();
        try {
          const result = await source.request(conn, method, span === undefined ? params : withTraceMeta(params, propagation!), options);
          if (span !== undefined) Tracing.end(span);
          return result;
        } finally {
          ctx.upstreamMs += performance.now() - sent;
        }
      } catch (err) {
        if (span !== undefined) Tracing.end(span, err);
        if (!replicaFailed(err) || ctx.abort.signal.aborted) throw err;
        const arrived = !undelivered(err);
        // A timeout already says what happened and spent the deadline.
        if (arrived && !repeatable && (err as GatehouseError).code !== 'GH_ERR_UPSTREAM_TIMEOUT') {
          const what = tool === undefined ? method : `${method} ${tool}`;
          throw new GatehouseError('GH_ERR_UPSTREAM_OUTCOME_UNKNOWN', [upstream, what, (err as Error).message], { upstream, cause: (err as Error).message });
        }
        if (attempt >= source.retryAttempts || deadline - performance.now() < MIN_RETRY_MS) throw err;
        (tried ??= new Set()).add(conn);
        source.countRetry(method);
      } finally {
        calls.delete(ctx);
        if (calls.size === 0) this.inflightByConn.delete(conn);
      }
    }
  }

  /**
   * The session's connection to an upstream, acquired from the pool on first use. When the session has to move
   * (its replica is out of rotation, its process restarted), the new connection gets what the session had set up on
   * the old one: its resource subscriptions and its log level.
   */
  async connection(session: DownstreamSession, upstream: string, tried?: ReadonlySet<UpstreamConnection>): Promise<UpstreamConnection> {
    const pool = this.deps.pool(upstream);
    if (!pool) throw new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [upstream, 'it is not configured']);
    const existing = session.connections.get(upstream);
    if (existing && !existing.closed && pool.usable(existing) && tried?.has(existing) !== true) return existing;
    const conn = await pool.acquire({ sessionId: session.id, principal: session.principal.id }, tried);
    if (session.closed) return conn;
    session.connections.set(upstream, conn);
    if (existing !== undefined && existing !== conn) {
      pool.countFailover();
      await this.restore(session, upstream, conn);
    }
    return conn;
  }

  private subscribesTo(session: DownstreamSession, upstream: string): boolean {
    if (session.subscriptions.size === 0) return false;
    const view = this.deps.view(session.virtualServer);
    if (view === undefined) return false;
    for (const uri of session.subscriptions) if (resourceUpstream(view, uri) === upstream) return true;
    return false;
  }

  /** Subscribe the session's resources of `upstream` again on its new connection, and set its log level there. */
  private async restore(session: DownstreamSession, upstream: string, conn: UpstreamConnection): Promise<void> {
    const view = this.deps.view(session.virtualServer);
    const timeoutMs = this.deps.requestTimeout(upstream);
    const work: Promise<unknown>[] = [];
    if (view !== undefined) {
      for (const uri of session.subscriptions) {
        if (resourceUpstream(view, uri) === upstream) work.push(conn.request('resources/subscribe', { uri }, { timeoutMs }).catch(() => {}));
      }
    }
    if (session.logLevel && conn.info.capabilities.logging !== undefined) {
      work.push(conn.request('logging/setLevel', { level: this.lowestLevel(conn, session.logLevel) }, { timeoutMs }).catch(() => {}));
    }
    await Promise.all(work);
  }

  // ---- upstream -> client ------------------------------------------------------------------------

  onUpstreamNotification(upstream: string, conn: UpstreamConnection, n: JsonRpcNotification, tag: unknown): void {
    const params = n.params;
    switch (n.method) {
      case 'notifications/progress': {
        const ctx = typeof params?.progressToken === 'string' ? this.progress.get(params.progressToken) : undefined;
        if (ctx) ctx.exchange.related({ jsonrpc: '2.0', method: n.method, params: { ...params, progressToken: ctx.progressToken } });
        return;
      }
      case 'notifications/message': {
        const ctx = (tag as CallContext | undefined) ?? this.attribute(conn, false);
        if (ctx) {
          if (levelPasses(ctx.session, params)) deliver(ctx, n);
          return;
        }
        for (const s of this.sessionsOn(upstream, conn)) if (levelPasses(s, params)) s.push(n);
        return;
      }
      case 'notifications/tools/list_changed':
        return this.deps.refreshCatalog(upstream, conn, 'tools');
      case 'notifications/resources/list_changed':
        return this.deps.refreshCatalog(upstream, conn, 'resources');
      case 'notifications/prompts/list_changed':
        return this.deps.refreshCatalog(upstream, conn, 'prompts');
      case 'notifications/resources/updated': {
        const uri = params?.uri;
        if (typeof uri !== 'string') return;
        for (const s of this.sessionsOn(upstream, conn)) if (s.subscriptions.has(uri)) s.push(n);
        this.deps.resourceUpdated(uri, n);
        return;
      }
      case 'notifications/cancelled': {
        const id = params?.requestId;
        if (typeof id === 'string' || typeof id === 'number') this.relayed.get(conn)?.get(id)?.abort();
        return;
      }
      default: {
        // Anything else related to a call goes with it; unrelated notifications are not forwarded.
        const ctx = tag as CallContext | undefined;
        if (ctx) deliver(ctx, n);
      }
    }
  }

  async onUpstreamRequest(upstream: string, conn: UpstreamConnection, r: JsonRpcRequest, tag: unknown): Promise<JsonObject> {
    if (r.method === 'ping') return {};
    const capability = r.method === 'sampling/createMessage' ? 'sampling' : r.method === 'elicitation/create' ? 'elicitation' : r.method === 'roots/list' ? 'roots' : null;
    const ctx = (tag as CallContext | undefined) ?? this.attribute(conn, true, capability);
    const session = ctx?.session ?? this.soleSession(upstream, conn);
    if (!session) throw new UpstreamRpcError(RpcCode.InternalError, `no client session of the gateway is waiting on ${upstream}; cannot relay ${r.method}`);
    if (capability && !session.supports(capability)) {
      throw new GatehouseError('GH_ERR_CLIENT_CAPABILITY', [capability]);
    }
    if (!session.stateful) {
      if (!ctx || !MRTR_METHODS.has(ctx.method)) throw new UpstreamRpcError(RpcCode.MethodNotFound, `the client speaks a stateless protocol revision and cannot take ${r.method} here`);
      return this.inputs.ask(ctx, r.method, r.params, this.deps.requestTimeout(upstream));
    }
    const abort = new AbortController();
    let relayed = this.relayed.get(conn);
    if (!relayed) this.relayed.set(conn, (relayed = new Map()));
    relayed.set(r.id, abort);
    const onCallAbort = () => abort.abort();
    ctx?.abort.signal.addEventListener('abort', onCallAbort, { once: true });
    try {
      return await session.requestClient(r.method, r.params, ctx?.exchange ?? null, this.deps.requestTimeout(upstream), abort.signal);
    } finally {
      relayed.delete(r.id);
      ctx?.abort.signal.removeEventListener('abort', onCallAbort);
    }
  }

  private stageContext(ctx: CallContext, view: View, params: JsonObject | undefined, pipeline: Pipeline): StageContext {
    return stageContext(this, ctx, view, params, pipeline, this.deps.tracing);
  }

  /** A stage serving a request by another one (a meta-tool calling the real tool): same session, full pipeline. */
  nested(parent: CallContext, method: string, params: JsonObject | undefined): Promise<JsonObject> {
    const ctx: CallContext = { ...parent, method, connection: null, progressToken: undefined, upstreamProgressToken: undefined, attributed: false, startedAt: performance.now(), upstreamMs: 0 };
    const target = targetOf(method, params);
    if (parent.span !== undefined) ctx.span = this.deps.tracing?.startChild(parent.span, target === undefined ? method : `${method} ${target}`, { 'mcp.method.name': method });
    const audit = this.deps.audit;
    const metrics = this.deps.metrics;
    if ((audit === undefined || !audit.wants(method)) && metrics === undefined && ctx.span === undefined) return this.dispatch(ctx, params);
    return this.settleNested(parent, ctx, params, metrics, audit !== undefined && audit.wants(method) ? audit : undefined);
  }

  /**
   * The end of a nested call: the real call gets its own audit record, durable before the meta-tool's answer (which
   * has one too) goes out; it is counted under its own method and tool (not in flight: its client request already
   * is); and its upstream wait is the parent's too, so the meta-tool's gateway overhead excludes it.
   */
  private async settleNested(parent: CallContext, ctx: CallContext, params: JsonObject | undefined, metrics: GatewayMetrics | undefined, audit: RouterDeps['audit']): Promise<JsonObject> {
    let result: JsonObject | undefined;
    let err: unknown = null;
    let failed = false;
    try {
      result = await this.dispatch(ctx, params);
    } catch (e) {
      failed = true;
      err = e;
    }
    if (audit !== undefined) {
      try {
        await audit.append(this.auditEntry(ctx, params, result, err));
      } catch {
        failed = true;
        err = new GatehouseError('GH_ERR_AUDIT_UNAVAILABLE');
        result = undefined;
      }
    }
    parent.upstreamMs += ctx.upstreamMs;
    if (metrics !== undefined) this.observe(metrics, ctx, params, result, err);
    if (ctx.span !== undefined) endCall(ctx.span, ctx, result, failed ? err : null);
    if (failed) throw err;
    return result!;
  }

  /** What the audit log records of a finished call: who, where, which target, the client's arguments, how it ended. */
  private auditEntry(ctx: CallContext, params: JsonObject | undefined, result: JsonObject | undefined, err: unknown): AuditEntry {
    const latencyMs = performance.now() - ctx.startedAt;
    const view = this.deps.view(ctx.session.virtualServer);
    const key = ctx.method === 'resources/read' ? params?.uri : params?.name;
    const target = typeof key === 'string' ? key : null;
    let upstream: string | null = null;
    if (view !== undefined && target !== null) {
      if (ctx.method === 'tools/call') upstream = view.toolRoutes.get(target)?.upstream ?? null;
      else if (ctx.method === 'prompts/get') upstream = view.promptRoutes.get(target)?.upstream ?? null;
      else upstream = resourceUpstream(view, target) ?? null;
    }
    const rejection = err === null ? null : rejectionOf(err);
    let outcome: AuditEntry['outcome'] = 'ok';
    let errorCode: string | null = null;
    let error: string | null = null;
    if (err !== null) {
      outcome = rejection !== null ? 'denied' : 'error';
      errorCode = GatehouseError.is(err) ? err.code : err instanceof UpstreamRpcError ? String(err.rpcCode) : 'internal';
      error = err instanceof Error ? err.message : String(err);
    } else if (result?.isError === true) {
      outcome = 'error';
      errorCode = 'tool-error';
    }
    return {
      principal: ctx.session.principal.id,
      session: ctx.session.stateful ? ctx.session.id : null,
      virtualServer: ctx.session.virtualServer,
      upstream,
      method: ctx.method,
      target,
      requestId: ctx.requestId,
      // The client's arguments, before defaults and fixed values were merged in; a resource's URI is its target.
      arguments: ctx.method === 'resources/read' ? undefined : params?.arguments,
      decision: rejection === null ? undefined : { allowed: false, stage: rejection.stage, rule: rejection.rule, phase: rejection.phase },
      findings: this.findings.get(ctx),
      startedAt: Date.now() - latencyMs,
      latencyMs,
      outcome,
      errorCode,
      error,
    };
  }

  /** A stage's finding about a call, kept for its audit record. */
  addFinding(ctx: CallContext, finding: StageFinding): void {
    const list = this.findings.get(ctx);
    if (list) list.push(finding);
    else this.findings.set(ctx, [finding]);
  }

  /** The closed connection stays in its sessions' maps: their next request sees it closed, moves, and restores. */
  /** An upstream connection closed; `error` is set when it was lost rather than closed by the gateway. */
  onUpstreamClose(upstream: string, conn: UpstreamConnection, error?: Error): void {
    this.inflightByConn.delete(conn);
    if (error !== undefined) this.moveListeners(upstream);
  }

  /**
   * Move the sessions that listen on `upstream` (resource subscriptions, a log level) off connections that are
   * closed or whose replica left rotation: their notifications must not wait for a request of theirs to move them.
   */
  moveListeners(upstream: string): void {
    const pool = this.deps.pool(upstream);
    if (pool === undefined) return;
    for (const session of this.deps.sessions()) {
      const conn = session.connections.get(upstream);
      if (session.closed || conn === undefined || (!conn.closed && pool.usable(conn))) continue;
      if (!session.logLevel && !this.subscribesTo(session, upstream)) continue;
      this.connection(session, upstream).catch(() => {}); // no replica now: its next request moves it
    }
  }

  /** The session ended: give its connections back to their pools. */
  releaseSession(session: DownstreamSession): void {
    this.deps.pipeline(session.virtualServer)?.onSessionEnd?.(session.id);
    for (const upstream of session.connections.keys()) this.deps.pool(upstream)?.release(session.id);
    session.connections.clear();
  }

  /**
   * The call an untagged upstream message belongs to. stdio and legacy SSE carry no per-request stream, so
   * with one call in flight it is that call; with several, a server->client request goes to the oldest call
   * that has not had one yet (upstreams raise them in the order calls arrive). Use `sharing: per-session`
   * for upstreams that need exact attribution under concurrency.
   */
  private attribute(conn: UpstreamConnection, claim: boolean, capability: string | null = null): CallContext | undefined {
    const calls = this.inflightByConn.get(conn);
    if (!calls || calls.size === 0) return undefined;
    let first: CallContext | undefined;
    for (const c of calls) {
      // A call whose client cannot answer this kind of request did not raise it.
      if (capability !== null && calls.size > 1 && !c.session.supports(capability)) continue;
      first ??= c;
      // Claim even a lone call: a second call arriving while its request is out must not take the next one.
      if (claim && !c.attributed) {
        c.attributed = true;
        return c;
      }
      if (calls.size === 1) return c;
    }
    return claim ? first : undefined;
  }

  private *sessionsOn(upstream: string, conn: UpstreamConnection): Iterable<DownstreamSession> {
    for (const s of this.deps.sessions()) if (s.connections.get(upstream) === conn) yield s;
  }

  private soleSession(upstream: string, conn: UpstreamConnection): DownstreamSession | undefined {
    let found: DownstreamSession | undefined;
    for (const s of this.sessionsOn(upstream, conn)) {
      if (found) return undefined;
      found = s;
    }
    return found;
  }
}

function deliver(ctx: CallContext, message: JsonRpcNotification): void {
  if (ctx.exchange.open) ctx.exchange.related(message);
  else ctx.session.push(message);
}

function levelPasses(session: DownstreamSession, params: JsonObject | undefined): boolean {
  if (!session.logLevel) return true;
  const level = typeof params?.level === 'string' ? LOG_LEVELS.indexOf(params.level) : -1;
  return level < 0 || level >= LOG_LEVELS.indexOf(session.logLevel);
}

function resourceUpstream(view: View, uri: string): string | undefined {
  const direct = view.resourceRoutes.get(uri);
  if (direct) return direct;
  for (const t of view.templateRoutes) if (t.pattern.test(uri)) return t.upstream;
  return view.upstreams.length === 1 ? view.upstreams[0] : undefined;
}

/** What the guard stages see of a request: who asks, on which virtual server, for what, served by whom. */
function stageContext(router: Router, ctx: CallContext, view: View, params: JsonObject | undefined, pipeline: Pipeline, tracing: Tracing | undefined): StageContext {
  let target: string | null = null;
  let upstream: string | null = null;
  let original: string | null = null;
  if (ctx.method === 'tools/call' || ctx.method === 'prompts/get') {
    target = typeof params?.name === 'string' ? params.name : null;
    const route = target === null ? undefined : ctx.method === 'tools/call' ? view.toolRoutes.get(target) : view.promptRoutes.get(target);
    if (route) ({ upstream, original } = route);
  } else if (ctx.method === 'resources/read' || ctx.method === 'resources/subscribe' || ctx.method === 'resources/unsubscribe') {
    target = typeof params?.uri === 'string' ? params.uri : null;
    upstream = target === null ? null : (resourceUpstream(view, target) ?? null);
    original = target;
  }
  return {
    method: ctx.method,
    sessionId: ctx.session.id,
    requestId: ctx.requestId,
    principal: ctx.session.principal,
    virtualServer: ctx.session.virtualServer,
    target,
    upstream,
    original,
    upstreamOf(kind, item) {
      if (kind === 'tools') return view.toolRoutes.get(item.name as string)?.upstream ?? null;
      if (kind === 'prompts') return view.promptRoutes.get(item.name as string)?.upstream ?? null;
      if (kind === 'resources') return view.resourceRoutes.get(item.uri as string) ?? null;
      if (kind === 'resourceTemplates') return view.templateRoutes.find((t) => t.uriTemplate === item.uriTemplate)?.upstream ?? null;
      return null;
    },
    listBefore(stage, kind) {
      const items = (view as unknown as Record<string, readonly JsonObject[]>)[kind] ?? [];
      return pipeline.listBefore(stage, this, kind, items);
    },
    dispatch: (method, nested) => router.nested(ctx, method, nested),
    notify(method, notifyParams) {
      ctx.session.push(notifyParams === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params: notifyParams });
    },
    addFinding: (finding) => router.addFinding(ctx, finding),
    ...(ctx.span?.isRecording() === true && tracing !== undefined && { tracer: stageTracer(tracing, ctx.span) }),
  };
}

/** Spans for the stages of a traced call: `gatehouse.stage <name>`, with the phase and the verdict. */
function stageTracer(tracing: Tracing, parent: Span): StageTracer {
  return {
    start(stage, phase) {
      const span = tracing.startChild(parent, `gatehouse.stage ${stage}`, { 'gatehouse.stage': stage, 'gatehouse.stage.phase': phase });
      return {
        end(verdict, err) {
          span.setAttribute('gatehouse.stage.verdict', verdict);
          Tracing.end(span, err);
        },
      };
    },
  };
}

/** End a call's span: its error, or a tool result that reports one (`error.type` tool_error, per the MCP conventions). */
function endCall(span: Span, ctx: CallContext, result: JsonObject | undefined, err: unknown): void {
  if (err === null && result?.isError === true) span.setAttribute('error.type', 'tool_error');
  const upstream = ctx.connection?.upstream;
  if (upstream !== undefined) span.setAttribute('gatehouse.upstream', upstream);
  Tracing.end(span, err);
}

/** How a call ended, for metrics and logs. */
function outcomeOf(ctx: CallContext, result: JsonObject | undefined, err: unknown): RequestOutcome {
  if (err !== null) {
    const cancelled = ctx.abort.signal.aborted || (GatehouseError.is(err) && err.code === 'GH_ERR_REQUEST_CANCELLED');
    return rejectionOf(err) !== null ? 'denied' : cancelled ? 'cancelled' : 'error';
  }
  return result?.isError === true ? 'tool_error' : 'ok';
}

/** What a request addresses, for span names: a tool or prompt name, a resource URI. */
function targetOf(method: string, params: JsonObject | undefined): string | undefined {
  if (method === 'tools/call' || method === 'prompts/get') return typeof params?.name === 'string' ? params.name : undefined;
  if (method === 'resources/read' || method === 'resources/subscribe' || method === 'resources/unsubscribe') return typeof params?.uri === 'string' ? params.uri : undefined;
  return undefined;
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!text.startsWith('o:')) return -1;
  const n = Number(text.slice(2));
  return Number.isSafeInteger(n) ? n : -1;
}

/** A target the view does not route: quarantined (say so, and why), or unknown. */
function notFound(what: string, name: string, quarantine: ReadonlyMap<string, QuarantinedDef>, unknown: 'GH_ERR_TOOL_NOT_FOUND' | 'GH_ERR_PROMPT_NOT_FOUND' | 'GH_ERR_RESOURCE_NOT_FOUND'): GatehouseError {
  const q = quarantine.get(name);
  if (q === undefined) return new GatehouseError(unknown, [name]);
  return new GatehouseError('GH_ERR_QUARANTINED', [what, name, quarantineText(q.reason as QuarantineReason)], { approval: q.approval, reason: q.reason });
}
