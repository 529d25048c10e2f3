/**
 * The in-flight table of one upstream connection: allocates the connection's own request ids, matches
 * responses, enforces deadlines, turns an abort into `notifications/cancelled` upstream, and fails everything
 * when the connection goes away. Shared by every transport; HTTP extends `PendingRequest` into its dispatch handler.
 */
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject, JsonRpcId, JsonRpcResponse } from '../core/jsonrpc.ts';
import type { UpstreamRequestOptions } from './types.ts';

/** Sends `notifications/cancelled {requestId, reason}` upstream; failures are the transport's to swallow. */
export type SendCancel = (id: number, reason: string) => void;

const ONCE = { once: true } as const;

/**
 * One request waiting for its answer. It is its own abort listener (`handleEvent`) and its timer callback's
 * argument, so a request costs one object, one promise and (with a deadline) one timer — no closures.
 */
export class PendingRequest {
  id = 0;
  method = '';
  timeoutMs = 0;
  /** The table while the request is in flight; undefined once settled (the settled flag). */
  table: PendingTable | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  /** Trace context headers for the HTTP transports (UpstreamRequestOptions.traceHeaders). */
  traceHeaders: readonly string[] | undefined = undefined;
  resolve: (result: JsonObject) => void = noop;
  reject: (err: Error) => void = noop;

  get settled(): boolean {
    return this.table === undefined;
  }

  /** EventListener object protocol: the caller's signal aborted. */
  handleEvent(): void {
    this.table?.cancel(this, abortReason(this.signal?.reason));
  }

  /** Called once when the request ends without its response having been read (timeout, abort, close,
   *  transport failure) so a transport can drop what it still holds for it (an HTTP exchange aborts). */
  protected onAbandon(): void {}

  /** @internal used by PendingTable only. */
  finish(): void {
    this.table = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.signal !== undefined) {
      this.signal.removeEventListener('abort', this);
      this.signal = undefined;
    }
  }

  /** @internal */
  abandon(): void {
    this.onAbandon();
  }
}

/** The shared in-flight request table of one connection. */
export class PendingTable {
  readonly upstream: string;
  private readonly sendCancel: SendCancel;
  private readonly entries = new Map<number, PendingRequest>();
  private nextId = 1;
  private drainWaiters: (() => void)[] | null = null;

  constructor(upstream: string, sendCancel: SendCancel) {
    this.upstream = upstream;
    this.sendCancel = sendCancel;
  }

  /** Requests in flight. */
  get size(): number {
    return this.entries.size;
  }

  /** Requests issued so far (a counter the pool reads to tell an idle connection from a busy one). */
  get issued(): number {
    return this.nextId - 1;
  }

  /**
   * Register `entry` under a fresh id and return the promise of its result. `defaultTimeoutMs` applies when
   * the options give none; 0 means no deadline. An already-aborted signal rejects at once and sends nothing
   * (check `entry.settled` before transmitting).
   */
  open(entry: PendingRequest, method: string, options: UpstreamRequestOptions | undefined, defaultTimeoutMs: number): Promise<JsonObject> {
    const id = this.nextId++;
    entry.id = id;
    entry.method = method;
    entry.traceHeaders = options?.traceHeaders;
    const promise = new Promise<JsonObject>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    const signal = options?.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        entry.reject(new GatehouseError('GH_ERR_REQUEST_CANCELLED'));
        return promise;
      }
      entry.signal = signal;
      signal.addEventListener('abort', entry, ONCE);
    }
    const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs;
    if (timeoutMs > 0) {
      entry.timeoutMs = timeoutMs;
      entry.timer = setTimeout(onTimeout, timeoutMs, entry);
    }
    entry.table = this;
    this.entries.set(id, entry);
    return promise;
  }

  /** Settle the request a response answers; false when no request in flight has that id. */
  settle(message: JsonRpcResponse): boolean {
    const entry = this.entries.get(toNumericId(message.id));
    if (entry === undefined) return false;
    this.remove(entry);
    if ('result' in message) entry.resolve(message.result);
    else entry.reject(new UpstreamRpcError(message.error.code, message.error.message, message.error.data));
    return true;
  }

  /** The request with this id, if one is in flight (a malformed answer to it fails it: see BaseConnection). */
  get(id: unknown): PendingRequest | undefined {
    return typeof id === 'number' || typeof id === 'string' ? this.entries.get(toNumericId(id)) : undefined;
  }

  /** The caller gave up (abort or deadline): tell the upstream, then reject. */
  cancel(entry: PendingRequest, reason: string, error: Error = new GatehouseError('GH_ERR_REQUEST_CANCELLED')): void {
    if (entry.table !== this) return;
    this.remove(entry);
    entry.abandon();
    // MCP: the initialize request must never be cancelled (basic/utilities/cancellation).
    if (entry.method !== 'initialize') {
      try {
        this.sendCancel(entry.id, reason);
      } catch {}
    }
    entry.reject(error);
  }

  /** The transport could not deliver this request or read its answer: reject it, send nothing. */
  fail(entry: PendingRequest, error: Error): void {
    if (entry.table !== this) return;
    this.remove(entry);
    entry.abandon();
    entry.reject(error);
  }

  /** Reject everything in flight (the connection is gone). */
  failAll(error: Error): void {
    if (this.entries.size === 0) return;
    const all = [...this.entries.values()];
    for (const entry of all) this.fail(entry, error);
  }

  /** Resolves when nothing is in flight (at once if nothing is). */
  drained(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  private remove(entry: PendingRequest): void {
    this.entries.delete(entry.id);
    entry.finish();
    if (this.drainWaiters !== null && this.entries.size === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = null;
      for (const w of waiters) w();
    }
  }
}

function onTimeout(entry: PendingRequest): void {
  const table = entry.table;
  if (table === undefined) return;
  entry.timer = undefined;
  table.cancel(entry, `timed out after ${entry.timeoutMs} ms`, new GatehouseError('GH_ERR_UPSTREAM_TIMEOUT', [table.upstream, entry.timeoutMs]));
}

function toNumericId(id: JsonRpcId | null): number {
  // Our ids are integers; a server that echoes them as strings still matches.
  return typeof id === 'number' ? id : id === null ? -1 : Number(id);
}

function abortReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason.message;
  return 'cancelled by the client';
}

function noop(): void {}
