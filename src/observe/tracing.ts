/**
 * OpenTelemetry traces of the request path (config `tracing`, off unless an OTLP endpoint is set). Every client
 * request is a SERVER span, a child of the trace context the client sent (`params._meta.traceparent`, SEP-414, or
 * else the HTTP `traceparent` header); guard stages and the audit write are INTERNAL spans under it, and every
 * attempt at an upstream is a CLIENT span whose context goes upstream in `params._meta` (all transports) and in
 * the `traceparent` / `tracestate` headers (HTTP transports). Names and attributes follow the OpenTelemetry
 * semantic conventions for MCP. Contexts are passed explicitly (no async-hooks context manager): the router
 * keeps each call's span on its CallContext.
 *
 * With tracing off there is no Tracing object at all and the hot path only tests for it; the client's own
 * trace context is then passed upstream untouched, so the gateway is invisible in the client's trace.
 */
import { createRequire } from 'node:module';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';

export type { Span } from '@opentelemetry/api';

export interface TracingConfig {
  /** OTLP/HTTP traces endpoint (JSON encoding), e.g. http://collector:4318/v1/traces; tracing is off without it. */
  endpoint?: string;
  /** Headers sent with every export (an API key of a hosted backend). */
  headers: Record<string, string>;
  serviceName: string;
  /** Fraction of new traces recorded; a client's sampled flag is followed either way (parent-based). */
  sampleRatio: number;
  /** Export timeout, ms. */
  exportTimeout: number;
}

/** W3C trace context as a client sent it (the HTTP headers of its POST). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The trace context headers of a request, or undefined when it carries none (the common case: no allocation). */
export function traceCarrierOf(headers: IncomingHttpHeaders): TraceCarrier | undefined {
  const parent = headers.traceparent;
  if (typeof parent !== 'string') return undefined;
  const state = headers.tracestate;
  return typeof state === 'string' ? { traceparent: parent, tracestate: state } : { traceparent: parent };
}

/** What goes upstream with one request: `_meta` keys for every transport, headers for HTTP ones. */
export interface Propagation {
  meta: { traceparent: string; tracestate?: string };
  headers: string[];
}

/**
 * The OpenTelemetry SDK, loaded when the first Tracing is made: about 30 MB that a gateway with tracing off never
 * pays. (The propagation helpers above need none of it.)
 */
interface Otel {
  api: typeof import('@opentelemetry/api');
  sdk: typeof import('@opentelemetry/sdk-trace');
  resources: typeof import('@opentelemetry/resources');
  exporter: typeof import('@opentelemetry/exporter-trace-otlp-http');
  propagator: W3CTraceContextPropagator;
}
const require = createRequire(import.meta.url);
let loaded: Otel | null = null;
function otel(): Otel {
  return (loaded ??= {
    api: require('@opentelemetry/api') as Otel['api'],
    sdk: require('@opentelemetry/sdk-trace') as Otel['sdk'],
    resources: require('@opentelemetry/resources') as Otel['resources'],
    exporter: require('@opentelemetry/exporter-trace-otlp-http') as Otel['exporter'],
    propagator: new (require('@opentelemetry/core') as typeof import('@opentelemetry/core')).W3CTraceContextPropagator(),
  });
}

/** The propagation of a context as the client sent it, for an untraced gateway (null when it sent none). */
export function passThrough(carrier: TraceCarrier | undefined, meta: JsonObject | undefined): Propagation | null {
  const parent = typeof meta?.traceparent === 'string' ? meta.traceparent : carrier?.traceparent;
  if (parent === undefined) return null;
  const state = typeof meta?.traceparent === 'string' ? (typeof meta.tracestate === 'string' ? meta.tracestate : undefined) : carrier?.tracestate;
  return state === undefined
    ? { meta: { traceparent: parent }, headers: ['traceparent', parent] }
    : { meta: { traceparent: parent, tracestate: state }, headers: ['traceparent', parent, 'tracestate', state] };
}

/** `params` with the propagation's `_meta` keys (a copy: the client's params are never changed). */
export function withTraceMeta(params: JsonObject | undefined, p: Propagation): JsonObject {
  const meta = params?._meta as JsonObject | undefined;
  return { ...params, _meta: { ...meta, ...p.meta } };
}

export interface RequestSpanInfo {
  method: string;
  /** Tool or prompt name, resource URI: what the request addresses. */
  target: string | undefined;
  sessionId: string;
  requestId: string | number;
  protocolVersion: string;
  virtualServer: string;
}

export class Tracing {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;

  /** A Tracing for `config`, or null when tracing is off. */
  static create(config: TracingConfig | undefined, logger?: Logger): Tracing | null {
    if (config?.endpoint === undefined) return null;
    const exporter = new (otel().exporter.OTLPTraceExporter)({ url: config.endpoint, headers: config.headers, timeoutMillis: config.exportTimeout });
    logger?.info({ endpoint: config.endpoint, sampleRatio: config.sampleRatio }, 'tracing: exporting spans over OTLP/HTTP');
    return new Tracing(config, exporter, false);
  }

  /** `immediate` exports each span as it ends (tests with an in-memory exporter); otherwise spans are batched. */
  constructor(config: Pick<TracingConfig, 'serviceName' | 'sampleRatio'>, exporter: SpanExporter, immediate = false) {
    const { sdk, resources } = otel();
    this.provider = new sdk.TracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': config.serviceName }),
      sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [immediate ? new sdk.SimpleSpanProcessor({ exporter }) : new sdk.BatchSpanProcessor({ exporter })],
    });
    this.tracer = this.provider.getTracer('gatehouse');
  }

  /** The SERVER span of one client request, under the client's context (`_meta` first, then the HTTP headers). */
  startRequest(info: RequestSpanInfo, carrier: TraceCarrier | undefined, meta: JsonObject | undefined): Span {
    const { api, propagator } = otel();
    let parent = api.ROOT_CONTEXT;
    if (typeof meta?.traceparent === 'string') parent = propagator.extract(api.ROOT_CONTEXT, meta, api.defaultTextMapGetter);
    else if (carrier !== undefined) parent = propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter);
    const attributes: Attributes = {
      'mcp.method.name': info.method,
      'mcp.session.id': info.sessionId,
      'mcp.protocol.version': info.protocolVersion,
      'jsonrpc.request.id': String(info.requestId),
      'gatehouse.virtual_server': info.virtualServer || 'default',
    };
    addTarget(attributes, info.method, info.target);
    const name = info.target === undefined ? info.method : `${info.method} ${info.target}`;
    return this.tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes }, parent);
  }

  /** An INTERNAL span under `parent` (a guard stage, the audit write, a meta-tool's inner call). */
  startChild(parent: Span, name: string, attributes?: Attributes): Span {
    return this.tracer.startSpan(name, { kind: otel().api.SpanKind.INTERNAL, attributes }, contextOf(parent));
  }

  /** The CLIENT span of one attempt at an upstream, and the context to send with it. */
  startUpstream(parent: Span, method: string, upstream: string, target: string | undefined, attempt: number): { span: Span; propagation: Propagation } {
    const attributes: Attributes = { 'mcp.method.name': method, 'gatehouse.upstream': upstream, 'gatehouse.attempt': attempt };
    addTarget(attributes, method, target);
    const { api, propagator } = otel();
    const span = this.tracer.startSpan(target === undefined ? method : `${method} ${target}`, { kind: api.SpanKind.CLIENT, attributes }, contextOf(parent));
    const carrier: TraceCarrier = {};
    propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), carrier, api.defaultTextMapSetter);
    const meta: Propagation['meta'] = { traceparent: carrier.traceparent! };
    const headers = ['traceparent', carrier.traceparent!];
    if (carrier.tracestate !== undefined) {
      meta.tracestate = carrier.tracestate;
      headers.push('tracestate', carrier.tracestate);
    }
    return { span, propagation: { meta, headers } };
  }

  /** End `span`; an error marks it failed with its type (the gateway's error code, or the JSON-RPC code). */
  static end(span: Span, err?: unknown): void {
    if (err !== undefined && err !== null) {
      const type = GatehouseError.is(err) ? err.code : err instanceof UpstreamRpcError ? String(err.rpcCode) : err instanceof Error ? err.name : 'error';
      span.setAttribute('error.type', type);
      span.setStatus({ code: otel().api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  }

  /** Export what has ended so far. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Flush and stop (gateway close). */
  close(): Promise<void> {
    return this.provider.shutdown();
  }
}

function contextOf(span: Span): Context {
  const { api } = otel();
  return api.trace.setSpan(api.ROOT_CONTEXT, span);
}

/** The semantic-convention attribute of what a request addresses. */
function addTarget(attributes: Attributes, method: string, target: string | undefined): void {
  if (target === undefined) return;
  if (method === 'tools/call') {
    attributes['gen_ai.tool.name'] = target;
    attributes['gen_ai.operation.name'] = 'execute_tool';
  } else if (method === 'prompts/get') attributes['gen_ai.prompt.name'] = target;
  else if (method.startsWith('resources/')) attributes['mcp.resource.uri'] = target;
}
