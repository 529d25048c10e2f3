/**
 * The contract between the router and the upstream pool. A transport (stdio, streamable HTTP, legacy SSE)
 * implements `UpstreamConnection`; the pool hands the router a connection per (upstream, downstream session)
 * according to the upstream's sharing policy. The router never sees processes, sockets or upstream ids.
 */
import type { Principal } from '../auth/principal.ts';
import type { JsonObject, JsonRpcId, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';

/** What an upstream said about itself in its initialize result. */
export interface UpstreamInfo {
  protocolVersion: string;
  capabilities: JsonObject;
  serverInfo: { name: string; version: string; title?: string };
  instructions?: string;
}

/** Options of one request sent to an upstream. */
export interface UpstreamRequestOptions {
  /** Aborting sends notifications/cancelled upstream and rejects with GH_ERR_REQUEST_CANCELLED. */
  signal?: AbortSignal;
  /** Rejects with GH_ERR_UPSTREAM_TIMEOUT after this many ms. */
  timeoutMs?: number;
  /** Opaque tag the connection passes back with any server->client request or notification the upstream
   *  sends on this request's own stream (streamable HTTP), so the router can attribute it exactly. */
  tag?: unknown;
  /** Who the request is made for: upstreams whose `auth` acts for the caller (token-exchange, passthrough) pick
   *  their credential by it. Absent for the gateway's own requests (initialize, catalog lists). */
  principal?: Principal;
  /** W3C trace context headers (`traceparent`, `tracestate`, as name/value pairs) sent with the request by the
   *  HTTP transports; the router puts the same context in `params._meta`. */
  traceHeaders?: readonly string[];
}

/** Callbacks a connection raises for messages that are not responses to the gateway's requests. */
export interface UpstreamHandlers {
  /** A notification (progress, list_changed, resources/updated, message, cancelled). `tag` is set when the
   *  transport knows which request's stream carried it (streamable HTTP POST streams). */
  onNotification(notification: JsonRpcNotification, tag: unknown): void;
  /** A server->client request (sampling/createMessage, elicitation/create, roots/list, ping). Resolve with the
   *  result or reject (GatehouseError / UpstreamRpcError) and the connection answers the upstream. */
  onRequest(request: JsonRpcRequest, tag: unknown): Promise<JsonObject>;
  /** The connection is gone (process exit, stream closed, fatal protocol error). In-flight requests have
   *  already been rejected with GH_ERR_UPSTREAM_CLOSED. */
  onClose(error?: Error): void;
}

/** One live, initialized MCP session with an upstream. */
export interface UpstreamConnection {
  readonly upstream: string;
  readonly info: UpstreamInfo;
  /** Send a request; resolves with the result object or rejects with UpstreamRpcError / GatehouseError. */
  request(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<JsonObject>;
  /** Send a notification (cancelled, progress of a server request, roots/list_changed, ...). */
  notify(method: string, params?: JsonObject): Promise<void>;
  /** Close gracefully (DELETE the upstream session, end the process group). Idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Used by transports: the ids of a gateway->upstream request are the transport's own. */
export type UpstreamRequestId = JsonRpcId;
