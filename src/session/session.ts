/**
 * A downstream session: what the gateway knows about one client connection — its protocol revision,
 * capabilities, principal and virtual server — plus the live plumbing for it: the standalone stream for
 * messages not tied to a request, resumable streams, requests the gateway sent to the client, and the
 * upstream connections it uses.
 */
import type { JsonObject, JsonRpcId, JsonRpcResponse } from '../core/jsonrpc.ts';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import { createHash, randomBytes } from 'node:crypto';
import { EventStream } from '../server/event-stream.ts';
import { digest } from './revoked.ts';
import type { StreamJournal } from '../server/event-stream.ts';
import type { Exchange, StreamRegistry } from '../server/exchange.ts';
import type { UpstreamConnection } from '../upstream/types.ts';
import type { Principal } from '../auth/principal.ts';
import type { Span, TraceCarrier } from '../observe/tracing.ts';

export interface ClientInfo {
  name: string;
  version: string;
  [key: string]: unknown;
}

/** One client request being served: where its related messages go and how to cancel it. */
export interface CallContext {
  readonly session: DownstreamSession;
  /** The id and exchange the answer goes to; a 2026-07-28 retry that carries input responses takes them over. */
  requestId: JsonRpcId;
  readonly method: string;
  exchange: Exchange;
  readonly abort: AbortController;
  /** The connection serving it, once routed (used to attribute untagged upstream messages). */
  connection: UpstreamConnection | null;
  /** The client's progress token and the gateway's replacement sent upstream. */
  progressToken: string | number | undefined;
  upstreamProgressToken: string | undefined;
  /** Set once an untagged server->client request was attributed to this call. */
  attributed: boolean;
  readonly startedAt: number;
  /** Milliseconds spent waiting on upstream requests so far: the rest of the call's time is the gateway's own. */
  upstreamMs: number;
  /** The trace context of the HTTP request that carried the call (its `traceparent` header), if any. */
  readonly trace: TraceCarrier | undefined;
  /** The call's span when tracing is on (src/observe/tracing.ts). */
  span: Span | undefined;
}

/** Random per process: stream ids of one session made on different replicas never collide. */
const PROCESS_TAG = randomBytes(3).toString('hex');

/** A stream's name in the shared journal: the session (hashed: ids are long) and the stream. */
export function journalKey(sessionId: string, streamId: string): string {
  return `${createHash('sha256').update(sessionId).digest('base64url').slice(0, 22)}:${streamId}`;
}

interface PendingClientRequest {
  resolve(result: JsonObject): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const MAX_STREAMS = 64;

export class DownstreamSession implements StreamRegistry {
  readonly id: string;
  revision: string;
  readonly virtualServer: string;
  readonly principal: Principal;
  clientInfo: ClientInfo;
  clientCapabilities: JsonObject;
  /** False for 2026-07-28 request contexts, which live for one request only. */
  readonly stateful: boolean;
  /** The legacy HTTP+SSE transport sends everything over one stream. */
  readonly legacy: boolean;
  readonly resumeCapacity: number;
  lastActive = Date.now();
  closed = false;
  logLevel: string | null = null;
  /** Token accounting (src/optimizer/token-count.ts): tools/list answers served to this session and their tokens. */
  toolsLists = 0;
  toolsListTokens = 0;

  /** Messages not related to a request (list_changed, resources/updated, unattributed server requests). */
  readonly standalone: EventStream;
  readonly inFlight = new Map<JsonRpcId, CallContext>();
  readonly subscriptions = new Set<string>();
  /** Upstream connections this session acquired, by upstream name. */
  readonly connections = new Map<string, UpstreamConnection>();
  private readonly streams = new Map<string, EventStream>();
  private readonly pending = new Map<JsonRpcId, PendingClientRequest>();
  private nextStream = 0;
  private nextRequest = 0;
  private readonly journal: StreamJournal | null;
  #digest: string | undefined;

  constructor(init: {
    id: string;
    revision: string;
    virtualServer: string;
    principal: Principal;
    clientInfo: ClientInfo;
    clientCapabilities: JsonObject;
    stateful: boolean;
    legacy?: boolean;
    resumeCapacity: number;
    /** Replicas share stream events (store.redis): a client may resume a stream on another replica. */
    journal?: StreamJournal | null;
  }) {
    this.id = init.id;
    this.revision = init.revision;
    this.virtualServer = init.virtualServer;
    this.principal = init.principal;
    this.clientInfo = init.clientInfo;
    this.clientCapabilities = init.clientCapabilities;
    this.stateful = init.stateful;
    this.legacy = init.legacy ?? false;
    this.resumeCapacity = init.resumeCapacity;
    this.journal = init.journal ?? null;
    this.standalone = new EventStream(this.newStreamId(), init.resumeCapacity);
    this.registerStream(this.standalone);
  }

  /** The short hash replicas name the session by when they tell each other it ended (computed once, on first use). */
  get digest(): string {
    return (this.#digest ??= digest(this.id));
  }

  /** Unique among every replica's streams of this session (a process tag), so a shared journal keeps them apart. */
  newStreamId(): string {
    return `s${PROCESS_TAG}${this.nextStream++}`;
  }

  registerStream(stream: EventStream): void {
    if (this.journal !== null) stream.journal = { sink: this.journal, key: journalKey(this.id, stream.id) };
    this.streams.set(stream.id, stream);
    if (this.streams.size > MAX_STREAMS) {
      for (const [id, s] of this.streams) {
        if (s !== this.standalone && s.finished) {
          this.streams.delete(id);
          if (this.streams.size <= MAX_STREAMS) break;
        }
      }
    }
  }

  stream(id: string): EventStream | undefined {
    return this.streams.get(id);
  }

  /** Send a message that belongs to no request: on the standalone (GET) stream. */
  push(message: unknown): void {
    this.standalone.send(message);
  }

  /** Whether the client declared a capability (`sampling`, `elicitation`, `roots`). */
  supports(capability: string): boolean {
    return this.clientCapabilities[capability] !== undefined && this.clientCapabilities[capability] !== null;
  }

  /**
   * Send a server->client request (sampling, elicitation, roots/list) and wait for the client's answer,
   * which arrives as a JSON-RPC response in a later POST (or on the legacy message endpoint).
   */
  requestClient(method: string, params: JsonObject | undefined, via: Exchange | null, timeoutMs: number, signal?: AbortSignal): Promise<JsonObject> {
    // Unique among replicas too: the client's answer may reach another replica, which hands it over (src/gateway.ts).
    const id = `gh-${PROCESS_TAG}-${this.nextRequest++}`;
    const message = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
    return new Promise<JsonObject>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GatehouseError('GH_ERR_UPSTREAM_TIMEOUT', ['client', timeoutMs]));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      signal?.addEventListener('abort', () => {
        if (!this.pending.has(id)) return;
        this.settle(id);
        this.push({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'cancelled upstream' } });
        reject(new GatehouseError('GH_ERR_REQUEST_CANCELLED'));
      }, { once: true });
      if (via?.open) via.related(message as never);
      else this.push(message);
    });
  }

  /** A response from the client to one of the gateway's requests. Returns false when the id is unknown. */
  resolveClientResponse(response: JsonRpcResponse): boolean {
    const entry = response.id === null ? undefined : this.pending.get(response.id);
    if (!entry) return false;
    this.settle(response.id!);
    if ('result' in response) entry.resolve(response.result);
    else entry.reject(new UpstreamRpcError(response.error.code, response.error.message, response.error.data));
    return true;
  }

  private settle(id: JsonRpcId): void {
    const entry = this.pending.get(id);
    if (entry) clearTimeout(entry.timer);
    this.pending.delete(id);
  }

  /** End the session: cancel in-flight calls, fail pending client requests, close streams. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ctx of this.inFlight.values()) ctx.abort.abort();
    for (const [id, entry] of this.pending) {
      this.settle(id);
      entry.reject(new GatehouseError('GH_ERR_SESSION_NOT_FOUND'));
    }
    for (const s of this.streams.values()) s.end();
    this.streams.clear();
  }
}
