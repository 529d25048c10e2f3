/**
 * The replicas of one upstream: one `UpstreamPool` per URL (or per copy of a stdio command), a balancer, a circuit
 * breaker and active health checks per replica, and admission (a concurrency limit with a bounded queue). The router
 * asks it for a session's connection (`acquire`: the replica the session already uses while that one is fine, another
 * one when it is not) and sends each request through it (`request`), so every outcome feeds the replica's breaker.
 * What to do about a failed request (retry elsewhere, or report an unknown outcome) is the router's call: it knows
 * which requests are safe to repeat.
 */
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.ts';
import { upstreamUrls } from '../config/schema.ts';
import { globToRegExp } from '../catalog/glob.ts';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { GatewayMetrics } from '../observe/metrics.ts';
import { Balancer } from './balancer.ts';
import { Breaker, BREAKER_GAUGE } from './breaker.ts';
import type { BreakerState } from './breaker.ts';
import { notDelivered, refusedByUpstream, undelivered } from './delivery.ts';
import { HealthChecker } from './health.ts';
import { UpstreamPool } from './pool.ts';
import type { AcquireContext, PoolEvents, PoolOptions, PoolStats } from './pool.ts';
import type { UpstreamConnection, UpstreamRequestOptions } from './types.ts';

export interface ReplicaSetOptions extends PoolOptions {
  /** Upstream metrics (src/observe/metrics.ts); absent in unit tests. */
  metrics?: GatewayMetrics;
}

/** What /readyz, the admin API and the portal show of one replica. */
export interface ReplicaStatus {
  replica: string;
  state: BreakerState;
  inFlight: number;
  queued: number;
  /** Why it last failed (a request or a health check), while it is not closed. */
  lastError: string | null;
}

/** The pool events, and one of the set's own. */
export interface ReplicaSetEvents extends PoolEvents {
  /** A replica left rotation: sessions that only listen on it (subscriptions) should move without waiting for a request. */
  onReplicaDown?(): void;
}

export interface ReplicaSetStats extends PoolStats {
  replicas: ReplicaStatus[];
}

/** Errors that say the replica failed (as opposed to an answer, a refusal by the gateway or the caller's cancel). */
const REPLICA_FAILURES = new Set(['GH_ERR_UPSTREAM_UNAVAILABLE', 'GH_ERR_UPSTREAM_CLOSED', 'GH_ERR_UPSTREAM_TIMEOUT', 'GH_ERR_UPSTREAM_PROTOCOL']);

/** True when `err` means the replica itself failed: the request may be worth sending to another one. */
export function replicaFailed(err: unknown): boolean {
  return GatehouseError.is(err) && REPLICA_FAILURES.has(err.code) && !refusedByUpstream(err);
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

class Replica {
  readonly index: number;
  /** The metrics label and the name in /readyz: host:port of its URL, or the copy number of a stdio command. */
  readonly id: string;
  readonly pool: UpstreamPool;
  readonly breaker: Breaker;
  inFlight = 0;
  readonly queue: Waiter[] = [];
  lastError: string | null = null;
  /** The breaker was opened by failed health checks (or a failed start): a passing check closes it. */
  checkTripped = false;

  constructor(index: number, id: string, pool: UpstreamPool, breaker: Breaker) {
    this.index = index;
    this.id = id;
    this.pool = pool;
    this.breaker = breaker;
  }

  get load(): number {
    return this.inFlight + this.queue.length;
  }
}

export class ReplicaSet {
  readonly name: string;
  readonly config: UpstreamConfig;
  private readonly replicas: Replica[];
  private readonly balancer: Balancer<Replica>;
  private readonly health: HealthChecker<Replica> | null;
  private readonly metrics: GatewayMetrics | undefined;
  private readonly logger: Logger | undefined;
  /** The replica each downstream session uses (session-affinity), by session id. */
  private readonly affinity = new Map<string, Replica>();
  /** Which replica a connection belongs to. */
  private readonly owners = new WeakMap<UpstreamConnection, Replica>();
  private readonly idempotentTools: readonly RegExp[];
  /** Wakes `drain()` when the last request in flight ends. */
  private idle: (() => void) | undefined = undefined;
  private readonly onReplicaDown: (() => void) | undefined;

  constructor(name: string, config: UpstreamConfig, events: ReplicaSetEvents, options: ReplicaSetOptions) {
    this.name = name;
    this.onReplicaDown = events.onReplicaDown;
    this.config = config;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.balancer = new Balancer(config.balancer);
    this.idempotentTools = config.retry.idempotentTools.map(globToRegExp);
    const copies: { id: string; config: UpstreamConfig }[] = config.transport === 'stdio'
      ? Array.from({ length: config.replicas }, (_, i) => ({ id: String(i), config }))
      : upstreamUrls(config).map((url) => ({ id: replicaLabel(url), config: { ...config, url } }));
    // Two URLs on the same host:port (different paths) keep distinct labels.
    const seen = new Map<string, number>();
    this.replicas = copies.map((copy, index) => {
      const n = seen.get(copy.id) ?? 0;
      seen.set(copy.id, n + 1);
      const id = n === 0 ? copy.id : `${copy.id}#${n}`;
      const breaker = new Breaker(config.breaker);
      const replica: Replica = new Replica(index, id, new UpstreamPool(name, copy.config, this.replicaEvents(events, () => replica), options), breaker);
      breaker.onChange = (state) => this.breakerChanged(replica, state);
      this.gauge(replica);
      return replica;
    });
    this.health = config.health.interval > 0 ? new HealthChecker(config.health, this.replicas, {
      check: (r) => this.check(r),
      passed: (r) => {
        this.metrics?.upstreamHealthChecks.inc({ upstream: name, replica: r.id, outcome: 'pass' });
        // A pass closes what checks opened (or also found failing), or serves as the probe of a half-open breaker; a
        // breaker that only requests opened stays open for its interval (a replica can answer ping and still fail calls).
        if (r.checkTripped || r.breaker.state === 'half-open') {
          r.checkTripped = false;
          r.breaker.success();
        }
      },
      failed: (r, err, unhealthy) => {
        this.metrics?.upstreamHealthChecks.inc({ upstream: name, replica: r.id, outcome: 'fail' });
        r.lastError = err.message;
        if (!unhealthy) return;
        // Also when requests opened the breaker first (they usually see a killed replica before the checks do): then
        // it comes back by passing a check once it is up again, not when an ejection interval that doubles with every
        // outage (reset only after maxOpenFor closed) runs out; else replicas restarted often can all be out at once.
        r.checkTripped = true;
        if (r.breaker.state !== 'open') r.breaker.trip();
      },
    }) : null;
  }

  /** How many replicas this upstream has. */
  get size(): number {
    return this.replicas.length;
  }

  /** Retries allowed after the first attempt (the router's failover reads it). */
  get retryAttempts(): number {
    return this.config.retry.attempts;
  }

  /** session-affinity keeps each session on one replica; the other strategies pick per request. */
  get affine(): boolean {
    return this.balancer.strategy === 'session-affinity';
  }

  /** The config marks this tool (the upstream's own name) safe to repeat. */
  idempotent(tool: string): boolean {
    return this.idempotentTools.some((re) => re.test(tool));
  }

  /**
   * Start every replica. Resolves once one is up (the others keep starting and are taken into rotation when they
   * come up); rejects with the first replica's error when none could start.
   */
  async start(): Promise<void> {
    const starts = this.replicas.map((r) => r.pool.start().then(
      () => r.breaker.success(),
      (err: Error) => {
        r.lastError = err.message;
        if (!refusedByUpstream(err)) {
          r.checkTripped = true;
          r.breaker.trip();
        }
        throw err;
      },
    ));
    this.health?.start();
    try {
      await Promise.any(starts);
    } catch (err) {
      throw (err as AggregateError).errors[0] as Error;
    }
  }

  /** The connection the gateway lists the catalog on: the first replica in rotation (replicas serve the same tools). */
  catalog(): Promise<UpstreamConnection> {
    const r = this.replicas.find((x) => x.breaker.state === 'closed') ?? this.replicas.find((x) => x.breaker.admits) ?? this.replicas[0];
    return r.pool.catalog();
  }

  /** The replica that owns `conn`: host:port of its URL, or a stdio copy's number. */
  replicaOf(conn: UpstreamConnection): string | undefined {
    return this.owners.get(conn)?.id;
  }

  /** True while `conn`'s replica takes requests: the router keeps a session on it. */
  usable(conn: UpstreamConnection): boolean {
    const r = this.owners.get(conn);
    return r !== undefined && this.inRotation(r);
  }

  /**
   * May the replica take a client's request? A replica that failed its health checks comes back only by passing
   * one: its half-open probe is the check, never a client's request (which could hang on it for the whole timeout).
   */
  private inRotation(r: Replica): boolean {
    return r.breaker.admits && !(this.health !== null && r.checkTripped);
  }

  /**
   * The connection serving this session. A session stays on its replica while that one takes requests; otherwise
   * (first use, its replica failing, or a per-request strategy) the balancer picks one, preferring replicas not in
   * `tried` (the ones that already failed this request).
   */
  async acquire(ctx: AcquireContext, tried?: ReadonlySet<UpstreamConnection>): Promise<UpstreamConnection> {
    const replica = this.choose(ctx.sessionId, tried);
    const conn = await replica.pool.acquire(ctx);
    this.owners.set(conn, replica);
    return conn;
  }

  /** The session ended: forget its replica and let each pool stop what it ran for the session only. */
  release(sessionId: string): void {
    this.affinity.delete(sessionId);
    for (const r of this.replicas) r.pool.release(sessionId);
  }

  /**
   * Send one request on `conn` (from `acquire`): admitted by its replica's breaker and concurrency limit, its outcome
   * recorded. A refusal here (circuit open, overloaded) never reached the upstream and is marked so.
   */
  async request(conn: UpstreamConnection, method: string, params: JsonObject | undefined, options: UpstreamRequestOptions): Promise<JsonObject> {
    const r = this.owners.get(conn);
    if (r === undefined) return conn.request(method, params, options);
    if (!r.breaker.acquire()) {
      this.metrics?.upstreamRejected.inc({ upstream: this.name, reason: 'circuit-open' });
      throw notDelivered(this.circuitOpen([r]));
    }
    let timeoutMs = options.timeoutMs;
    const limit = this.config.limits.concurrency;
    if (limit > 0 && r.inFlight >= limit) {
      const waitedFrom = performance.now();
      try {
        await this.enqueue(r, options); // resolves with the slot taken for us
      } catch (err) {
        r.breaker.release();
        throw err;
      }
      if (timeoutMs !== undefined) timeoutMs = Math.max(1, timeoutMs - (performance.now() - waitedFrom));
    } else this.take(r);
    const started = performance.now();
    let outcome = 'ok';
    try {
      const result = await conn.request(method, params, timeoutMs === options.timeoutMs ? options : { ...options, timeoutMs });
      r.breaker.success();
      return result;
    } catch (err) {
      outcome = this.settle(r, err);
      throw err;
    } finally {
      r.inFlight--;
      this.metrics?.upstreamInFlight.dec({ upstream: this.name, replica: r.id });
      this.metrics?.upstreamRequestSeconds.observe({ upstream: this.name, replica: r.id, method, outcome }, (performance.now() - started) / 1000);
      this.dequeue(r);
      if (this.idle !== undefined && this.inFlight() === 0) this.idle();
    }
  }

  /** A session moved to another replica (the router restored its state there). */
  countFailover(): void {
    this.metrics?.upstreamFailovers.inc({ upstream: this.name });
  }

  countRetry(method: string): void {
    this.metrics?.upstreamRetries.inc({ upstream: this.name, method });
  }

  status(): ReplicaStatus[] {
    return this.replicas.map((r) => {
      const state = r.breaker.state;
      return { replica: r.id, state, inFlight: r.inFlight, queued: r.queue.length, lastError: state === 'closed' ? null : r.lastError };
    });
  }

  stats(): ReplicaSetStats {
    const sum: PoolStats = { processes: 0, connections: 0, starting: 0, restarts: 0, reaped: 0, recycled: 0, rejected: 0 };
    for (const r of this.replicas) {
      const s = r.pool.stats();
      for (const key of Object.keys(sum) as (keyof PoolStats)[]) sum[key] += s[key];
    }
    return { ...sum, replicas: this.status() };
  }

  /**
   * The upstream was removed from the config: let the requests in flight finish (at most `timeoutMs`), then close.
   * The gateway has already stopped routing new requests here.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.inFlight() > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    await this.close();
  }

  private inFlight(): number {
    let n = 0;
    for (const r of this.replicas) n += r.inFlight + r.queue.length;
    return n;
  }

  /** Stop checks and every replica; queued requests get GH_ERR_SHUTTING_DOWN. */
  async close(): Promise<void> {
    this.health?.stop();
    for (const r of this.replicas) {
      for (const w of r.queue.splice(0)) w.reject(new GatehouseError('GH_ERR_SHUTTING_DOWN'));
      this.metrics?.upstreamQueueDepth.set({ upstream: this.name, replica: r.id }, 0);
    }
    await Promise.all(this.replicas.map((r) => r.pool.close()));
  }

  // ---- choosing ----------------------------------------------------------------------------------

  private choose(sessionId: string, tried: ReadonlySet<UpstreamConnection> | undefined): Replica {
    const affine = this.balancer.strategy === 'session-affinity';
    const previous = affine ? this.affinity.get(sessionId) : undefined;
    const failed = (r: Replica) => tried !== undefined && [...tried].some((c) => this.owners.get(c) === r);
    const inRotation = (r: Replica) => this.inRotation(r);
    if (previous !== undefined && inRotation(previous) && !failed(previous)) return previous;
    let candidates = this.replicas.filter((r) => inRotation(r) && !failed(r));
    // Every replica in rotation already failed this request, or checks took them all out: one may have recovered
    // (a restarted process), so try those the breaker lets through.
    if (candidates.length === 0) candidates = this.replicas.filter((r) => r.breaker.admits && !failed(r));
    if (candidates.length === 0) candidates = this.replicas.filter((r) => r.breaker.admits);
    if (candidates.length === 0) {
      this.metrics?.upstreamRejected.inc({ upstream: this.name, reason: 'circuit-open' });
      throw notDelivered(this.circuitOpen(this.replicas));
    }
    const chosen = this.balancer.pick(candidates);
    if (affine) this.affinity.set(sessionId, chosen);
    return chosen;
  }

  private circuitOpen(replicas: readonly Replica[]): GatehouseError {
    const retryAfterMs = Math.max(1, Math.min(...replicas.map((r) => r.breaker.retryInMs)));
    const last = replicas.find((r) => r.lastError !== null)?.lastError;
    const which = replicas.length === 1 && this.replicas.length > 1 ? `replica ${replicas[0].id} is` : this.replicas.length > 1 ? `all ${this.replicas.length} replicas are` : 'it is';
    const why = `${which} failing (circuit open; next probe in ${retryAfterMs} ms${last ? `; last error: ${last}` : ''})`;
    return new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.name, why], { upstream: this.name, retryAfterMs });
  }

  // ---- admission ---------------------------------------------------------------------------------

  private enqueue(r: Replica, options: UpstreamRequestOptions): Promise<void> {
    const { queue: capacity } = this.config.limits;
    if (r.queue.length >= capacity) {
      this.metrics?.upstreamRejected.inc({ upstream: this.name, reason: 'overloaded' });
      const retryAfterMs = 1000;
      const why = `replica ${r.id} has ${r.inFlight} requests in flight (limits.concurrency) and ${r.queue.length} waiting (limits.queue)`;
      return Promise.reject(notDelivered(new GatehouseError('GH_ERR_UPSTREAM_OVERLOADED', [this.name, why, retryAfterMs], { upstream: this.name, replica: r.id, retryAfterMs })));
    }
    return new Promise<void>((resolve, reject) => {
      const signal = options.signal;
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: Error) => {
        const i = r.queue.indexOf(waiter);
        if (i >= 0) r.queue.splice(i, 1);
        this.metrics?.upstreamQueueDepth.set({ upstream: this.name, replica: r.id }, r.queue.length);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(notDelivered(err));
      };
      const onAbort = () => leave(new GatehouseError('GH_ERR_REQUEST_CANCELLED'));
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: leave,
      };
      if (options.timeoutMs !== undefined) {
        const ms = options.timeoutMs;
        timer = setTimeout(() => leave(new GatehouseError('GH_ERR_UPSTREAM_OVERLOADED', [this.name, `no free slot of replica ${r.id} within the ${ms} ms deadline`, 1000], { upstream: this.name, replica: r.id, retryAfterMs: 1000 })), ms);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      r.queue.push(waiter);
      this.metrics?.upstreamQueueDepth.set({ upstream: this.name, replica: r.id }, r.queue.length);
    });
  }

  private dequeue(r: Replica): void {
    const limit = this.config.limits.concurrency;
    // The slot is taken here, for the waiter: a request arriving before it resumes cannot take it first.
    if (r.queue.length === 0 || (limit > 0 && r.inFlight >= limit)) return;
    const next = r.queue.shift()!;
    this.metrics?.upstreamQueueDepth.set({ upstream: this.name, replica: r.id }, r.queue.length);
    this.take(r);
    next.resolve();
  }

  private take(r: Replica): void {
    r.inFlight++;
    this.metrics?.upstreamInFlight.inc({ upstream: this.name, replica: r.id });
  }

  // ---- outcomes ----------------------------------------------------------------------------------

  /** Feed a failed request to the breaker; returns the outcome label. */
  private settle(r: Replica, err: unknown): string {
    if (err instanceof UpstreamRpcError || refusedByUpstream(err)) {
      r.breaker.success(); // an answer: the replica is alive
      return 'error';
    }
    if (replicaFailed(err)) {
      r.lastError = (err as Error).message;
      r.breaker.failure();
      // Opened because the connection was lost or refused: the replica is down, not misbehaving, so a passing
      // health check (a restarted process) brings it back at once rather than when its ejection interval ends.
      if (r.breaker.state === 'open' && (undelivered(err) || (GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CLOSED'))) r.checkTripped = true;
      return 'failure';
    }
    r.breaker.release();
    return GatehouseError.is(err) && err.code === 'GH_ERR_REQUEST_CANCELLED' ? 'cancelled' : 'error';
  }

  /** One active check of a replica (src/upstream/health.ts runs it on its interval). */
  private async check(r: Replica): Promise<void> {
    const { timeout, check } = this.config.health;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.name, `replica ${r.id} did not come up within the ${timeout} ms health check timeout`])), timeout);
    });
    try {
      const conn = await Promise.race([r.pool.catalog(), deadline]);
      await conn.request(check, undefined, { timeoutMs: timeout });
    } catch (err) {
      // A refusal (401 to an upstream that lists only for users) is an answer: the replica is up.
      if (!refusedByUpstream(err)) throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private breakerChanged(r: Replica, state: BreakerState): void {
    this.gauge(r, state);
    if (state === 'open') {
      this.logger?.warn({ upstream: this.name, replica: r.id, err: r.lastError }, 'upstream replica out of rotation (circuit open)');
      this.onReplicaDown?.();
    }
    else if (state === 'closed') this.logger?.info({ upstream: this.name, replica: r.id }, 'upstream replica back in rotation');
  }

  private gauge(r: Replica, state: BreakerState = r.breaker.state): void {
    const labels = { upstream: this.name, replica: r.id };
    this.metrics?.upstreamBreakerState.set(labels, BREAKER_GAUGE[state]);
    this.metrics?.upstreamReplicaHealthy.set(labels, state === 'closed' ? 1 : 0);
  }

  /** Each replica's pool raises events as this upstream's; a connection opening is remembered as the replica's. */
  private replicaEvents(events: PoolEvents, replica: () => Replica): PoolEvents {
    return {
      onNotification: (conn, n, tag) => events.onNotification(conn, n, tag),
      onRequest: (conn, req, tag) => events.onRequest(conn, req, tag),
      onClose: (conn, error) => events.onClose(conn, error),
      onOpen: (conn, role) => {
        this.owners.set(conn, replica());
        events.onOpen?.(conn, role);
      },
    };
  }
}

/** host:port of a replica URL (several on one host:port are told apart by a #n suffix). */
function replicaLabel(url: string): string {
  return new URL(url).host;
}
