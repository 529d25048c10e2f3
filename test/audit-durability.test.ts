/**
 * Issue 4, audit durability: with calls in flight, SIGKILL the process that writes the audit log, restart it, and
 * every call it acknowledged is in the log — in the JSONL (the source of truth) and, after the restart's catch-up, in
 * the SQLite index. No record is torn: a cut-short last line is tolerated, reported and cut at restart.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { AuditLog } from '../src/observe/audit.ts';
import type { AuditReadProblem } from '../src/store/audit.ts';
import { openSqliteAuditStore } from '../src/store/sqlite/audit.ts';
import { REPO_ROOT } from './helpers/spawn.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-durability-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'audit-writer.ts');
const CONCURRENCY = 64;
const KILL_AFTER = 1_500;

interface Writer {
  proc: ChildProcess;
  url: string;
  recovered: { tornBytes: number; caughtUp: number };
  exited: Promise<void>;
}

/** Start the fixture and wait for its RECOVERED and LISTENING lines (no sleeping). */
async function startWriter(jsonl: string, store: string, fsync: string): Promise<Writer> {
  const proc = spawn(process.execPath, [FIXTURE, '--jsonl', jsonl, '--store', store, '--fsync', fsync], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const lines = createInterface({ input: proc.stdout! });
  let recovered: Writer['recovered'] | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`audit-writer did not start\n${stderr}`)), 15_000);
    exited.then(() => reject(new Error(`audit-writer exited early\n${stderr}`)));
    lines.on('line', (line) => {
      if (line.startsWith('RECOVERED ')) recovered = JSON.parse(line.slice(10));
      const m = /^LISTENING (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { proc, url, recovered: recovered!, exited };
}

function post(agent: Agent, url: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ id });
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Fire CONCURRENCY request loops; SIGKILL the writer from inside the KILL_AFTER-th acknowledgement. */
async function loadAndKill(w: Writer, prefix: string): Promise<{ acked: Set<string>; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const acked = new Set<string>();
  let next = 0;
  let failed = 0;
  let killed = false;
  const loop = async () => {
    while (!killed || w.proc.exitCode === null && w.proc.signalCode === null) {
      const id = `${prefix}-${next++}`;
      try {
        const status = await post(agent, w.url, id);
        if (status === 200) acked.add(id);
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          w.proc.kill('SIGKILL');
        }
      } catch {
        failed++;
        if (killed) return;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  await w.exited;
  agent.destroy();
  return { acked, failed };
}

/** Every line of the JSONL files: whole records parse; only the very last line of the newest file may be torn. */
function readRaw(auditDir: string): { ids: string[]; tornTail: boolean } {
  const ids: string[] = [];
  let tornTail = false;
  const files = readdirSync(auditDir).filter((f) => f.endsWith('.jsonl')).sort();
  files.forEach((f, i) => {
    const text = readFileSync(join(auditDir, f), 'utf8');
    const lines = text.split('\n');
    const last = lines.pop()!;
    if (last !== '') {
      assert.equal(i, files.length - 1, `only the newest file may end in a partial line (${f})`);
      tornTail = true;
    }
    for (const line of lines) ids.push(String((JSON.parse(line) as { requestId: string }).requestId));
  });
  return { ids, tornTail };
}

function sqliteIds(db: string): Set<string> {
  if (!existsSync(db)) return new Set();
  const conn = new DatabaseSync(db);
  try {
    return new Set((conn.prepare('SELECT request_id_json FROM audit_records').all() as { request_id_json: string }[]).map((r) => JSON.parse(r.request_id_json) as string));
  } finally {
    conn.close();
  }
}

for (const fsync of ['always', 'interval']) {
  describe(`audit durability (fsync ${fsync})`, () => {
    it('SIGKILL with calls in flight loses no acknowledged record; restart repairs and catches the index up', async (t) => {
      const base = join(dir, fsync);
      const jsonl = join(base, 'audit', 'audit.jsonl');
      const store = join(base, 'gatehouse.db');

      const first = await startWriter(jsonl, store, fsync);
      const { acked, failed } = await loadAndKill(first, 'a');
      assert.equal(first.proc.signalCode, 'SIGKILL');
      assert.ok(acked.size >= KILL_AFTER);
      // Requests were in flight when the process died: some never got an answer.
      assert.ok(failed > 0, 'no request was in flight at the kill');

      const raw = readRaw(join(base, 'audit'));
      const logged = new Set(raw.ids);
      assert.equal(logged.size, raw.ids.length, 'no record written twice');
      for (const id of acked) assert.ok(logged.has(id), `acknowledged ${id} is missing from the JSONL`);
      // SIGKILL seldom tears a line (the kernel finishes a write() it started); a power loss can. Tear one to be sure.
      const newest = readdirSync(join(base, 'audit')).filter((f) => f.endsWith('.jsonl')).sort().at(-1)!;
      if (!raw.tornTail) appendFileSync(join(base, 'audit', newest), '{"time":"2026-12-01T10:00:00.000Z","id":"torn","requestId":"to');
      raw.tornTail = true;
      const indexedBefore = sqliteIds(store);
      const lag = raw.ids.filter((id) => !indexedBefore.has(id)).length;

      // A reader meeting a torn tail before any repair reports it and keeps going.
      const problems: AuditReadProblem[] = [];
      const reader = new AuditLog({ jsonl: { path: jsonl }, readOnly: true, onProblem: (p) => problems.push(p) });
      assert.equal((await reader.query({})).length, raw.ids.length);
      await reader.close();
      assert.deepEqual(problems.map((p) => [p.file.endsWith(newest), p.reason]), [[true, 'torn']]);

      // Restart: the torn tail (if any) is cut, the index takes what it missed, and appending goes on.
      const second = await startWriter(jsonl, store, fsync);
      t.diagnostic(`acked ${acked.size}, unanswered ${failed}, logged ${raw.ids.length}, torn tail ${raw.tornTail}, index lag ${lag}, recovered ${JSON.stringify(second.recovered)}`);
      assert.ok(second.recovered.tornBytes > 0);
      assert.equal(second.recovered.caughtUp, lag);
      const agent = new Agent({ keepAlive: true });
      const more = await Promise.all(Array.from({ length: 20 }, (_, i) => post(agent, second.url, `b-${i}`)));
      agent.destroy();
      assert.ok(more.every((s) => s === 200));
      second.proc.kill('SIGTERM');
      await second.exited;

      const after = readRaw(join(base, 'audit'));
      assert.equal(after.tornTail, false);
      const indexed = sqliteIds(store);
      for (const id of [...acked, ...Array.from({ length: 20 }, (_, i) => `b-${i}`)]) {
        assert.ok(after.ids.includes(id), `${id} missing from the JSONL after restart`);
        assert.ok(indexed.has(id), `${id} missing from the SQLite index after catch-up`);
      }
      const idx = openSqliteAuditStore(store);
      assert.equal((await idx.query({ tool: 'echo' })).length, after.ids.length);
      await idx.close();
    });
  });
}
