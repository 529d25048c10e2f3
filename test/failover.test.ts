/**
 * Fault injection with real processes: an upstream with three replicas (test/fixtures/replica-server.ts, each its own
 * Node process) behind a real gateway. Replicas are killed with SIGKILL mid-call and mid-stream, made to hang, to answer
 * HTTP 500 or to forget their sessions (404); one URL refuses connections. Each case checks what the caller gets and
 * that the other sessions keep working.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSession, parseSse, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { freePort, until } from './helpers/wait.ts';
import { nodeBinary, REPO_ROOT, waitForLine } from './helpers/spawn.ts';

const REPLICA_SERVER = join(REPO_ROOT, 'test/fixtures/replica-server.ts');
const VERSION = '2025-11-25';

/** One replica process; `kill()` is SIGKILL, `start()` brings it back on the same port. */
class Replica {
  readonly name: string;
  readonly journal: string;
  port = 0;
  proc: ChildProcess | null = null;

  constructor(name: string, journal: string) {
    this.name = name;
    this.journal = journal;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  get label(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(nodeBinary(), [REPLICA_SERVER, '--port', String(this.port), '--name', this.name, '--journal', this.journal], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    const match = await waitForLine(proc.stdout!, /^LISTENING (\S+)$/, 15_000);
    proc.stdout!.resume();
    this.port = Number(new URL(match[1]).port);
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  async control(mode: 'ok' | '500' | 'hang' | 'forget-sessions'): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.port}/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }) });
    assert.equal(res.status, 200);
  }

  async calls(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.port}/control`);
    return ((await res.json()) as { calls: number }).calls;
  }
}



describe('failover across the replicas of an upstream', () => {
  let dir: string;
  let replicas: Replica[];
  let gw: RunningGateway;

  const call = (session: string, name: string, args: Record<string, unknown> = {}, id = 1) =>
    post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: `store__${name}`, arguments: args } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
  const whoami = async (session: string): Promise<string> => {
    const r = await call(session, 'whoami');
    assert.ok(r.json?.result, `whoami failed: ${r.text}`);
    return r.json.result.structuredContent.replica as string;
  };
  const readiness = async () => (await (await fetch(`${gw.base}/readyz`)).json()) as { upstreams: Record<string, { replicas: { replica: string; state: string; lastError: string | null }[] }> };
  const allInRotation = () => until(async () => (await readiness()).upstreams.store.replicas.every((r) => r.state === 'closed'), 'every replica back in rotation');
  const journal = () => readFileSync(join(dir, 'journal.log'), 'utf8').split('\n').filter((l) => l !== '');
  const metric = async (line: RegExp): Promise<number> => {
    const text = await (await fetch(`${gw.base}/metrics`)).text();
    const found = text.split('\n').find((l) => line.test(l));
    return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(' ') + 1));
  };
  /** A session on a given replica (sessions are spread by load, so a few tries find one). */
  const sessionOn = async (replica: Replica): Promise<string> => {
    for (let i = 0; i < 12; i++) {
      const s = await openSession(gw.url, VERSION);
      if ((await whoami(s)) === replica.name) return s;
    }
    throw new Error(`no session landed on ${replica.name}`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-failover-'));
    writeFileSync(join(dir, 'journal.log'), '');
    replicas = ['r1', 'r2', 'r3'].map((n) => new Replica(n, join(dir, 'journal.log')));
    await Promise.all(replicas.map((r) => r.start()));
    gw = await startGateway({
      namespacing: { mode: 'always' },
      upstreams: {
        store: {
          url: replicas.map((r) => r.url),
          health: { interval: '100ms', timeout: '500ms', unhealthyThreshold: 1 },
          breaker: { consecutiveFailures: 2, openFor: '200ms', maxOpenFor: '1s' },
          timeouts: { connect: '2s', request: '5s' },
          toolTimeouts: { hang: '1s' },
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await Promise.all(replicas.map((r) => r.kill()));
  });

  it('spreads sessions over the replicas and keeps each session on its own', async () => {
    const sessions = await Promise.all([0, 1, 2, 3, 4, 5].map(() => openSession(gw.url, VERSION)));
    const homes = await Promise.all(sessions.map((s) => whoami(s)));
    assert.ok(new Set(homes).size >= 2, `sessions spread: ${homes.join(', ')}`);
    assert.deepEqual(await Promise.all(sessions.map((s) => whoami(s))), homes, 'each session stays on its replica');
  });

  it('a replica killed mid-call: a read-only call is answered by another replica, other sessions unaffected', async () => {
    const victim = replicas[0];
    const session = await sessionOn(victim);
    const bystander = await sessionOn(replicas[1]);
    const failoversBefore = await metric(/^gatehouse_upstream_failovers_total\{upstream="store"\}/);
    const before = await victim.calls();
    const slow = call(session, 'slow', { ms: 1500 }, 7);
    await until(async () => (await victim.calls()) > before, 'the slow call reaching the victim');
    await victim.kill();
    const r = await slow;
    assert.ok(r.json.result, `the call was answered: ${r.text}`);
    assert.notEqual(r.json.result.structuredContent?.replica ?? JSON.stringify(r.json.result), victim.name);
    const moved = await whoami(session);
    assert.notEqual(moved, victim.name, 'the session moved to another replica');
    assert.equal(await whoami(bystander), 'r2', 'a session on another replica never noticed');
    assert.ok((await metric(/^gatehouse_upstream_failovers_total\{upstream="store"\}/)) > failoversBefore, 'the failover is counted');
    const ready = await readiness();
    assert.notEqual(ready.upstreams.store.replicas.find((x) => x.replica === victim.label)?.state, 'closed', '/readyz shows the dead replica out of rotation');
    await victim.start();
    await allInRotation();
  });

  it('a replica killed while a non-idempotent call runs: the caller hears the outcome is unknown, and it ran at most once', async () => {
    const victim = replicas[1];
    const session = await sessionOn(victim);
    const bystander = await sessionOn(replicas[2]);
    const id = `order-${Date.now()}`;
    const pending = call(session, 'record', { id, delayMs: 2000 }, 8);
    await until(() => journal().includes(id), 'the record reaching the victim');
    await victim.kill();
    const r = await pending;
    assert.equal(r.json.error?.data?.code, 'GH_ERR_UPSTREAM_OUTCOME_UNKNOWN', r.text);
    assert.match(r.json.error.message, /may or may not have taken effect/);
    assert.equal(journal().filter((l) => l === id).length, 1, 'never repeated on another replica');
    assert.equal(await whoami(bystander), 'r3');
    await victim.start();
    await allInRotation();
  });

  it('a replica killed mid-stream: the streamed read-only call completes on another replica', async () => {
    const victim = replicas[2];
    const session = await sessionOn(victim);
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': VERSION },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'store__stream', arguments: { steps: 20, intervalMs: 100 }, _meta: { progressToken: 'p' } } }),
    });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let killed = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!killed && text.includes('notifications/progress')) {
        killed = true;
        await victim.kill();
      }
    }
    assert.ok(killed, 'progress arrived before the kill');
    const messages = parseSse(text);
    const answer = messages.find((m) => m.id === 9);
    assert.ok(answer?.result, `the stream ended with the result: ${text.slice(-400)}`);
    await victim.start();
    await allInRotation();
  });

  it('a replica killed under a subscribed, idle session: the session moves and subscribes again at once, unprompted', async () => {
    const victim = replicas[0];
    const session = await sessionOn(victim);
    const sub = await post(gw.url, { jsonrpc: '2.0', id: 30, method: 'resources/subscribe', params: { uri: 'replica://info' } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.ok(sub.json.result, sub.text);
    const others = replicas.filter((r) => r !== victim);
    const counts = async () => Promise.all(others.map(async (r) => ((await (await fetch(`http://127.0.0.1:${r.port}/control`)).json()) as { subscriptions: number }).subscriptions));
    const before = (await counts()).reduce((a, b) => a + b, 0);
    await victim.kill();
    // The session sends nothing: the gateway moves it when the connection is lost.
    await until(async () => (await counts()).reduce((a, b) => a + b, 0) > before, 'the subscription restored on another replica');
    await victim.start();
    await allInRotation();
  });

  it('a hanging replica: the call times out naming the upstream, others are served, and the replica leaves rotation', async () => {
    const victim = replicas[0];
    const session = await sessionOn(victim);
    const bystander = await sessionOn(replicas[1]);
    await victim.control('hang');
    const hung = call(session, 'hang', {}, 10);
    assert.equal(await whoami(bystander), 'r2', 'served while the other call hangs');
    const r = await hung;
    assert.equal(r.json.error?.code, -32001, r.text);
    assert.match(r.json.error.message, /store/);
    await until(async () => (await readiness()).upstreams.store.replicas.find((x) => x.replica === victim.label)?.state !== 'closed', 'the hanging replica out of rotation');
    assert.notEqual(await whoami(session), victim.name, 'the session moved off the hanging replica');
    await victim.control('ok');
    await allInRotation();
  });

  it('a slow replica answers within the deadline and delays nobody else', async () => {
    const session = await sessionOn(replicas[0]);
    const other = await sessionOn(replicas[1]);
    const started = Date.now();
    const slow = call(session, 'slow', { ms: 1200 }, 11);
    assert.equal(await whoami(other), 'r2');
    assert.ok(Date.now() - started < 1000, 'the other session was answered before the slow call');
    const r = await slow;
    assert.ok(r.json.result, r.text);
  });

  it('a replica answering HTTP 500: read-only calls go to another replica', async () => {
    const victim = replicas[1];
    const session = await sessionOn(victim);
    await victim.control('500');
    const read = await call(session, 'lookup', { key: 'k' }, 12);
    assert.ok(read.json.result, read.text);
    assert.notEqual(read.json.result.structuredContent?.replica, victim.name);
    await victim.control('ok');
    await allInRotation();
  });

  it('a replica that forgot its sessions (404): the gateway opens a new upstream session there, unseen by the client', async () => {
    const victim = replicas[2];
    const session = await sessionOn(victim);
    await victim.control('forget-sessions');
    const id = `after-404-${Date.now()}`;
    const r = await call(session, 'record', { id }, 14);
    assert.ok(r.json.result, r.text);
    assert.equal(journal().filter((l) => l === id).length, 1, 'sent once: a 404 means the request was not run');
    assert.equal(await whoami(session), victim.name, 'still on the same replica');
  });
});

describe('replicas that are down, full or refused', () => {
  let dir: string;
  const live: Replica[] = [];
  const gateways: RunningGateway[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    writeFileSync(join(dir, 'journal.log'), '');
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all(live.map((r) => r.kill()));
  });

  it('a URL refusing connections is out of rotation from the start; the live replica serves every call', async () => {
    const up = new Replica('alive', join(dir, 'journal.log'));
    live.push(up);
    await up.start();
    const dead = await freePort();
    const gw = await startGateway({ namespacing: { mode: 'always' }, upstreams: { store: { url: [`http://127.0.0.1:${dead}/mcp`, up.url], health: { interval: '100ms' }, timeouts: { connect: '1s' } } } });
    gateways.push(gw);
    const session = await openSession(gw.url, VERSION);
    for (let i = 0; i < 4; i++) {
      const s = i === 0 ? session : await openSession(gw.url, VERSION);
      const r = await post(gw.url, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'store__record', arguments: { id: `refused-${i}` } } }, { 'mcp-session-id': s, 'mcp-protocol-version': VERSION });
      assert.equal(r.json.result?.structuredContent?.replica, 'alive', r.text);
    }
    const ready = (await (await fetch(`${gw.base}/readyz`)).json()) as { ready: boolean; upstreams: Record<string, { replicas: { replica: string; state: string; lastError: string | null }[] }> };
    assert.equal(ready.ready, true);
    const down = ready.upstreams.store.replicas.find((r) => r.replica === `127.0.0.1:${dead}`);
    assert.equal(down?.state, 'open');
    assert.match(down?.lastError ?? '', /refused/);
  });

  it('a killed replica that requests took out comes back by passing a check once restarted, not after its ejection', async () => {
    const victim = new Replica('phoenix', join(dir, 'journal.log'));
    const other = new Replica('steady', join(dir, 'journal.log'));
    live.push(victim, other);
    await Promise.all([victim.start(), other.start()]);
    // Checks seldom enough that a request sees the kill first; an ejection interval far longer than the test.
    const gw = await startGateway({
      namespacing: { mode: 'always' },
      upstreams: { store: { url: [victim.url, other.url], health: { interval: '400ms', unhealthyThreshold: 1 }, breaker: { consecutiveFailures: 1, openFor: '60s' }, timeouts: { connect: '1s' } } },
    });
    gateways.push(gw);
    const lookup = (session: string, id: number) => post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'store__lookup', arguments: { key: 'k' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    let session = '';
    for (let i = 0; i < 8 && session === ''; i++) {
      const s = await openSession(gw.url, VERSION);
      if ((await lookup(s, 1)).json?.result?.structuredContent?.replica === 'phoenix') session = s;
    }
    assert.notEqual(session, '', 'a session landed on the victim');
    const state = async () => ((await (await fetch(`${gw.base}/readyz`)).json()) as { upstreams: Record<string, { replicas: { replica: string; state: string }[] }> })
      .upstreams.store.replicas.find((r) => r.replica === victim.label)?.state;
    const failedChecks = async () => {
      const text = await (await fetch(`${gw.base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('gatehouse_upstream_health_checks_total{') && l.includes(`replica="${victim.label}"`) && l.includes('outcome="fail"'));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const failedBefore = await failedChecks();
    await victim.kill();
    const moved = await lookup(session, 2);
    assert.equal(moved.json?.result?.structuredContent?.replica, 'steady', moved.text);
    assert.equal(await state(), 'open', 'the failed request took the victim out');
    // The checks find it dead too while it is down (a restart quicker than one check interval is not this case).
    await until(async () => (await failedChecks()) > failedBefore, 'a failed health check of the dead victim');
    await victim.start();
    await until(async () => (await state()) === 'closed', 'the restarted victim back in rotation', 5_000);
  });

  it('a non-idempotent call answered HTTP 500 reports an unknown outcome and is not sent elsewhere', async () => {
    // Health checks off: nothing but the call itself can move the session before the 500 arrives.
    const pair = [new Replica('w1', join(dir, 'journal.log')), new Replica('w2', join(dir, 'journal.log'))];
    live.push(...pair);
    await Promise.all(pair.map((r) => r.start()));
    const gw = await startGateway({ namespacing: { mode: 'always' }, upstreams: { store: { url: pair.map((r) => r.url), health: { interval: 0 } } } });
    gateways.push(gw);
    const headers = (s: string) => ({ 'mcp-session-id': s, 'mcp-protocol-version': VERSION });
    let session = '';
    for (let i = 0; i < 12 && session === ''; i++) {
      const s = await openSession(gw.url, VERSION);
      const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'store__whoami', arguments: {} } }, headers(s));
      if (r.json.result?.structuredContent?.replica === 'w1') session = s;
    }
    assert.notEqual(session, '', 'a session on w1');
    await pair[0].control('500');
    const id = `w-${Date.now()}`;
    const write = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'store__record', arguments: { id } } }, headers(session));
    assert.equal(write.json.error?.data?.code, 'GH_ERR_UPSTREAM_OUTCOME_UNKNOWN', write.text);
    assert.match(write.json.error.message, /HTTP 500/);
    assert.equal(readFileSync(join(dir, 'journal.log'), 'utf8').split('\n').filter((l) => l === id).length, 0, 'not repeated on w2');
  });

  it('a full replica queues up to its limit, then refuses with an overload error and a retry hint', async () => {
    const up = new Replica('small', join(dir, 'journal.log'));
    live.push(up);
    await up.start();
    const gw = await startGateway({ namespacing: { mode: 'always' }, upstreams: { store: { url: up.url, limits: { concurrency: 1, queue: 1 } } } });
    gateways.push(gw);
    const session = await openSession(gw.url, VERSION);
    const slow = (id: number) => post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'store__slow', arguments: { ms: 600 } } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    const first = slow(1);
    await until(async () => (await up.calls()) >= 1, 'the first call in flight');
    const queued = slow(2);
    const metrics = async () => (await (await fetch(`${gw.base}/metrics`)).text());
    await until(async () => /gatehouse_upstream_queue_depth\{upstream="store",replica="[^"]+"\} 1/.test(await metrics()), 'the second call queued');
    const refused = await slow(3);
    assert.equal(refused.json.error?.code, -32011, refused.text);
    assert.equal(refused.json.error.data.code, 'GH_ERR_UPSTREAM_OVERLOADED');
    assert.equal(typeof refused.json.error.data.retryAfterMs, 'number');
    assert.ok((await first).json.result);
    assert.ok((await queued).json.result, 'the queued call ran once a slot was free');
  });
});

describe('copies of a stdio upstream', () => {
  const FAULTY = join(REPO_ROOT, 'test/fixtures/faulty-server.ts');
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({
      namespacing: { mode: 'always' },
      upstreams: { faulty: { command: nodeBinary(), args: [FAULTY], replicas: 2, balancer: 'round-robin', retry: { idempotentTools: ['ok'] }, pool: { backoff: 50 } } },
    });
  });
  after(() => gw.close());
  const call = (session: string, name: string, id: number) =>
    post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: `faulty__${name}`, arguments: {} } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });

  it('a copy that exits mid-call: the caller hears the outcome is unknown, the other copy keeps serving, the dead one is restarted', async () => {
    const victim = await openSession(gw.url, VERSION);
    const bystander = await openSession(gw.url, VERSION);
    const crashed = await call(victim, 'crash', 1);
    assert.equal(crashed.json.error?.data?.code, 'GH_ERR_UPSTREAM_OUTCOME_UNKNOWN', crashed.text);
    for (let i = 0; i < 4; i++) assert.match(JSON.stringify((await call(bystander, 'ok', 10 + i)).json.result), /fine/);
    assert.match(JSON.stringify((await call(victim, 'ok', 2)).json.result), /fine/, 'the crashed session is served again');
    await until(async () => {
      const ready = (await (await fetch(`${gw.base}/readyz`)).json()) as { upstreams: Record<string, { replicas: { state: string }[] }> };
      return ready.upstreams.faulty.replicas.every((r) => r.state === 'closed');
    }, 'both copies in rotation');
  });

  it('a copy that prints garbage: the call fails naming the upstream; the copies keep serving', async () => {
    const session = await openSession(gw.url, VERSION);
    const r = await call(session, 'garbage', 3);
    assert.ok(r.json.error, r.text);
    assert.match(r.json.error.message, /faulty/);
    for (let i = 0; i < 4; i++) assert.match(JSON.stringify((await call(session, 'ok', 20 + i)).json.result), /fine/);
  });
});
