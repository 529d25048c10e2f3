/**
 * Replicas sharing the machine's Redis (store.redis): rate limits hold across them, a session ended on one is
 * refused by the other, /readyz reports Redis. A Redis of the test's own (a redis-server child process) is killed
 * to show a running gateway keeps serving without it and recovers; an unreachable Redis fails start, naming the URL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { freePort, until } from './helpers/wait.ts';
import { exampleStdioCommand, nodeBinary, REPO_ROOT, waitForLine } from './helpers/spawn.ts';
import { SseReader } from './integration/harness.ts';

const VERSION = '2025-11-25';
const REDIS = 'redis://127.0.0.1:6379';



describe('replicas sharing Redis', () => {
  // A prefix of this run's own: the machine's Redis may hold other runs' keys.
  const prefix = `gatehouse-test-${randomBytes(4).toString('hex')}:`;
  const key = randomBytes(32).toString('base64');
  const store = join(mkdtempSync(join(tmpdir(), 'gatehouse-redis-')), 'gatehouse.db');
  const config = {
    store: { path: store, redis: { url: REDIS, keyPrefix: prefix } },
    auth: { enabled: true },
    sessions: { keys: [{ id: 'k1', secret: key }] },
    rateLimits: [{ name: 'per-user', per: 'principal', rate: '3/h', burst: 3, match: { tools: ['echo'] } }],
    upstreams: { everything: everythingStdio() },
  };
  let a: RunningGateway;
  let b: RunningGateway;
  let token = '';
  const open = async (gw: RunningGateway) => (await post(gw.url, INIT(VERSION), { authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
  const echo = (gw: RunningGateway, session: string, id: number) =>
    post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }, { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });

  before(async () => {
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
    token = (await issueApiKey(a.gateway.apiKeys!, { owner: 'alice' })).token;
  });
  after(() => Promise.all([a?.close(), b?.close()]));

  it('/readyz reports Redis', async () => {
    const ready = (await (await fetch(`${a.base}/readyz`)).json()) as { redis: { url: string; status: string } };
    assert.deepEqual(ready.redis, { url: `${REDIS}`, status: 'ready' });
  });

  it('a rate limit holds across replicas: 3 per hour in all, wherever the calls land', async () => {
    const session = await open(a);
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await echo(i % 2 === 0 ? a : b, session, i);
      outcomes.push(r.json?.result ? 'ok' : (r.json?.error?.data?.code ?? `HTTP ${r.status}`));
    }
    assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'GH_ERR_RATE_LIMITED', 'GH_ERR_RATE_LIMITED', 'GH_ERR_RATE_LIMITED']);
  });

  it('a session ended with DELETE on one replica is refused by the other', async () => {
    const fresh = (await issueApiKey(a.gateway.apiKeys!, { owner: 'carol' })).token;
    const init = await post(a.url, INIT(VERSION), { authorization: `Bearer ${fresh}` });
    const session = init.headers.get('mcp-session-id')!;
    const list = (gw: RunningGateway) => post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${fresh}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.equal((await list(b)).status, 200, 'served by the other replica first');
    b.gateway.sessions.end(session); // b forgets it (as after a restart): only its sealed id remains
    const res = await fetch(a.url, { method: 'DELETE', headers: { authorization: `Bearer ${fresh}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION } });
    assert.equal(res.status, 204);
    await until(async () => (await list(b)).status === 404, 'the other replica refusing the ended session', 1_000);
  });

  it('a session ended with DELETE on one replica ends where it is live on the other, even if used in between', async () => {
    const fresh = (await issueApiKey(a.gateway.apiKeys!, { owner: 'dave' })).token;
    const init = await post(a.url, INIT(VERSION), { authorization: `Bearer ${fresh}` });
    const session = init.headers.get('mcp-session-id')!;
    const list = (gw: RunningGateway) => post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${fresh}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.equal((await list(b)).status, 200, 'live on the other replica');
    const res = await fetch(a.url, { method: 'DELETE', headers: { authorization: `Bearer ${fresh}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION } });
    assert.equal(res.status, 204);
    // Every poll before the news arrives is served by b's live session; once it arrives, b ends that session.
    await until(async () => (await list(b)).status === 404, 'the other replica ending its live session', 5_000);
    assert.equal([...b.gateway.sessions.values()].some((s) => s.id === session), false, 'b no longer holds it');
  });
});

describe('an upstream\'s list_changed heard by one replica', () => {
  const prefix = `gatehouse-test-${randomBytes(4).toString('hex')}:`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  const list = join(dir, 'tools.json');
  writeFileSync(list, JSON.stringify(['first']));
  const config = () => ({
    store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-redis-')), 'gatehouse.db'), redis: { url: REDIS, keyPrefix: prefix } },
    upstreams: { shared: { command: nodeBinary(), args: [join(REPO_ROOT, 'test/fixtures/file-listed-server.ts'), list] } },
  });
  let a: RunningGateway;
  let b: RunningGateway;
  after(() => Promise.all([a?.close(), b?.close()]));

  it('reaches every replica within a second', async () => {
    [a, b] = await Promise.all([startGateway(config()), startGateway(config())]);
    const names = (gw: RunningGateway) => [...(gw.gateway.catalog.entries.get('shared')?.tools ?? [])].map((t) => t.name).sort();
    assert.deepEqual(names(b), ['announce', 'first']);
    writeFileSync(list, JSON.stringify(['first', 'second']));
    // Only replica A's copy of the server says list_changed.
    const session = (await post(a.url, INIT(VERSION))).headers.get('mcp-session-id')!;
    await post(a.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'announce', arguments: {} } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    await until(async () => names(a).includes('second'), 'replica A listing the change', 2_000);
    await until(async () => names(b).includes('second'), 'replica B listing it too', 1_000);
  });
});

describe('a stream resumed on another replica', () => {
  const prefix = `gatehouse-test-${randomBytes(4).toString('hex')}:`;
  const key = randomBytes(32).toString('base64');
  const config = () => ({
    store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-redis-')), 'gatehouse.db'), redis: { url: REDIS, keyPrefix: prefix } },
    sessions: { keys: [{ id: 'k1', secret: key }] },
    upstreams: { notes: exampleStdioCommand('notes-stdio') },
  });
  let a: RunningGateway;
  let b: RunningGateway;
  const readers: SseReader[] = [];
  before(async () => {
    [a, b] = await Promise.all([startGateway(config()), startGateway(config())]);
  });
  after(async () => {
    for (const r of readers) r.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a tools/call stream cut on one replica is resumed on the other with Last-Event-ID, missing nothing', async () => {
    const session = (await post(a.url, INIT(VERSION))).headers.get('mcp-session-id')!;
    const h = { 'mcp-session-id': session, 'mcp-protocol-version': VERSION };
    await post(a.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    const call = await SseReader.open(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow_count', arguments: { count: 6, delayMs: 40 }, _meta: { progressToken: 'p7' } } }),
    });
    readers.push(call);
    const first = await call.next((e) => e.data?.method === 'notifications/progress');
    call.close(); // the connection to replica A drops; the call goes on there

    const resumed = await SseReader.open(b.url, { headers: { accept: 'text/event-stream', 'last-event-id': first.id!, ...h } });
    readers.push(resumed);
    assert.equal(resumed.status, 200);
    const result = await resumed.next((e) => e.data?.id === 7);
    assert.deepEqual(result.data.result.structuredContent, { reached: 6, count: 6, cancelled: false });
    await resumed.closed();
    const progress = resumed.events.filter((e) => e.data?.method === 'notifications/progress').map((e) => e.data.params.progress);
    assert.deepEqual([first.data.params.progress, ...progress], [1, 2, 3, 4, 5, 6], 'everything after the last event seen, once, in order');
  });
});

describe('a gateway and a Redis that goes away', () => {
  let redis: ChildProcess | null = null;
  let port = 0;
  let gw: RunningGateway;
  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await waitForLine(redis.stdout!, /Ready to accept connections/, 10_000);
    redis.stdout!.resume();
  };
  before(async () => {
    port = await freePort();
    await startRedis();
    gw = await startGateway({
      store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-redis-')), 'gatehouse.db'), redis: { url: `redis://127.0.0.1:${port}` } },
      rateLimits: [{ name: 'all', rate: '1000/s', match: { tools: ['echo'] } }],
      upstreams: { everything: everythingStdio() },
    });
  });
  after(async () => {
    await gw?.close();
    redis?.kill('SIGKILL');
  });

  it('keeps serving (degraded, said in /readyz) while Redis is down, and recovers when it is back', async () => {
    const session = (await post(gw.url, INIT(VERSION))).headers.get('mcp-session-id')!;
    const call = (id: number) => post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${id}` } } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.ok((await call(1)).json.result);
    const exited = new Promise((r) => redis!.once('exit', r));
    redis!.kill('SIGKILL');
    await exited;
    const status = async () => ((await (await fetch(`${gw.base}/readyz`)).json()) as { ready: boolean; redis: { status: string } });
    await until(async () => (await status()).redis.status !== 'ready', '/readyz to notice');
    assert.equal((await status()).ready, true, 'still ready: the gateway serves without Redis');
    assert.match(await (await fetch(`${gw.base}/metrics`)).text(), /^gatehouse_shared_store_up\{store="redis"\} 0$/m, 'and says so in /metrics');
    assert.match(JSON.stringify((await call(2)).json.result), /m2/, 'calls are served (rate limits per replica meanwhile)');
    await startRedis();
    await until(async () => (await status()).redis.status === 'ready', 'the connection back', 10_000);
    assert.match(JSON.stringify((await call(3)).json.result), /m3/);
  });
});

describe('an unreachable Redis', () => {
  it('fails start with an error naming the URL', async () => {
    const port = await freePort();
    await assert.rejects(
      startGateway({ store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-redis-')), 'gatehouse.db'), redis: { url: `redis://:secret@127.0.0.1:${port}`, connectTimeout: '1s' } }, upstreams: {} }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });
});
