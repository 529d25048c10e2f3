import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Balancer } from './balancer.ts';
import { Breaker } from './breaker.ts';
import type { BreakerState } from './breaker.ts';

/** A breaker on a clock the test moves (the breaker's own state machine, no I/O). */
function breaker(consecutiveFailures = 3, openFor = 100, maxOpenFor = 1_000) {
  let now = 0;
  const changes: BreakerState[] = [];
  const b = new Breaker({ consecutiveFailures, openFor, maxOpenFor }, () => now);
  b.onChange = (s) => changes.push(s);
  return { b, changes, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after the configured failures in a row; a success in between starts the count over', () => {
    const { b, changes } = breaker(3);
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.admits, false);
    assert.equal(b.acquire(), false);
    assert.deepEqual(changes, ['open']);
  });

  it('lets one probe through when half-open; its success closes, its failure reopens for twice as long', () => {
    const { b, advance } = breaker(1, 100, 1_000);
    b.failure();
    assert.equal(b.retryInMs, 100);
    advance(100);
    assert.equal(b.state, 'half-open');
    assert.equal(b.acquire(), true, 'the probe');
    assert.equal(b.acquire(), false, 'only one probe at a time');
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.retryInMs, 200, 'the second opening lasts twice as long');
    advance(200);
    assert.equal(b.acquire(), true);
    b.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.acquire(), true);
    assert.equal(b.acquire(), true, 'closed: no limit');
  });

  it('caps the opening at maxOpenFor and starts over after staying closed that long', () => {
    const { b, advance } = breaker(1, 100, 300);
    for (const expected of [100, 200, 300, 300]) {
      b.failure();
      assert.equal(b.retryInMs, expected);
      advance(expected);
      b.acquire();
    }
    b.success();
    advance(300);
    b.failure();
    assert.equal(b.retryInMs, 100, 'a replica healthy for maxOpenFor starts from openFor again');
  });

  it('a released probe (cancelled, refused by a limit) frees the slot without judging the replica', () => {
    const { b, advance } = breaker(1);
    b.failure();
    advance(100);
    assert.equal(b.acquire(), true);
    b.release();
    assert.equal(b.state, 'half-open');
    assert.equal(b.acquire(), true);
  });

  it('trip() opens at once (a failed health check) and consecutiveFailures 0 never opens on its own', () => {
    const { b } = breaker(0);
    for (let i = 0; i < 100; i++) b.failure();
    assert.equal(b.state, 'closed');
    b.trip();
    assert.equal(b.state, 'open');
  });
});

describe('balancer', () => {
  const replicas = [{ index: 0, load: 0 }, { index: 1, load: 0 }, { index: 2, load: 0 }];

  it('round robin takes each replica in turn', () => {
    const b = new Balancer('round-robin');
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => b.pick(replicas).index), [0, 1, 2, 0, 1, 2]);
  });

  it('least in flight takes the least loaded, spreading ties', () => {
    const b = new Balancer('least-in-flight');
    const loaded = [{ index: 0, load: 5 }, { index: 1, load: 1 }, { index: 2, load: 3 }];
    assert.deepEqual([0, 1, 2].map(() => b.pick(loaded).index), [1, 1, 1]);
    assert.deepEqual(new Set([0, 1, 2].map(() => b.pick(replicas).index)), new Set([0, 1, 2]));
  });
});
