/**
 * Issue 4, audit durability end to end: a real `gatehouse start` with server-everything over stdio serves concurrent
 * tools/call echo, is SIGKILLed mid-stream, and every call it answered is in the audit log (`gatehouse audit`), with
 * its arguments' hash; a policy denial is recorded as one. A restart catches the SQLite index up from the JSONL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { runAudit } from '../src/cli/audit.ts';
import { hashArguments } from '../src/observe/audit.ts';
import type { AuditRecord } from '../src/store/audit.ts';
import { openSqliteAuditStore } from '../src/store/sqlite/audit.ts';
import { everythingStdio, openSession, post } from './helpers/gateway.ts';
import { REPO_ROOT } from './helpers/spawn.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-gateway-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const CONCURRENCY = 32;
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const KILL_AFTER = 300;
const store = join(dir, 'gatehouse.db');
const jsonl = join(dir, 'audit', 'audit.jsonl');
const configFile = join(dir, 'gatehouse.yaml');
// JSON is YAML: the config as the object it is.
writeFileSync(configFile, JSON.stringify({
  server: { host: '127.0.0.1', port: 0, callResponse: 'json' },
  store: { path: store },
  pinning: { store: 'memory' },
  upstreams: { everything: everythingStdio() },
  policy: { rules: [{ name: 'no-env', effect: 'deny', on: { tools: ['get-env'] } }] },
  audit: { jsonl: { path: jsonl, fsync: 'always' } },
}));

interface Running {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startGatehouse(): Promise<Running> {
  // cwd is the temp dir: nothing the gateway writes lands in the repository.
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'start', '-c', configFile, '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse did not start\n${stderr}`)), 30_000);
    exited.then(() => reject(new Error(`gatehouse exited early\n${stderr}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /^gatehouse listening on (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { proc, url, exited };
}

async function audit(...argv: string[]): Promise<AuditRecord[]> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  assert.equal(await runAudit([...argv, '--json', '--limit', '0'], out, new PassThrough()), 0);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

describe('audit log through the gateway', () => {
  it('every answered tools/call survives a SIGKILL with calls in flight; denials are recorded', async (t) => {
    const gw = await startGatehouse();
    const session = await openSession(gw.url);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };

    const denied = await post(gw.url, { jsonrpc: '2.0', id: 'denied-1', method: 'tools/call', params: { name: 'get-env', arguments: {} } }, headers);
    assert.equal(denied.json.error?.data?.code, 'GH_ERR_TOOL_NOT_FOUND');
    const secret = await post(gw.url, { jsonrpc: '2.0', id: 'secret-1', method: 'tools/call', params: { name: 'echo', arguments: { message: `key ${AWS_KEY} and https://bob:hunter22@db.example/x` } } }, headers);
    assert.ok(secret.json.result);

    const acked = new Map<number, string>();
    let next = 1;
    let killed = false;
    let unanswered = 0;
    const loop = async () => {
      while (!killed) {
        const id = next++;
        const message = `m-${id}`;
        try {
          const res = await post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } }, headers);
          if (res.json?.result && res.json.result.isError !== true) acked.set(id, message);
          if (acked.size >= KILL_AFTER && !killed) {
            killed = true;
            gw.proc.kill('SIGKILL');
          }
        } catch {
          unanswered++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    await gw.exited;
    assert.equal(gw.proc.signalCode, 'SIGKILL');

    // The JSONL alone (the source of truth), read as the CLI reads it after a crash.
    const records = await audit('--jsonl', jsonl);
    const byId = new Map(records.filter((r) => r.session === session).map((r) => [r.requestId, r]));
    t.diagnostic(`answered ${acked.size}, unanswered ${unanswered}, records ${records.length}`);
    for (const [id, message] of acked) {
      const r = byId.get(id);
      assert.ok(r, `answered call ${id} is missing from the audit log`);
      assert.equal(r.target, 'echo');
      assert.equal(r.upstream, 'everything');
      assert.equal(r.outcome, 'ok');
      assert.equal(r.argsHash, hashArguments({ message }));
      assert.equal(r.principal, 'anonymous');
    }
    // What the log keeps of arguments is redacted; the hash is of the arguments as sent.
    const redacted = byId.get('secret-1')!;
    assert.doesNotMatch(JSON.stringify(redacted), new RegExp(`${AWS_KEY}|hunter22`));
    assert.match(redacted.argsPreview ?? "", /\[REDACTED:[\w-]+\].*\[REDACTED:[\w-]+\]/);
    const denial = byId.get('denied-1');
    assert.ok(denial);
    assert.equal(denial.outcome, 'denied');
    assert.deepEqual([denial.decision.allowed, denial.decision.stage, denial.decision.rule], [false, 'policy', 'no-env']);

    // Restart: the index catches up from the JSONL; a graceful stop then leaves both complete.
    const again = await startGatehouse();
    again.proc.kill('SIGTERM');
    await again.exited;
    const index = openSqliteAuditStore(store);
    const indexed = new Set((await index.query({})).map((r) => r.requestId));
    await index.close();
    for (const id of acked.keys()) assert.ok(indexed.has(id), `answered call ${id} is missing from the SQLite index`);
    assert.deepEqual((await audit('--store', store, '--outcome', 'denied')).map((r) => r.requestId), ['denied-1']);
  });
});
