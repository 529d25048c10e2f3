/**
 * Token buckets in process memory: the default counter store, exact for one replica. Memory stays bounded: a bucket
 * that has refilled is the same as no bucket, so idle ones are swept, and past `maxKeys` the least recently used go.
 */
import type { CounterStore, TakeResult } from '../counters.ts';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  updated: number;
  /** From this time on the bucket is full again and can be forgotten (ms). */
  fullAt: number;
}

export interface MemoryCounterOptions {
  /** Most buckets kept; past it the least recently used is dropped (it restarts full). */
  maxKeys?: number;
  /** How often (ms of the callers' clock) refilled buckets are swept. */
  sweepInterval?: number;
}

/** Float refill arithmetic must not turn "exactly one token" into 0.9999999. */
const EPSILON = 1e-9;

export class MemoryCounterStore implements CounterStore {
  /** In least-recently-used order: a take moves its bucket to the end. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly sweepInterval: number;
  private lastSweep = -Infinity;

  constructor(options: MemoryCounterOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.sweepInterval = options.sweepInterval ?? 60_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, rate: number, burst: number, now: number): TakeResult {
    if (now - this.lastSweep >= this.sweepInterval) this.sweep(now);
    const bucket = this.current(key, rate, burst, now);
    if (bucket.tokens + EPSILON >= 1) {
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      bucket.fullAt = now + ((burst - bucket.tokens) * 1000) / rate;
      return { allowed: true, remaining: Math.floor(bucket.tokens + EPSILON), retryAfterMs: 0 };
    }
    return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / rate - EPSILON)) };
  }

  refund(key: string, rate: number, burst: number, now: number): void {
    const bucket = this.buckets.get(key);
    if (!bucket) return; // forgotten: it is full anyway
    refill(bucket, rate, burst, now);
    bucket.tokens = Math.min(burst, bucket.tokens + 1);
    bucket.fullAt = now + ((burst - bucket.tokens) * 1000) / rate;
  }

  /** The bucket brought up to `now`, created full if unknown, moved to the most-recently-used end. */
  private current(key: string, rate: number, burst: number, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
      refill(bucket, rate, burst, now);
    } else {
      bucket = { tokens: burst, updated: now, fullAt: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forget every bucket that has refilled: taking from it again starts from a full bucket, which is the same. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
  }
}

function refill(bucket: Bucket, rate: number, burst: number, now: number): void {
  // A clock that steps back refills nothing rather than draining the bucket.
  const elapsed = Math.max(0, now - bucket.updated);
  bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * rate) / 1000);
  bucket.updated = Math.max(bucket.updated, now);
}
