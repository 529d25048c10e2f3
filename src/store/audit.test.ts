/**
 * One suite for every AuditStore implementation: memory, JSONL and SQLite must append and query alike. The durable
 * ones also keep records across reopen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AuditRecord, AuditStore } from './audit.ts';
import { createMemoryAuditStore } from './memory/audit.ts';
import { openJsonlAuditStore } from './jsonl/audit.ts';
import { openSqliteAuditStore } from './sqlite/audit.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-12-01T10:00:00.000Z');

/** A record `n` seconds after T0. */
function record(n: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date(T0 + n * 1000).toISOString(),
    id: `${(T0 + n * 1000).toString(16).padStart(12, '0')}-${String(n).padStart(12, '0')}`,
    principal: 'key:aaaaaaaaaa',
    session: 'sess-1',
    virtualServer: '',
    upstream: 'everything',
    method: 'tools/call',
    target: 'echo',
    requestId: n,
    argsPreview: `{"message":"m${n}"}`,
    argsHash: 'ab'.repeat(32),
    decision: { allowed: true, stage: null, rule: null },
    findings: [],
    latencyMs: 1.5,
    outcome: 'ok',
    errorCode: null,
    error: null,
    ...overrides,
  };
}

let seq = 0;
const fresh = () => join(dir, `s${seq++}`);
// Fixed clock for the JSONL's file naming: the records' own day.
const now = () => T0;

const implementations: [string, (path: string) => AuditStore][] = [
  ['memory', () => createMemoryAuditStore()],
  ['jsonl', (path) => openJsonlAuditStore({ path: join(path, 'audit.jsonl'), now })],
  ['jsonl fsync interval', (path) => openJsonlAuditStore({ path: join(path, 'audit.jsonl'), fsync: 'interval', intervalMs: 10, now })],
  ['jsonl fsync never', (path) => openJsonlAuditStore({ path: join(path, 'audit.jsonl'), fsync: 'never', now })],
  ['sqlite', (path) => openSqliteAuditStore(join(path, 'gatehouse.db'))],
];

for (const [label, open] of implementations) {
  describe(`AuditStore (${label})`, () => {
    it('appends and reads every record back unchanged, oldest first', async () => {
      const store = open(fresh());
      const records = [record(2), record(1, { requestId: 'req-a', decision: { allowed: false, stage: 'policy', rule: 'deny-echo', phase: 'request' }, outcome: 'denied', errorCode: 'GH_ERR_TOOL_NOT_FOUND', error: 'Unknown tool: echo' }), record(3, { findings: [{ stage: 'redact', kind: 'secret', detail: 'aws key' }], session: null, upstream: null, argsPreview: null, argsHash: null })];
      await Promise.all(records.map((r) => store.append(r)));
      assert.deepEqual(await store.query({}), [records[1], records[0], records[2]]);
      await store.close();
    });

    it('filters by time range, principal, tool, upstream and outcome', async () => {
      const store = open(fresh());
      await store.append(record(1, { principal: 'anonymous' }));
      await store.append(record(2, { target: 'add', upstream: 'math' }));
      await store.append(record(3, { outcome: 'error', errorCode: 'GH_ERR_UPSTREAM_TIMEOUT' }));
      await store.append(record(4));
      const ids = async (q: Parameters<AuditStore['query']>[0]) => (await store.query(q)).map((r) => r.requestId);
      assert.deepEqual(await ids({ since: T0 + 2000, until: T0 + 3000 }), [2, 3]);
      assert.deepEqual(await ids({ principal: 'anonymous' }), [1]);
      assert.deepEqual(await ids({ tool: 'add' }), [2]);
      assert.deepEqual(await ids({ upstream: 'everything', outcome: 'ok' }), [1, 4]);
      assert.deepEqual(await ids({ outcome: 'error' }), [3]);
      assert.deepEqual(await ids({ tool: 'nope' }), []);
      await store.close();
    });

    it('limit keeps the most recent matches, still oldest first', async () => {
      const store = open(fresh());
      for (let i = 1; i <= 5; i++) await store.append(record(i));
      assert.deepEqual((await store.query({ limit: 2 })).map((r) => r.requestId), [4, 5]);
      assert.deepEqual((await store.query({ limit: 2, until: T0 + 3000 })).map((r) => r.requestId), [2, 3]);
      await store.close();
    });

    it('refuses appends once closed', async () => {
      const store = open(fresh());
      await store.close();
      await assert.rejects(store.append(record(1)));
    });

    if (label !== 'memory') {
      it('keeps records across reopen', async () => {
        const path = fresh();
        const first = open(path);
        await first.append(record(1));
        await first.close();
        const second = open(path);
        await second.append(record(2));
        assert.deepEqual((await second.query({})).map((r) => r.requestId), [1, 2]);
        await second.close();
      });
    }
  });
}
