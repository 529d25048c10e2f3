/**
 * Three gateway processes (`gatehouse start -c`) sharing the machine's Redis and PostgreSQL and one session key act
 * as one gateway: a session whose requests go to the replicas in turn makes calls, gets notifications, completes a
 * sampling round trip answered on another replica, resumes a stream on another replica; a replica killed with
 * SIGKILL leaves its sessions to the others; forged ids are refused; rate limits hold across them; every
 * acknowledged call is in the PostgreSQL audit log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { everythingStdio, INIT, parseSse, post } from './helpers/gateway.ts';
import { exampleStdioCommand, nodeBinary, REPO_ROOT, waitForLine } from './helpers/spawn.ts';
import { SseReader } from './integration/harness.ts';

const VERSION = '2025-11-25';
const PG = 'postgres://postgres@127.0.0.1:5432/test';

describe('three replicas as one gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'));
  const schema = `gh_scale_${randomBytes(4).toString('hex')}`;
  const everything = everythingStdio();
  const notes = exampleStdioCommand('notes-stdio');
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(join(dir, 'session.key'), randomBytes(32).toString('base64'));
  writeFileSync(config, `
store:
  path: ${join(dir, 'gatehouse.db')}
  redis: { url: "redis://127.0.0.1:6379", keyPrefix: "${schema}:" }
  postgres: { url: "${PG}", schema: ${schema} }
audit: { store: postgres }
admin: { store: postgres }
pinning: { store: postgres }
sessions:
  keys: [{ id: k1, secret: "\${file:${join(dir, 'session.key')}}" }]
namespacing: { mode: always }
rateLimits: [{ name: sums, rate: 4/h, burst: 4, match: { tools: [everything__get-sum] } }]
logging: { level: warn }
upstreams:
  everything: { command: ${JSON.stringify(everything.command)}, args: ${JSON.stringify(everything.args)} }
  notes: { command: ${JSON.stringify(notes.command)}, args: ${JSON.stringify(notes.args)} }
`);
  const replicas: { proc: ChildProcess; url: string }[] = [];
  const readers: SseReader[] = [];
  let session = '';
  let acknowledged = 0;
  const h = () => ({ 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
  const live = () => replicas.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null);
  /** A tools/call sent to replica `i`, counted when it is answered with a result. */
  const call = async (i: number, name: string, args: Record<string, unknown>, id: number) => {
    const r = await post(replicas[i].url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, h());
    if (r.json?.result) acknowledged++;
    return r;
  };

  before(async () => {
    const start = async () => {
      const proc = spawn(nodeBinary(), [join(REPO_ROOT, 'src/cli/main.ts'), 'start', '-c', config, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [, url] = await waitForLine(proc.stdout!, /^gatehouse listening on (\S+)$/, 60_000);
      proc.stdout!.resume();
      return { proc, url };
    };
    replicas.push(...(await Promise.all([start(), start(), start()])));
    const init = await post(replicas[0].url, INIT(VERSION, { sampling: {} }));
    session = init.headers.get('mcp-session-id')!;
    await post(replicas[1].url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h());
  });
  after(async () => {
    for (const r of readers) r.close();
    for (const r of replicas) r.proc.kill('SIGKILL');
    const db = new pg.Pool({ connectionString: PG });
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
  });

  it('serves one session whose requests go to each replica in turn', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await call(i % 3, 'everything__echo', { message: `turn ${i}` }, 100 + i);
      assert.match(JSON.stringify(r.json?.result), new RegExp(`turn ${i}`), r.text);
    }
  });

  it('streams a call\'s progress notifications from whichever replica serves it', async () => {
    const res = await fetch(replicas[2].url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 200, method: 'tools/call', params: { name: 'notes__slow_count', arguments: { count: 3, delayMs: 20 }, _meta: { progressToken: 'p' } } }),
    });
    const messages = parseSse(await res.text());
    assert.ok(messages.some((m) => m.method === 'notifications/progress'), 'progress notifications');
    assert.ok(messages.find((m) => m.id === 200)?.result);
    acknowledged++;
  });

  it('completes a sampling round trip whose answer is POSTed to another replica', async () => {
    const stream = await SseReader.open(replicas[1].url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 300, method: 'tools/call', params: { name: 'notes__ask_llm', arguments: { question: 'Where is replica two?' } } }),
    });
    readers.push(stream);
    const request = await stream.next((e) => e.data?.method === 'sampling/createMessage');
    // The client answers on replica 3: it hands the answer to replica 2, which holds the request.
    const answer = await post(replicas[2].url, { jsonrpc: '2.0', id: request.data.id, result: { role: 'assistant', model: 'test', content: { type: 'text', text: 'right here' } } }, h());
    assert.equal(answer.status, 202);
    const result = await stream.next((e) => e.data?.id === 300);
    assert.match(JSON.stringify(result.data.result), /right here/);
    acknowledged++;
  });

  it('resumes a stream on another replica with Last-Event-ID', async () => {
    const first = await SseReader.open(replicas[0].url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 400, method: 'tools/call', params: { name: 'notes__slow_count', arguments: { count: 5, delayMs: 40 }, _meta: { progressToken: 'q' } } }),
    });
    readers.push(first);
    const progress = await first.next((e) => e.data?.method === 'notifications/progress');
    first.close();
    const resumed = await SseReader.open(replicas[1].url, { headers: { accept: 'text/event-stream', 'last-event-id': progress.id!, ...h() } });
    readers.push(resumed);
    const result = await resumed.next((e) => e.data?.id === 400);
    assert.deepEqual(result.data.result.structuredContent, { reached: 5, count: 5, cancelled: false });
    acknowledged++;
  });

  it('holds a rate limit across the replicas', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(i % 3, 'everything__get-sum', { a: 1, b: i }, 500 + i);
      outcomes.push(r.json?.result ? 'ok' : r.json?.error?.data?.code);
    }
    assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'GH_ERR_RATE_LIMITED', 'GH_ERR_RATE_LIMITED']);
  });

  it('refuses a forged or tampered session id on every replica', async () => {
    const tampered = `${session.slice(0, -5)}${session.slice(-5) === 'AAAAA' ? 'BBBBB' : 'AAAAA'}`;
    for (const r of replicas) {
      for (const id of [tampered, `g1.k1.${randomBytes(48).toString('base64url')}`]) {
        const res = await post(r.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': id, 'mcp-protocol-version': VERSION });
        assert.equal(res.status, 404);
      }
    }
  });

  it('a replica killed with SIGKILL leaves its sessions to the others', async () => {
    const victim = replicas[1];
    const exited = new Promise((r) => victim.proc.once('exit', r));
    victim.proc.kill('SIGKILL');
    await exited;
    assert.equal(live().length, 2);
    for (let i = 0; i < 4; i++) {
      const r = await call(i % 2 === 0 ? 0 : 2, 'everything__echo', { message: `after ${i}` }, 600 + i);
      assert.match(JSON.stringify(r.json?.result), new RegExp(`after ${i}`), r.text);
    }
  });

  it('every acknowledged call is in the PostgreSQL audit log', async () => {
    const db = new pg.Pool({ connectionString: PG });
    try {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".audit_records WHERE outcome = 'ok' AND method = 'tools/call'`);
      assert.equal(rows[0].n, acknowledged);
    } finally {
      await db.end();
    }
  });
});
