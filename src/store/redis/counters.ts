/**
 * Rate-limit buckets in Redis: one hash per bucket, taken and refilled by a Lua script, so a take is atomic across
 * every replica. The script reads Redis's own clock (TIME): replicas whose clocks differ still refill one bucket at
 * one rate. While Redis is unreachable, takes fall back to this replica's own buckets (limits then hold per replica,
 * not across them) and the gateway says so in /readyz.
 */
import type { CounterStore, TakeResult } from '../counters.ts';
import { MemoryCounterStore } from '../memory/counters.ts';
import type { RedisStore } from './client.ts';

// KEYS[1]: the bucket. ARGV: rate (tokens/s), burst, cost (1 to take, -1 to give back).
// Returns { allowed (0|1), whole tokens left, ms until one token is back }.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed, retry = 0, 0
if cost < 0 then
  tokens = math.min(burst, tokens - cost); allowed = 1
elseif tokens >= cost then
  tokens = tokens - cost; allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, math.floor(tokens), retry }
`;

export class RedisCounterStore implements CounterStore {
  private readonly redis: RedisStore;
  private readonly fallback = new MemoryCounterStore();

  constructor(redis: RedisStore) {
    this.redis = redis;
    redis.client.defineCommand('gatehouseTake', { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, rate: number, burst: number, now: number): Promise<TakeResult> {
    if (!this.redis.healthy) return this.fallback.take(key, rate, burst, now);
    try {
      const [allowed, remaining, retryAfterMs] = await this.run(key, rate, burst, 1);
      return { allowed: allowed === 1, remaining, retryAfterMs };
    } catch {
      return this.fallback.take(key, rate, burst, now);
    }
  }

  async refund(key: string, rate: number, burst: number, now: number): Promise<void> {
    if (!this.redis.healthy) return this.fallback.refund(key, rate, burst, now);
    await this.run(key, rate, burst, -1).catch(() => this.fallback.refund(key, rate, burst, now));
  }

  private run(key: string, rate: number, burst: number, cost: number): Promise<[number, number, number]> {
    const client = this.redis.client as unknown as { gatehouseTake(key: string, rate: number, burst: number, cost: number): Promise<[number, number, number]> };
    return client.gatehouseTake(this.redis.key(`bucket:${key}`), rate, burst, cost);
  }
}
