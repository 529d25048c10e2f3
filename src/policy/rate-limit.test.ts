import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANONYMOUS } from '../auth/principal.ts';
import type { Principal } from '../auth/principal.ts';
import { GatehouseError } from '../core/errors.ts';
import type { Stage, StageContext } from '../core/stage.ts';
import type { CounterStore, TakeResult } from '../store/counters.ts';
import { MemoryCounterStore } from '../store/memory/counters.ts';
import { parseRate, rateLimitsSchema } from './config.ts';
import { createRateLimitStage } from './rate-limit.ts';

const alice: Principal = { ...ANONYMOUS, id: 'key:alice', kind: 'api-key' };
const bob: Principal = { ...ANONYMOUS, id: 'key:bob', kind: 'api-key' };

function call(principal: Principal, target: string, upstream = 'search', method = 'tools/call', virtualServer = ''): StageContext {
  const original = target.includes('__') ? target.slice(target.indexOf('__') + 2) : target;
  return { method, sessionId: 's', principal, virtualServer, target, upstream, original, upstreamOf: () => null, listBefore: () => [], dispatch: async () => ({}), notify: () => {} };
}

/** A stage over a fake clock; `now.t` moves time. */
function setup(limits: unknown[], virtualServer = '', store: CounterStore = new MemoryCounterStore()): { stage: Stage; now: { t: number } } {
  const now = { t: 1_000_000 };
  const stage = createRateLimitStage(rateLimitsSchema.parse(limits), virtualServer, store, () => now.t);
  assert.ok(stage);
  return { stage, now };
}

async function attempt(stage: Stage, ctx: StageContext): Promise<GatehouseError | null> {
  const v = await stage.onRequest!(ctx, { name: ctx.target });
  if (v.action === 'reject') return v.error;
  assert.equal(v.action, 'continue');
  return null;
}

async function allowedOf(stage: Stage, ctx: StageContext, n: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await attempt(stage, ctx)) === null) allowed++;
  return allowed;
}

describe('rate-limit config', () => {
  it('parses rates per second, minute and hour', () => {
    assert.deepEqual(parseRate('10/s'), { count: 10, windowMs: 1000 });
    assert.deepEqual(parseRate('600/m'), { count: 600, windowMs: 60_000 });
    assert.deepEqual(parseRate('10000/h'), { count: 10_000, windowMs: 3_600_000 });
    assert.deepEqual(parseRate('5 / min'), { count: 5, windowMs: 60_000 });
    for (const bad of ['10', '10/d', '/s', '0/s', '-1/s', 'ten/s']) assert.throws(() => parseRate(bad), bad);
  });

  it('validates entries: rate format, per, burst, unique names', () => {
    const parsed = rateLimitsSchema.parse([{ name: 'a', rate: '10/s' }]);
    assert.equal(parsed[0].per, 'principal');
    assert.equal(rateLimitsSchema.safeParse([{ name: 'a', rate: '10 per second' }]).success, false);
    assert.equal(rateLimitsSchema.safeParse([{ name: 'a', rate: '10/s', per: 'session' }]).success, false);
    assert.equal(rateLimitsSchema.safeParse([{ name: 'a', rate: '10/s', burst: 0 }]).success, false);
    assert.equal(rateLimitsSchema.safeParse([{ name: 'a', rate: '10/s', match: { tool: ['x'] } }]).success, false);
    const dup = rateLimitsSchema.safeParse([{ name: 'a', rate: '1/s' }, { name: 'a', rate: '2/s' }]);
    assert.equal(dup.success, false);
    assert.deepEqual(dup.error!.issues[0].path, [1, 'name']);
  });
});

describe('rate-limit stage', () => {
  it('is absent when no limit applies to the virtual server', () => {
    const store = new MemoryCounterStore();
    assert.equal(createRateLimitStage([], '', store), null);
    const limits = rateLimitsSchema.parse([{ name: 'a', rate: '1/s', match: { virtualServers: ['research'] } }]);
    assert.equal(createRateLimitStage(limits, '', store), null);
    assert.equal(createRateLimitStage(limits, 'research', store)?.name, 'rate-limit');
  });

  it('allows the burst, refuses the next call with retry-after data and a Retry-After header, refills with time', async () => {
    const { stage, now } = setup([{ name: 'per-user', per: 'principal', rate: '10/s', burst: 20 }]);
    assert.equal(await allowedOf(stage, call(alice, 'search__query'), 20), 20);
    const err = await attempt(stage, call(alice, 'search__query'));
    assert.ok(err);
    assert.equal(err.code, 'GH_ERR_RATE_LIMITED');
    assert.equal(err.status, 429);
    assert.equal(err.rpcCode, -32029);
    assert.deepEqual(err.data, { retryAfterMs: 100, limit: 'per-user' });
    assert.deepEqual(err.headers, { 'retry-after': '1' });
    now.t += 100;
    assert.equal(await attempt(stage, call(alice, 'search__query')), null);
    assert.ok(await attempt(stage, call(alice, 'search__query')));
  });

  it('Retry-After is in whole seconds, rounded up', async () => {
    const { stage } = setup([{ name: 'hourly', rate: '2/h' }]);
    await allowedOf(stage, call(alice, 't'), 2);
    const err = (await attempt(stage, call(alice, 't')))!;
    assert.deepEqual(err.data, { retryAfterMs: 1_800_000, limit: 'hourly' });
    assert.equal(err.headers!['retry-after'], '1800');
  });

  it('lists and other methods are free', async () => {
    const { stage } = setup([{ name: 'tight', rate: '1/h' }]);
    for (const method of ['tools/list', 'prompts/list', 'resources/list', 'ping', 'completion/complete']) {
      assert.equal(await allowedOf(stage, { ...call(alice, 'x'), method, target: null }, 5), 5, method);
    }
    // prompts/get and resources/read count.
    assert.equal(await allowedOf(stage, call(alice, 'greeting', 'search', 'prompts/get'), 3), 1);
  });

  it('keeps keys apart: per principal, per tool, per upstream and combinations', async () => {
    const perPrincipal = setup([{ name: 'l', per: 'principal', rate: '1/h', burst: 2 }]).stage;
    assert.equal(await allowedOf(perPrincipal, call(alice, 'a__x'), 3), 2);
    assert.equal(await allowedOf(perPrincipal, call(alice, 'b__y', 'other'), 1), 0, 'same principal, other tool: same bucket');
    assert.equal(await allowedOf(perPrincipal, call(bob, 'a__x'), 3), 2, 'another principal is unaffected');

    const perTool = setup([{ name: 'l', per: 'tool', rate: '1/h', burst: 2 }]).stage;
    assert.equal(await allowedOf(perTool, call(alice, 'a__x', 'a'), 2), 2);
    assert.equal(await allowedOf(perTool, call(bob, 'a__x', 'a'), 1), 0, 'a tool bucket is shared by everyone');
    assert.equal(await allowedOf(perTool, call(bob, 'a__y', 'a'), 1), 1);

    const perUpstream = setup([{ name: 'l', per: 'upstream', rate: '1/h', burst: 2 }]).stage;
    assert.equal(await allowedOf(perUpstream, call(alice, 'a__x', 'a'), 1), 1);
    assert.equal(await allowedOf(perUpstream, call(bob, 'a__y', 'a'), 2), 1);
    assert.equal(await allowedOf(perUpstream, call(bob, 'b__y', 'b'), 2), 2);

    const perUserTool = setup([{ name: 'l', per: 'principal+tool', rate: '1/h', burst: 1 }]).stage;
    assert.equal(await allowedOf(perUserTool, call(alice, 'a__x', 'a'), 2), 1);
    assert.equal(await allowedOf(perUserTool, call(alice, 'a__y', 'a'), 2), 1);
    assert.equal(await allowedOf(perUserTool, call(bob, 'a__x', 'a'), 2), 1);

    const perUserUpstream = setup([{ name: 'l', per: 'principal+upstream', rate: '1/h', burst: 1 }]).stage;
    assert.equal(await allowedOf(perUserUpstream, call(alice, 'a__x', 'a'), 1), 1);
    assert.equal(await allowedOf(perUserUpstream, call(alice, 'a__y', 'a'), 1), 0);
    assert.equal(await allowedOf(perUserUpstream, call(alice, 'b__x', 'b'), 1), 1);
    assert.equal(await allowedOf(perUserUpstream, call(bob, 'a__x', 'a'), 1), 1);
  });

  it('keys a tool by its upstream and original name, whatever a virtual server renamed it to', async () => {
    const store = new MemoryCounterStore();
    const limits = [{ name: 'l', per: 'tool', rate: '1/h', burst: 1 }];
    const a = setup(limits, 'a', store).stage;
    const b = setup(limits, 'b', store).stage;
    assert.equal(await attempt(a, { ...call(alice, 'search__query', 'search', 'tools/call', 'a') }), null);
    assert.ok(await attempt(b, { ...call(alice, 'renamed', 'search', 'tools/call', 'b'), original: 'query' }));
  });

  it('leaves a call with no upstream (an unknown tool) to the router', async () => {
    const { stage } = setup([{ name: 'l', per: 'tool', rate: '1/h', burst: 1 }]);
    const unknown = { ...call(alice, 'nope'), upstream: null, original: null };
    assert.equal(await allowedOf(stage, unknown, 3), 3);
  });

  it('applies every matching limit, and a refused call spends nothing on the others', async () => {
    const { stage, now } = setup([
      { name: 'user', per: 'principal', rate: '10/s', burst: 3 },
      { name: 'tool', per: 'tool', rate: '1/s', burst: 1 },
    ]);
    assert.equal(await attempt(stage, call(alice, 'search__query')), null);
    const err = (await attempt(stage, call(alice, 'search__query')))!;
    assert.equal((err.data as { limit: string }).limit, 'tool');
    // The user bucket was refunded: two more calls on other tools pass (3 - 1 = 2), then `user` refuses.
    assert.equal(await attempt(stage, call(alice, 'search__a')), null);
    assert.equal(await attempt(stage, call(alice, 'search__b')), null);
    assert.equal(((await attempt(stage, call(alice, 'search__c')))!.data as { limit: string }).limit, 'user');
    // When both refill, both must allow again.
    now.t += 1000;
    assert.equal(await attempt(stage, call(alice, 'search__query')), null);
  });

  it('match filters: tool globs, prompts, resources, upstreams, virtual servers', async () => {
    const { stage } = setup([{ name: 'search-tools', rate: '1/h', burst: 1, match: { tools: ['*__search_*'] } }]);
    assert.equal(await allowedOf(stage, call(alice, 'web__search_pages', 'web'), 3), 1);
    assert.equal(await allowedOf(stage, call(alice, 'web__fetch', 'web'), 3), 3, 'not matched by the glob');
    assert.equal(await allowedOf(stage, call(alice, 'web__search_pages', 'web', 'prompts/get'), 3), 3, 'a tools filter limits only tools/call');

    const resources = setup([{ name: 'r', rate: '1/h', burst: 1, match: { resources: ['file:///secret/*'] } }]).stage;
    assert.equal(await allowedOf(resources, call(alice, 'file:///secret/a', 'fs', 'resources/read'), 2), 1);
    assert.equal(await allowedOf(resources, call(alice, 'file:///public/a', 'fs', 'resources/read'), 2), 2);
    assert.equal(await allowedOf(resources, call(alice, 'fs__read', 'fs'), 2), 2);

    const upstreams = setup([{ name: 'u', rate: '1/h', burst: 1, match: { upstreams: ['paid'] } }]).stage;
    assert.equal(await allowedOf(upstreams, call(alice, 'paid__x', 'paid'), 2), 1);
    assert.equal(await allowedOf(upstreams, call(alice, 'free__x', 'free'), 2), 2);

    const vsLimits = [{ name: 'v', rate: '1/h', burst: 1, match: { virtualServers: ['research', ''] } }];
    assert.ok(setup(vsLimits, 'research'));
    assert.ok(setup(vsLimits, ''));
    assert.equal(createRateLimitStage(rateLimitsSchema.parse(vsLimits), 'ops', new MemoryCounterStore()), null);
  });

  it('works with an asynchronous store (the Redis shape)', async () => {
    const memory = new MemoryCounterStore();
    const refunds: string[] = [];
    const asyncStore: CounterStore = {
      take: (key, rate, burst, now): Promise<TakeResult> => Promise.resolve(memory.take(key, rate, burst, now)),
      refund: (key, rate, burst, now) => {
        refunds.push(key);
        return Promise.resolve(memory.refund(key, rate, burst, now));
      },
    };
    const { stage } = setup([
      { name: 'user', per: 'principal', rate: '1/h', burst: 5 },
      { name: 'unmatched', rate: '1/h', burst: 1, match: { tools: ['other'] } },
      { name: 'tool', per: 'tool', rate: '1/h', burst: 2 },
    ], '', asyncStore);
    assert.equal(await allowedOf(stage, call(alice, 'search__query'), 3), 2);
    assert.equal(refunds.length, 1);
    let allowed = 0;
    for (let i = 0; i < 5; i++) if ((await attempt(stage, call(alice, `search__t${i}`))) === null) allowed++;
    assert.equal(allowed, 3, 'user had 5 - 2 left, thanks to the refund');
  });
});
