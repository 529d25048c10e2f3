import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCounterStore } from './counters.ts';

describe('memory counter store (token bucket)', () => {
  it('allows a full burst at once, then refuses with the time until one token is back', () => {
    const store = new MemoryCounterStore();
    // 10/s, burst 20: 20 calls at t=0, the 21st waits 100 ms.
    for (let i = 0; i < 20; i++) {
      const r = store.take('k', 10, 20, 0);
      assert.equal(r.allowed, true, `call ${i + 1}`);
      assert.equal(r.remaining, 19 - i);
    }
    assert.deepEqual(store.take('k', 10, 20, 0), { allowed: false, remaining: 0, retryAfterMs: 100 });
    assert.deepEqual(store.take('k', 10, 20, 40), { allowed: false, remaining: 0, retryAfterMs: 60 });
  });

  it('refills at the rate, never above the burst', () => {
    const store = new MemoryCounterStore();
    for (let i = 0; i < 5; i++) store.take('k', 10, 5, 0);
    assert.equal(store.take('k', 10, 5, 99).allowed, false);
    assert.equal(store.take('k', 10, 5, 100).allowed, true, 'one token after 100 ms');
    assert.equal(store.take('k', 10, 5, 100).allowed, false);
    // Three tokens after 300 ms more.
    for (let i = 0; i < 3; i++) assert.equal(store.take('k', 10, 5, 400).allowed, true);
    assert.equal(store.take('k', 10, 5, 400).allowed, false);
    // A long pause fills the bucket to the burst, not beyond.
    let allowed = 0;
    while (store.take('k', 10, 5, 3_600_000).allowed) allowed++;
    assert.equal(allowed, 5);
  });

  it('computes retry-after for slow rates (per hour) and rounds up', () => {
    const store = new MemoryCounterStore();
    assert.equal(store.take('k', 1 / 3600, 1, 0).allowed, true);
    assert.equal(store.take('k', 1 / 3600, 1, 0).retryAfterMs, 3_600_000);
    assert.equal(store.take('k', 1 / 3600, 1, 1_000).retryAfterMs, 3_599_000);
    // 3 per second: a third of a second is 333.33 ms, so the wait is 334.
    for (let i = 0; i < 3; i++) store.take('t', 3, 3, 0);
    assert.equal(store.take('t', 3, 3, 0).retryAfterMs, 334);
    assert.equal(store.take('t', 3, 3, 334).allowed, true);
  });

  it('keeps keys apart', () => {
    const store = new MemoryCounterStore();
    assert.equal(store.take('a', 1, 1, 0).allowed, true);
    assert.equal(store.take('a', 1, 1, 0).allowed, false);
    assert.equal(store.take('b', 1, 1, 0).allowed, true);
  });

  it('a refund gives a token back, capped at the burst', () => {
    const store = new MemoryCounterStore();
    store.take('k', 1, 2, 0);
    store.take('k', 1, 2, 0);
    store.refund('k', 1, 2, 0);
    assert.equal(store.take('k', 1, 2, 0).allowed, true);
    assert.equal(store.take('k', 1, 2, 0).allowed, false);
    store.refund('k', 1, 2, 5_000);
    store.refund('k', 1, 2, 5_000);
    assert.equal(store.take('k', 1, 2, 5_000).remaining, 1, 'never above the burst');
  });

  it('a clock stepping back refills nothing and drains nothing', () => {
    const store = new MemoryCounterStore();
    store.take('k', 1, 1, 10_000);
    assert.equal(store.take('k', 1, 1, 5_000).allowed, false);
    assert.equal(store.take('k', 1, 1, 11_000).allowed, true);
  });

  it('forgets buckets that have refilled (bounded memory)', () => {
    const store = new MemoryCounterStore({ sweepInterval: 1_000 });
    for (let i = 0; i < 1_000; i++) store.take(`user-${i}`, 1, 5, 0);
    assert.equal(store.size, 1_000);
    // 4 s later every bucket (4 tokens short at 1/s) is full again: the next sweep drops them all.
    store.take('late', 1, 5, 4_000);
    assert.equal(store.size, 1);
    // A bucket still short of tokens is kept: forgetting it would hand out a fresh burst.
    for (let i = 0; i < 5; i++) store.take('busy', 1, 5, 4_000);
    store.take('other', 1, 5, 5_000);
    assert.equal(store.take('busy', 1, 5, 5_000).allowed, true);
    assert.equal(store.take('busy', 1, 5, 5_000).allowed, false);
  });

  it('drops the least recently used bucket past maxKeys', () => {
    const store = new MemoryCounterStore({ maxKeys: 3 });
    for (const k of ['a', 'b', 'c']) store.take(k, 1, 1, 0);
    store.take('a', 1, 1, 0); // a is now the most recently used
    store.take('d', 1, 1, 0); // evicts b
    assert.equal(store.size, 3);
    assert.equal(store.take('a', 1, 1, 0).allowed, false, 'a kept its state');
    assert.equal(store.take('b', 1, 1, 0).allowed, true, 'b was forgotten and restarts full');
  });
});
