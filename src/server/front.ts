/**
 * What the HTTP front door needs from the rest of the gateway. The front turns bytes into JSON-RPC messages
 * and sessions; everything about tools and upstreams sits behind this interface.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonObject, JsonRpcNotification } from '../core/jsonrpc.ts';
import type { ClientInfo, DownstreamSession } from '../session/session.ts';
import type { Principal } from '../auth/principal.ts';
import type { Router } from '../catalog/router.ts';
import type { SessionRegistry } from '../session/registry.ts';
import type { OriginPolicy } from './guards.ts';
import type { ReplicaStatus } from '../upstream/replica-set.ts';
import type { StreamJournal } from './event-stream.ts';

export interface FrontOptions {
  /** Base path of the MCP endpoint (`/mcp`); virtual servers at `<path>/<name>`. */
  path: string;
  maxBodyBytes: number;
  resumeBuffer: number;
  legacySse: boolean;
  /** Serve GET /metrics. */
  metrics: boolean;
  /** Answer tools/call with an SSE stream (priming event, resumable) rather than plain JSON. */
  streamCalls: boolean;
  origin: OriginPolicy;
}

export interface Readiness {
  ready: boolean;
  /** Shared state (store.redis): while it is unreachable the gateway serves on, degraded, and says so here. */
  redis?: { url: string; status: string };
  upstreams: Record<string, { status: string; error?: string | null; replicas?: ReplicaStatus[] }>;
}

export interface Front {
  readonly options: FrontOptions;
  readonly sessions: SessionRegistry;
  readonly router: Router;
  /** True while SIGTERM drains: no new sessions. */
  readonly draining: boolean;
  hasVirtualServer(name: string): boolean;
  /** The initialize result for a new session of a virtual server. */
  initializeResult(virtualServer: string, revision: string): JsonObject;
  /** The 2026-07-28 server/discover result of a virtual server. */
  discoverResult(virtualServer: string): JsonObject;
  /** The principal a request speaks for (the identity stage); throws 401/403 GatehouseErrors. */
  authenticate(req: IncomingMessage, virtualServer: string): Promise<Principal>;
  readiness(): Readiness;
  /** Prometheus exposition of the gateway's metrics (GET /metrics). */
  exposeMetrics(): Promise<{ contentType: string; body: string }>;
  /** A new session id sealing what any replica needs to serve the session. */
  sealSession(fields: { principal: string; virtualServer: string; revision: string; clientInfo: ClientInfo; clientCapabilities: Record<string, unknown> }): string;
  /** The session an id seals, made live here when this replica does not hold it (undefined: not a valid id for them). */
  reopenSession(id: string, virtualServer: string, principal: Principal): DownstreamSession | undefined;
  /** Where streams' events are also written for other replicas (store.redis); null with one replica's memory only. */
  readonly streamJournal: StreamJournal | null;
  /** Resume a stream this replica does not hold from the shared journal; false when nobody knows it. */
  resumeStream?(session: DownstreamSession, streamId: string, afterSeq: number, res: ServerResponse): Promise<boolean>;
  /** The client ended the session (DELETE): it is closed here and its id is never served again. */
  endSession(id: string): void;
  /** The registry and admin APIs: serve `path` if it is theirs (null when it is not). */
  routePortal?(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> | null;
  /** Register a 2026-07-28 `subscriptions/listen` stream. */
  listen(context: DownstreamSession, id: string | number, filter: ListenFilter): Listener;
}

export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

export interface Listener {
  readonly virtualServer: string;
  readonly filter: ListenFilter;
  /** Set by the transport: sends one notification on the listen stream. */
  deliver: (n: JsonRpcNotification) => void;
  close(): void;
}
