/**
 * The counter store: token buckets keyed by string, shared by every rate-limit stage of a gateway. One interface,
 * several implementations (memory now; Redis, where replicas share buckets, later): `take` must be atomic per key.
 */

export interface TakeResult {
  readonly allowed: boolean;
  /** Whole tokens left after this take. */
  readonly remaining: number;
  /** When denied, how long until one token is back (ms, rounded up); 0 when allowed. */
  readonly retryAfterMs: number;
}

export interface CounterStore {
  /**
   * Take one token from the bucket `key`, which holds at most `burst` tokens and refills at `rate` tokens per second,
   * at time `now` (ms since the epoch, from the caller's clock). A bucket never seen before (or forgotten after it
   * refilled) starts full. Atomic per key.
   */
  take(key: string, rate: number, burst: number, now: number): TakeResult | Promise<TakeResult>;
  /** Give back the token of an allowed take, when another limit refused the same call. Never above `burst`. */
  refund(key: string, rate: number, burst: number, now: number): void | Promise<void>;
  close?(): Promise<void>;
}
