/**
 * The `rate-limit` stage: token buckets on tools/call, prompts/get and resources/read (lists are free). Every limit
 * that applies to a call must allow it; a refused call is answered with GH_ERR_RATE_LIMITED (HTTP 429 + Retry-After
 * where the transport can) and costs the other limits nothing. Buckets live in the gateway's CounterStore.
 */
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { CONTINUE } from '../core/stage.ts';
import type { Stage, StageContext, Verdict } from '../core/stage.ts';
import { matchesAny } from '../catalog/glob.ts';
import type { CounterStore, TakeResult } from '../store/counters.ts';
import type { RateLimitConfig, RateLimitsConfig } from './config.ts';
import { parseRate } from './config.ts';

export type Clock = () => number;

/** A limit compiled for one virtual server: what it counts, how its bucket key is made, its bucket's shape. */
interface CompiledLimit {
  readonly name: string;
  /** Tokens per second. */
  readonly rate: number;
  readonly burst: number;
  applies(ctx: StageContext): boolean;
  /** The bucket key for this call, or null when the call has no value for it (unknown tool: left to the router). */
  key(ctx: StageContext): string | null;
}

const LIMITED_METHODS: Readonly<Record<string, 'tools' | 'prompts' | 'resources'>> = {
  'tools/call': 'tools',
  'prompts/get': 'prompts',
  'resources/read': 'resources',
};

type Verdicts = Verdict<JsonObject | undefined>;

/**
 * The rate-limit stage of one virtual server (`''` is the default endpoint), or null when no limit applies to it.
 * `clock` gives milliseconds (default Date.now: buckets shared between replicas need a shared notion of time).
 */
export function createRateLimitStage(config: RateLimitsConfig, virtualServer: string, store: CounterStore, clock: Clock = Date.now): Stage | null {
  const limits = config.filter((l) => l.match?.virtualServers === undefined || l.match.virtualServers.includes(virtualServer)).map(compile);
  if (limits.length === 0) return null;
  return {
    name: 'rate-limit',
    onRequest: function rateLimitRequest(ctx): Verdicts | Promise<Verdicts> {
      if (LIMITED_METHODS[ctx.method] === undefined) return CONTINUE;
      const now = clock();
      const taken: CompiledLimit[] = [];
      const keys: string[] = [];
      for (let i = 0; i < limits.length; i++) {
        const limit = limits[i];
        if (!limit.applies(ctx)) continue;
        const key = limit.key(ctx);
        if (key === null) continue;
        const result = store.take(key, limit.rate, limit.burst, now);
        if (result instanceof Promise) return finishAsync(result, limits, i, ctx, now, store, taken, keys);
        if (!result.allowed) return refuse(limit, result, store, taken, keys, now);
        taken.push(limit);
        keys.push(key);
      }
      return CONTINUE;
    },
  };
}

/** The same loop for a store that answers asynchronously (Redis), from limit `from`, whose take is `first`. */
async function finishAsync(
  first: Promise<TakeResult>, limits: readonly CompiledLimit[], from: number, ctx: StageContext, now: number,
  store: CounterStore, taken: CompiledLimit[], keys: string[],
): Promise<Verdicts> {
  for (let i = from; i < limits.length; i++) {
    const limit = limits[i];
    const key = i === from ? limit.key(ctx) : limit.applies(ctx) ? limit.key(ctx) : null;
    if (key === null) continue;
    const result = i === from ? await first : await store.take(key, limit.rate, limit.burst, now);
    if (!result.allowed) return refuse(limit, result, store, taken, keys, now);
    taken.push(limit);
    keys.push(key);
  }
  return CONTINUE;
}

function refuse(limit: CompiledLimit, result: TakeResult, store: CounterStore, taken: readonly CompiledLimit[], keys: readonly string[], now: number): Verdicts {
  // A refused call consumes nothing: the tokens the earlier limits gave are returned.
  for (let j = 0; j < taken.length; j++) void Promise.resolve(store.refund(keys[j], taken[j].rate, taken[j].burst, now)).catch(() => {});
  const error = new GatehouseError('GH_ERR_RATE_LIMITED', [limit.name, result.retryAfterMs], { retryAfterMs: result.retryAfterMs, limit: limit.name });
  error.headers = { 'retry-after': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) };
  return { action: 'reject', error };
}

function compile(limit: RateLimitConfig): CompiledLimit {
  const { count, windowMs } = parseRate(limit.rate);
  const rate = (count * 1000) / windowMs;
  const burst = limit.burst ?? Math.max(1, Math.ceil(count));
  const m = limit.match;
  const byKind = { tools: m?.tools, prompts: m?.prompts, resources: m?.resources };
  // Naming tools, prompts or resources limits the limit to those kinds of call; naming none counts every call.
  const anyKind = byKind.tools === undefined && byKind.prompts === undefined && byKind.resources === undefined;
  const upstreams = m?.upstreams;
  const prefix = `rl\u0000${limit.name}\u0000`;
  return {
    name: limit.name,
    rate,
    burst,
    applies(ctx) {
      if (upstreams !== undefined && (ctx.upstream === null || !upstreams.includes(ctx.upstream))) return false;
      if (anyKind) return true;
      const globs = byKind[LIMITED_METHODS[ctx.method]];
      return globs !== undefined && ctx.target !== null && matchesAny(ctx.target, globs);
    },
    key: keyMaker(limit.per, prefix),
  };
}

/** The tool a call addresses, the same whichever virtual server renamed it: upstream + the upstream's own name. */
function toolKey(ctx: StageContext): string | null {
  if (ctx.upstream !== null && ctx.original !== null) return `${ctx.upstream}\u0000${ctx.method}\u0000${ctx.original}`;
  return null;
}

function keyMaker(per: RateLimitConfig['per'], prefix: string): (ctx: StageContext) => string | null {
  switch (per) {
    case 'principal':
      return (ctx) => prefix + ctx.principal.id;
    case 'tool':
      return (ctx) => {
        const tool = toolKey(ctx);
        return tool === null ? null : prefix + tool;
      };
    case 'upstream':
      return (ctx) => (ctx.upstream === null ? null : prefix + ctx.upstream);
    case 'principal+tool':
      return (ctx) => {
        const tool = toolKey(ctx);
        return tool === null ? null : `${prefix}${ctx.principal.id}\u0000${tool}`;
      };
    case 'principal+upstream':
      return (ctx) => (ctx.upstream === null ? null : `${prefix}${ctx.principal.id}\u0000${ctx.upstream}`);
  }
}
