import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { UpstreamConfig } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';
import { connectUpstream } from './connect.ts';
import type { ConnectFactory } from './connect.ts';
import { UpstreamPool } from './pool.ts';
import type { PoolEvents, SlotRole } from './pool.ts';
import type { StdioConnection } from './stdio.ts';
import { CAPABILITIES, EVERYTHING_BIN, SED_SERVER, childrenOf, fixtureServer, processAlive, sleep, stdioConfig, tempDir, waitFor } from './testing.ts';
import type { UpstreamConnection } from './types.ts';

class Events implements PoolEvents {
  notifications: { conn: UpstreamConnection; n: JsonRpcNotification }[] = [];
  closes: { conn: UpstreamConnection; error?: Error }[] = [];
  opens: { conn: UpstreamConnection; role: SlotRole }[] = [];
  onNotification(conn: UpstreamConnection, n: JsonRpcNotification): void {
    this.notifications.push({ conn, n });
  }
  async onRequest(_conn: UpstreamConnection, r: JsonRpcRequest): Promise<JsonObject> {
    return r.method === 'roots/list' ? { roots: [] } : {};
  }
  onClose(conn: UpstreamConnection, error?: Error): void {
    this.closes.push({ conn, error });
  }
  onOpen(conn: UpstreamConnection, role: SlotRole): void {
    this.opens.push({ conn, role });
  }
}

const pools: UpstreamPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(name: string, config: UpstreamConfig, events = new Events(), connectFactory?: ConnectFactory): { pool: UpstreamPool; events: Events } {
  const p = new UpstreamPool(name, config, events, { capabilities: CAPABILITIES, clientVersion: '0.0.0-test', connectFactory });
  pools.push(p);
  return { pool: p, events };
}

const pid = (c: UpstreamConnection): number => (c as StdioConnection).pid!;
const ctx = (sessionId: string, principal = 'alice') => ({ sessionId, principal });
const fixture = fixtureServer();

describe('UpstreamPool, shared stdio', () => {
  it('serves every session and the catalog from one server-everything process', async () => {
    const { pool: p, events } = pool('everything', stdioConfig({ command: EVERYTHING_BIN }));
    await p.start();
    const catalog = await p.catalog();
    const [a, b] = await Promise.all([p.acquire(ctx('s1')), p.acquire(ctx('s2', 'bob'))]);
    assert.equal(a, catalog);
    assert.equal(b, catalog);
    assert.deepEqual(events.opens.map((o) => o.role), ['shared']);
    assert.equal(p.stats().processes, 1);
    const echo = await a.request('tools/call', { name: 'echo', arguments: { message: 'pooled' } });
    assert.equal((echo.content as { text: string }[])[0].text, 'Echo: pooled');
    await waitFor(() => events.notifications.some((x) => x.n.method === 'notifications/tools/list_changed' && x.conn === catalog), 3000, 'list_changed');
    p.release('s1'); // nothing to reap in shared mode
    assert.equal(catalog.closed, false);
    await p.close();
    assert.equal(processAlive(pid(catalog)), false);
    await assert.rejects(p.acquire(ctx('s3')), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_SHUTTING_DOWN');
  });

  it('restarts a crashed shared process with backoff; requests meanwhile wait for it', async () => {
    const { pool: p, events } = pool('crashy', stdioConfig({ command: process.execPath, args: [fixture, 'ping'], pool: { backoff: 150, maxBackoff: 1000 } }));
    await p.start();
    const first = await p.acquire(ctx('s1'));
    const inflight = first.request('tools/call', { name: 'slow', arguments: { ms: 5000 } });
    const killedAt = Date.now();
    process.kill(pid(first), 'SIGKILL');
    await assert.rejects(inflight, (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_UPSTREAM_CLOSED' && /crashy/.test(e.message));
    await waitFor(() => events.closes.length === 1, 2000, 'onClose');
    assert.match(events.closes[0].error!.message, /killed by SIGKILL/);
    // The caller's cached connection is closed; it acquires again and waits for the restart.
    assert.equal(first.closed, true);
    const second = await p.acquire(ctx('s1'));
    assert.ok(Date.now() - killedAt >= 140, 'waited out the first backoff');
    assert.notEqual(pid(second), pid(first));
    assert.deepEqual(await second.request('ping', undefined), {});
    assert.equal(p.stats().restarts, 1);
    assert.deepEqual(events.opens.map((o) => o.role), ['shared', 'shared']);
    // A second crash right away waits twice as long.
    const again = Date.now();
    process.kill(pid(second), 'SIGKILL');
    await waitFor(() => second.closed, 2000, 'second crash seen');
    const third = await p.catalog();
    assert.ok(Date.now() - again >= 290, `backoff doubled (${Date.now() - again} ms)`);
    assert.notEqual(pid(third), pid(second));
    assert.equal(p.stats().processes, 1);
  });

  it('bounds the wait by the connect timeout while restarts fail, then recovers', async () => {
    const flag = join(tempDir(), 'refuse-start');
    const { pool: p } = pool('flaky', stdioConfig({ command: process.execPath, args: [fixture, 'ping', `--fail-if=${flag}`], timeouts: { connect: 1000 }, pool: { backoff: 50, maxBackoff: 100 } }));
    const first = await p.catalog();
    writeFileSync(flag, '');
    process.kill(pid(first), 'SIGKILL');
    await waitFor(() => first.closed, 2000, 'crash seen');
    const started = Date.now();
    const err = await p.acquire(ctx('s1')).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_UNAVAILABLE', String(err));
    // The last error is the failed restart (or, on a slow machine, still the crash itself).
    assert.match(err.message, /^Upstream flaky is unavailable: not back within 1000 ms after it stopped \((.*refusing to start|killed by SIGKILL)/);
    assert.ok(Date.now() - started >= 990);
    assert.ok(p.stats().restarts >= 2, 'kept trying in the background');
    rmSync(flag);
    const back = await p.acquire(ctx('s1'));
    assert.deepEqual(await back.request('ping', undefined), {});
  });

  it('a failed start rejects with the cause and keeps retrying in the background', async () => {
    const flag = join(tempDir(), 'refuse-first-start');
    writeFileSync(flag, '');
    const { pool: p, events } = pool('late', stdioConfig({ command: process.execPath, args: [fixture, 'ping', `--fail-if=${flag}`], pool: { backoff: 50, maxBackoff: 100 } }));
    await assert.rejects(p.start(), /Upstream late is unavailable: exited with code 4 before initialize completed; stderr: refusing to start/);
    rmSync(flag);
    await waitFor(() => events.opens.length === 1, 3000, 'background start');
    assert.equal(events.opens[0].role, 'shared');
    assert.equal((await p.catalog()).closed, false);
  });

  it('recycles the shared process after maxLifetime while the old one drains', async () => {
    const { pool: p } = pool('aging', stdioConfig({ command: process.execPath, args: [fixture, 'ping'], pool: { maxLifetime: 300 } }));
    const old = await p.acquire(ctx('s1'));
    // The call is held until the test sends SIGUSR2, so it is still in flight however long the recycle takes.
    const draining = old.request('tools/call', { name: 'hold', arguments: {} });
    await waitFor(() => old.closed, 2000, 'old connection retired');
    const fresh = await p.acquire(ctx('s1'));
    assert.notEqual(fresh, old);
    assert.notEqual(pid(fresh), pid(old));
    assert.ok(processAlive(pid(old)), 'the old process drains its in-flight request');
    assert.equal(p.stats().processes, 2);
    process.kill(pid(old), 'SIGUSR2');
    const result = await draining;
    assert.equal((result.content as { text: string }[])[0].text, `held until released in ${pid(old)}`);
    await waitFor(() => !processAlive(pid(old)), 2000, 'old process stopped');
    assert.ok(p.stats().recycled >= 1);
    assert.equal(p.stats().restarts, 0, 'a recycle is not a restart');
  });
});

describe('UpstreamPool, per-session and per-user stdio', () => {
  it('gives each session its own process, shares one start per key, and reaps on release', async () => {
    let made = 0;
    const counting: ConnectFactory = (...args) => {
      made++;
      return connectUpstream(...args);
    };
    const { pool: p, events } = pool('isolated', stdioConfig({ ...SED_SERVER, sharing: 'per-session' }), undefined, counting);
    await p.start();
    assert.deepEqual(events.opens.map((o) => o.role), ['catalog']);
    const same = await Promise.all([1, 2, 3, 4, 5].map(() => p.acquire(ctx('s1'))));
    assert.ok(same.every((c) => c === same[0]));
    assert.equal(made, 2, `catalog + one start for five concurrent acquires; opens: ${events.opens.map((o) => o.role).join()} closes: ${events.closes.map((c) => c.error?.message).join()}`);
    const other = await p.acquire(ctx('s2'));
    assert.notEqual(other, same[0]);
    assert.notEqual(await p.catalog(), same[0]);
    assert.equal(p.stats().processes, 3);
    p.release('s1');
    await waitFor(() => !processAlive(pid(same[0])), 2000, 'released process gone');
    assert.equal(same[0].closed, true);
    await waitFor(() => p.stats().processes === 2, 2000, 'pool saw the exit');
    assert.ok(events.closes.some((c) => c.conn === same[0] && c.error === undefined));
  });

  it('enforces maxProcesses, counting the catalog and processes still starting', async () => {
    const { pool: p } = pool('capped', stdioConfig({ ...SED_SERVER, sharing: 'per-session', pool: { maxProcesses: 3 } }));
    await p.start();
    const results = await Promise.allSettled(['a', 'b', 'c'].map((s) => p.acquire(ctx(s))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
    const err = (results[2] as PromiseRejectedResult).reason;
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CAPACITY');
    assert.equal(err.message, 'Upstream capped is at its process cap (3); retry later');
    assert.equal(p.stats().rejected, 1);
    p.release('a');
    await waitFor(() => p.stats().processes === 2, 2000, 'slot freed');
    assert.ok(await p.acquire(ctx('c')));
  });

  it('shares a process per principal', async () => {
    const { pool: p } = pool('per-user', stdioConfig({ ...SED_SERVER, sharing: 'per-user' }));
    const [a1, a2, b] = await Promise.all([p.acquire(ctx('s1', 'alice')), p.acquire(ctx('s2', 'alice')), p.acquire(ctx('s3', 'bob'))]);
    assert.equal(a1, a2);
    assert.notEqual(a1, b);
    p.release('s1'); // per-user processes outlive a session; the idle reaper ends them
    assert.equal(a1.closed, false);
  });

  it('reaps idle per-session processes with one sweep timer, and a reaped session gets a fresh one', async () => {
    const { pool: p } = pool('idle', stdioConfig({ ...SED_SERVER, sharing: 'per-session', pool: { idleTimeout: 300 } }));
    const conn = await p.acquire(ctx('s1'));
    // Traffic keeps it alive past the idle timeout: a ping every ~50 ms for ~400 ms (> idleTimeout 300).
    // The sleep spaces out load over time; it is load generation, not synchronisation (nothing is awaited by it).
    for (let i = 0; i < 8; i++) {
      await conn.request('ping', undefined);
      await sleep(50);
    }
    assert.equal(conn.closed, false);
    await waitFor(() => conn.closed, 2000, 'idle reap');
    assert.equal(p.stats().reaped, 1);
    const again = await p.acquire(ctx('s1'));
    assert.notEqual(again, conn);
    assert.deepEqual(await again.request('ping', undefined), {});
  });

  it('leaks nothing: 300 sessions, released or abandoned to the reaper, return to the floor', async () => {
    const { pool: p } = pool('churn', stdioConfig({ ...SED_SERVER, sharing: 'per-session', pool: { maxProcesses: 64, idleTimeout: 150, killGrace: 500 } }));
    const catalog = await p.catalog();
    const pids = new Set<number>();
    const before = new Set(childrenOf(process.pid));
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(Array.from({ length: 30 }, async (_, i) => {
        const id = `w${wave}-${i}`;
        const conn = await p.acquire(ctx(id, `user-${i}`));
        pids.add(pid(conn));
        assert.deepEqual(await conn.request('ping', undefined), {});
        if (i % 3 !== 0) p.release(id); // every third session is abandoned to the idle reaper
      }));
      // Released processes free their slots; abandoned ones wait for the reaper (cap 64 > 10 + 20 per wave).
      await waitFor(() => p.stats().processes <= 64 - 30, 3000, `room after wave ${wave}`);
    }
    assert.equal(pids.size, 300);
    await waitFor(() => p.stats().processes === 1, 5000, 'pool back to the catalog process');
    assert.deepEqual(p.stats(), { processes: 1, connections: 1, starting: 0, restarts: 0, reaped: 100, recycled: 0, rejected: 0 });
    await waitFor(() => [...pids].every((x) => !processAlive(x)), 3000, 'every session process gone');
    const stray = childrenOf(process.pid).filter((c) => !before.has(c));
    assert.deepEqual(stray, [], `stray children: ${stray.join(', ')}`);
    for (const x of pids) assert.throws(() => process.kill(-x, 0), /ESRCH/, `process group ${x} is gone`);
    await p.close();
    assert.equal(processAlive(pid(catalog)), false);
    assert.equal(p.stats().processes, 0);
  });
});
