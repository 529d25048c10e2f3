/**
 * The pool of one upstream: which connection serves a downstream session (one shared, or a process per session
 * or per user for stdio), the catalog connection the gateway lists from, and supervision of stdio processes —
 * a hard cap, idle reaping and lifetime recycling by one unref'd sweep timer, restart with backoff.
 */
import type { Logger } from 'pino';
import type { UserOAuth } from '../auth/user-oauth.ts';
import type { UpstreamConfig } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';
import { connectUpstream } from './connect.ts';
import type { ConnectFactory } from './connect.ts';
import type { UpstreamConnection, UpstreamHandlers } from './types.ts';

/** What a pooled connection raises, with the connection it came from. */
export interface PoolEvents {
  onNotification(conn: UpstreamConnection, n: JsonRpcNotification, tag: unknown): void;
  onRequest(conn: UpstreamConnection, r: JsonRpcRequest, tag: unknown): Promise<JsonObject>;
  /** A connection ended; `error` is set when it was not the pool (or the caller) that closed it. */
  onClose(conn: UpstreamConnection, error?: Error): void;
  /** A connection came up: at start, after a restart, or as the replacement of a recycled one. The catalog
   *  listens for role 'shared' / 'catalog' to re-list what a fresh process offers. */
  onOpen?(conn: UpstreamConnection, role: SlotRole): void;
}

/** Who a downstream request comes from. */
export interface AcquireContext {
  sessionId: string;
  principal: string;
}

export interface PoolOptions {
  /** Client capabilities declared upstream in initialize. */
  capabilities: JsonObject;
  /** The gateway's version (clientInfo.version). */
  clientVersion: string;
  logger?: Logger;
  /** How a connection is made; default `connectUpstream` (undici's `factory` idea: tests swap what sits below). */
  connectFactory?: ConnectFactory;
  /** The per-user credential vault, handed to connections (`auth: { type: oauth, approval: user }`). */
  userOAuth?: UserOAuth;
  /** Name resolution for HTTP upstreams (the allowlist's SSRF guard), handed to connections. */
  lookup?: import('node:net').LookupFunction;
}

export interface PoolStats {
  /** Live stdio processes, including those starting and those draining before they stop (0 for HTTP/SSE). */
  processes: number;
  /** Live connections (processes or upstream sessions), starting ones excluded. */
  connections: number;
  /** Connections being opened now. */
  starting: number;
  /** Restarts of the shared / catalog connection after it died. */
  restarts: number;
  /** Per-session / per-user processes stopped for idleness. */
  reaped: number;
  /** Connections replaced after `pool.maxLifetime`. */
  recycled: number;
  /** Acquires refused at `pool.maxProcesses`. */
  rejected: number;
}

export type SlotRole = 'shared' | 'catalog' | 'session' | 'user';

/** Supervision settings; HTTP and SSE upstreams have no `pool` block and use the schema's defaults. */
interface Supervision {
  maxProcesses: number;
  idleTimeout: number;
  maxLifetime: number;
  backoff: number;
  maxBackoff: number;
}

const DEFAULT_SUPERVISION: Supervision = { maxProcesses: Infinity, idleTimeout: 0, maxLifetime: 0, backoff: 250, maxBackoff: 30_000 };
const MIN_SWEEP_MS = 20;
const MAX_SWEEP_MS = 10_000;

/** Optional counters a connection may expose (BaseConnection does); the pool reads them for idleness. */
interface Counted {
  readonly issued?: number;
  readonly inflight?: number;
  retire?(): Promise<void>;
}

/** One keyed place a connection lives: the shared one, the catalog one, a session's, or a user's. */
class Slot {
  readonly key: string;
  readonly role: SlotRole;
  conn: UpstreamConnection | undefined = undefined;
  starting: Promise<UpstreamConnection> | undefined = undefined;
  openedAt = 0;
  /** Idle tracking by the sweep: the connection's request counter when last seen, and since when unchanged. */
  lastIssued = -1;
  idleSince = 0;
  replacing = false;
  /** Restart state (shared / catalog). */
  backoff: number;
  restartTimer: NodeJS.Timeout | undefined = undefined;
  waiters: Deferred | undefined = undefined;
  lastError: Error | undefined = undefined;
  /** A background restart is under way: callers wait for the first success (bounded), not for one attempt. */
  restarting = false;

  constructor(key: string, role: SlotRole, backoff: number) {
    this.key = key;
    this.role = role;
    this.backoff = backoff;
  }

  get longLived(): boolean {
    return this.role === 'shared' || this.role === 'catalog';
  }
}

interface Deferred {
  promise: Promise<UpstreamConnection>;
  resolve(conn: UpstreamConnection): void;
  reject(err: Error): void;
}

export class UpstreamPool {
  readonly name: string;
  readonly config: UpstreamConfig;
  private readonly events: PoolEvents;
  private readonly options: PoolOptions;
  private readonly factory: ConnectFactory;
  private readonly supervision: Supervision;
  private readonly stdio: boolean;
  private readonly sharing: 'shared' | 'per-session' | 'per-user';
  private readonly slots = new Map<string, Slot>();
  /** Every connection this pool opened and has not seen closed (retiring ones included). */
  private readonly live = new Set<UpstreamConnection>();
  private startingCount = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private restarts = 0;
  private reaped = 0;
  private recycled = 0;
  private rejected = 0;

  constructor(name: string, config: UpstreamConfig, events: PoolEvents, options: PoolOptions) {
    this.name = name;
    this.config = config;
    this.events = events;
    this.options = options;
    this.factory = options.connectFactory ?? connectUpstream;
    this.stdio = config.transport === 'stdio';
    // An upstream where each user has their own account (`auth: { type: oauth, approval: user }`) gets a connection
    // per user: its upstream session, initialize included, runs with that user's token (src/auth/user-oauth.ts).
    this.sharing = config.transport === 'stdio' ? config.sharing : config.auth?.type === 'oauth' && config.auth.approval === 'user' ? 'per-user' : 'shared';
    this.supervision = config.transport === 'stdio' ? config.pool : DEFAULT_SUPERVISION;
    const s = this.supervision;
    const needsSweep = (this.sharing !== 'shared' && s.idleTimeout > 0) || s.maxLifetime > 0;
    if (needsSweep) {
      const basis = Math.min(this.sharing !== 'shared' && s.idleTimeout > 0 ? s.idleTimeout : Infinity, s.maxLifetime > 0 ? s.maxLifetime : Infinity);
      const every = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(basis / 4)));
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
  }

  /** Open the shared connection (or, for per-session / per-user stdio, the catalog process) and wait for it. */
  async start(): Promise<void> {
    await this.catalog();
  }

  /** The connection the gateway lists tools/resources/prompts on and receives list_changed from. */
  catalog(): Promise<UpstreamConnection> {
    return this.get(this.slot(this.sharing === 'shared' ? 'shared' : 'catalog', this.sharing === 'shared' ? 'shared' : 'catalog'));
  }

  /** The connection serving this downstream session. */
  async acquire(ctx: AcquireContext): Promise<UpstreamConnection> {
    if (this.sharing === 'shared') return this.get(this.slot('shared', 'shared'));
    const perSession = this.sharing === 'per-session';
    const key = perSession ? `s:${ctx.sessionId}` : `u:${ctx.principal}`;
    const slot = this.slot(key, perSession ? 'session' : 'user');
    try {
      return await this.get(slot);
    } catch (err) {
      if (slot.conn === undefined && slot.starting === undefined && this.slots.get(key) === slot) this.slots.delete(key);
      throw err;
    }
  }

  /** The downstream session ended: stop its per-session process (per-user processes wait for the idle reaper). */
  release(sessionId: string): void {
    if (this.sharing !== 'per-session') return;
    const slot = this.slots.get(`s:${sessionId}`);
    if (slot === undefined) return;
    this.slots.delete(slot.key);
    const conn = slot.conn;
    slot.conn = undefined;
    if (conn !== undefined) this.stop(conn);
    // A start still running sees its slot gone and stops what it started.
  }

  stats(): PoolStats {
    return {
      processes: this.stdio ? this.live.size + this.startingCount : 0,
      connections: this.live.size,
      starting: this.startingCount,
      restarts: this.restarts,
      reaped: this.reaped,
      recycled: this.recycled,
      rejected: this.rejected,
    };
  }

  /** Stop everything: end every process group / upstream session; waiters get GH_ERR_SHUTTING_DOWN. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    clearInterval(this.sweepTimer);
    const starting: Promise<unknown>[] = [];
    for (const slot of this.slots.values()) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      if (slot.waiters !== undefined) {
        slot.waiters.reject(new GatehouseError('GH_ERR_SHUTTING_DOWN'));
        slot.waiters = undefined;
      }
      if (slot.starting !== undefined) starting.push(slot.starting.catch(noop));
      slot.conn = undefined;
    }
    this.slots.clear();
    const conns = [...this.live];
    this.closed = (async () => {
      await Promise.all(conns.map((c) => c.close().catch(noop)));
      // Starts in flight finish, see the pool closing and close what they opened.
      await Promise.all(starting);
      this.live.clear();
    })();
    return this.closed;
  }

  private slot(key: string, role: SlotRole): Slot {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = new Slot(key, role, this.supervision.backoff);
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** The slot's connection: the live one, the one starting, the one a restart will bring, or a new one. */
  private get(slot: Slot): Promise<UpstreamConnection> {
    if (this.closing) return Promise.reject(new GatehouseError('GH_ERR_SHUTTING_DOWN'));
    const conn = slot.conn;
    if (conn !== undefined && !conn.closed) return Promise.resolve(conn);
    if (slot.restarting || slot.restartTimer !== undefined) return this.waitForRestart(slot);
    if (slot.starting !== undefined) return slot.starting;
    return this.open(slot);
  }

  /** Start the slot's connection (concurrent callers share this one start). */
  private open(slot: Slot): Promise<UpstreamConnection> {
    if (slot.starting !== undefined) return slot.starting;
    let start: Promise<UpstreamConnection>;
    try {
      start = this.spawn(slot);
    } catch (err) {
      return Promise.reject(err);
    }
    slot.starting = start.then(
      (conn) => {
        slot.starting = undefined;
        slot.conn = conn;
        slot.openedAt = slot.idleSince = Date.now();
        slot.lastIssued = -1;
        slot.lastError = undefined;
        this.opened(conn, slot);
        return conn;
      },
      (err: Error) => {
        slot.starting = undefined;
        slot.lastError = err;
        // The shared / catalog connection keeps trying in the background; callers meanwhile wait (bounded).
        if (slot.longLived && this.slots.get(slot.key) === slot) this.scheduleRestart(slot);
        throw err;
      },
    );
    return slot.starting;
  }

  /**
   * Make one connection for `slot` (counted against the cap while it starts). Resolves only with a connection
   * the slot still wants: when the slot was released or the pool closed meanwhile, the connection is stopped.
   */
  private spawn(slot: Slot): Promise<UpstreamConnection> {
    if (this.stdio && this.live.size + this.startingCount >= this.supervision.maxProcesses) {
      this.rejected++;
      throw new GatehouseError('GH_ERR_UPSTREAM_CAPACITY', [this.name, this.supervision.maxProcesses], { upstream: this.name });
    }
    this.startingCount++;
    const holder: { conn: UpstreamConnection | undefined } = { conn: undefined };
    const handlers = this.handlers(slot, holder);
    let made: Promise<UpstreamConnection>;
    try {
      made = this.factory(this.name, this.config, handlers, { capabilities: this.options.capabilities, clientVersion: this.options.clientVersion, logger: this.options.logger, userOAuth: this.options.userOAuth, lookup: this.options.lookup, ...(slot.role === 'user' && { owner: slot.key.slice(2) }) });
    } catch (err) {
      made = Promise.reject(err);
    }
    return made.then(
      (conn) => {
        this.startingCount--;
        holder.conn = conn;
        if (conn.closed) throw closedBeforeUse(this.name);
        this.live.add(conn);
        if (this.closing || this.slots.get(slot.key) !== slot) {
          this.stop(conn);
          throw this.closing ? new GatehouseError('GH_ERR_SHUTTING_DOWN') : closedBeforeUse(this.name);
        }
        return conn;
      },
      (err: unknown) => {
        this.startingCount--;
        throw err instanceof Error ? err : new Error(String(err));
      },
    );
  }

  private handlers(slot: Slot, holder: { conn: UpstreamConnection | undefined }): UpstreamHandlers {
    return {
      onNotification: (n, tag) => {
        if (holder.conn !== undefined) this.events.onNotification(holder.conn, n, tag);
      },
      onRequest: (r, tag) => {
        if (holder.conn === undefined) return Promise.reject(new GatehouseError('GH_ERR_RPC_METHOD_NOT_FOUND', [r.method]));
        return this.events.onRequest(holder.conn, r, tag);
      },
      onClose: (error) => {
        const conn = holder.conn;
        if (conn === undefined) return; // failed during connect: the start's rejection reports it
        this.connectionClosed(slot, conn, error);
      },
    };
  }

  private opened(conn: UpstreamConnection, slot: Slot): void {
    const log = this.options.logger;
    if (log !== undefined) {
      const fields = { upstream: this.name, role: slot.role, pid: (conn as { pid?: number }).pid };
      // Per-session / per-user processes come and go with sessions: not worth an info line each.
      if (slot.longLived) log.info(fields, 'upstream connection open');
      else log.debug(fields, 'upstream connection open');
    }
    try {
      this.events.onOpen?.(conn, slot.role);
    } catch {}
  }

  private connectionClosed(slot: Slot, conn: UpstreamConnection, error: Error | undefined): void {
    if (!this.live.delete(conn)) return;
    try {
      this.events.onClose(conn, error);
    } catch {}
    if (slot.conn !== conn) return; // a retired, released or replaced connection
    slot.conn = undefined;
    if (this.closing) return;
    if (slot.longLived) {
      slot.lastError = error;
      this.options.logger?.warn({ upstream: this.name, role: slot.role, err: error?.message }, 'upstream connection died; restarting');
      this.scheduleRestart(slot);
    } else if (this.slots.get(slot.key) === slot) {
      this.slots.delete(slot.key); // the next acquire starts a fresh one
    }
  }

  /** Restart a shared / catalog connection after its backoff; requests meanwhile wait (bounded). */
  private scheduleRestart(slot: Slot): void {
    if (this.closing || slot.restartTimer !== undefined) return;
    const s = this.supervision;
    // A connection that stayed up for maxBackoff was healthy: start the backoff over.
    if (slot.openedAt > 0 && Date.now() - slot.openedAt >= s.maxBackoff) slot.backoff = s.backoff;
    const delay = slot.backoff;
    slot.backoff = Math.min(slot.backoff * 2, s.maxBackoff);
    slot.openedAt = 0;
    slot.restartTimer = setTimeout(() => this.restart(slot), delay);
    slot.restartTimer.unref();
  }

  private restart(slot: Slot): void {
    slot.restartTimer = undefined;
    if (this.closing || this.slots.get(slot.key) !== slot) return;
    this.restarts++;
    slot.restarting = true;
    this.open(slot).then(
      (conn) => {
        slot.restarting = false;
        const waiters = slot.waiters;
        slot.waiters = undefined;
        waiters?.resolve(conn);
      },
      (err: Error) => {
        this.options.logger?.warn({ upstream: this.name, role: slot.role, err: err.message }, 'upstream restart failed');
        this.scheduleRestart(slot);
      },
    );
  }

  private waitForRestart(slot: Slot): Promise<UpstreamConnection> {
    slot.waiters ??= deferred();
    const connectMs = this.config.timeouts.connect;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const why = slot.lastError?.message ?? 'it is restarting';
        reject(new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.name, `not back within ${connectMs} ms after it stopped (${why})`], { upstream: this.name }));
      }, connectMs);
      slot.waiters!.promise.then(
        (conn) => {
          clearTimeout(timer);
          resolve(conn);
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** One pass of the supervision timer: reap idle per-session / per-user processes, recycle old ones. */
  private sweep(): void {
    if (this.closing) return;
    const now = Date.now();
    const { idleTimeout, maxLifetime } = this.supervision;
    for (const slot of [...this.slots.values()]) {
      const conn = slot.conn;
      if (conn === undefined || conn.closed) continue;
      const counted = conn as Counted;
      if (!slot.longLived && idleTimeout > 0 && counted.issued !== undefined) {
        const issued = counted.issued;
        if (issued !== slot.lastIssued || (counted.inflight ?? 0) > 0) {
          slot.lastIssued = issued;
          slot.idleSince = now;
        } else if (now - slot.idleSince >= idleTimeout) {
          this.slots.delete(slot.key);
          slot.conn = undefined;
          this.reaped++;
          this.stop(conn);
          continue;
        }
      }
      if (maxLifetime > 0 && !slot.replacing && slot.openedAt > 0 && now - slot.openedAt >= maxLifetime) this.recycle(slot, conn);
    }
  }

  /** Replace an old connection: new requests go to a fresh one; the old one drains, then stops. */
  private recycle(slot: Slot, old: UpstreamConnection): void {
    let start: Promise<UpstreamConnection>;
    try {
      start = this.spawn(slot);
    } catch {
      return; // at the cap: try again on the next sweep
    }
    slot.replacing = true;
    start.then(
      (fresh) => {
        slot.replacing = false;
        if (slot.conn !== old) {
          // The old one died or was released meanwhile; the fresh one takes its place only if the slot is empty.
          if (slot.conn === undefined && this.slots.get(slot.key) === slot && slot.starting === undefined) {
            clearTimeout(slot.restartTimer);
            slot.restartTimer = undefined;
            slot.conn = fresh;
            slot.openedAt = slot.idleSince = Date.now();
            this.opened(fresh, slot);
            const waiters = slot.waiters;
            slot.waiters = undefined;
            waiters?.resolve(fresh);
          } else this.stop(fresh);
          return;
        }
        slot.conn = fresh;
        slot.openedAt = slot.idleSince = Date.now();
        slot.lastIssued = -1;
        this.recycled++;
        this.opened(fresh, slot);
        this.stop(old, true);
      },
      (err: Error) => {
        slot.replacing = false;
        this.options.logger?.warn({ upstream: this.name, err: err.message }, 'upstream recycle failed; keeping the old connection');
      },
    );
  }

  /** Stop a connection the pool no longer hands out (drain first when asked). */
  private stop(conn: UpstreamConnection, drain = false): void {
    const counted = conn as Counted;
    const done = drain && typeof counted.retire === 'function' ? counted.retire() : conn.close();
    done.catch(noop).finally(() => this.live.delete(conn));
  }
}

function deferred(): Deferred {
  let resolve!: (conn: UpstreamConnection) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<UpstreamConnection>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(noop);
  return { promise, resolve, reject };
}

function closedBeforeUse(name: string): GatehouseError {
  return new GatehouseError('GH_ERR_UPSTREAM_CLOSED', [name], { upstream: name });
}

function noop(): void {}
