/**
 * The SQLite audit index: its schema version row, idempotent indexing with a checkpoint, and queries that use the
 * indexes (the shared suite in ../audit.test.ts covers the AuditStore contract).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import type { AuditRecord } from '../audit.ts';
import { openSqliteAuditStore } from './audit.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function record(n: number): AuditRecord {
  return {
    time: new Date(Date.parse('2026-12-01T10:00:00Z') + n).toISOString(), id: `id-${n}`, principal: 'anonymous', session: null, virtualServer: 'vs',
    upstream: 'u', method: 'tools/call', target: 'echo', requestId: `r${n}`, argsPreview: null, argsHash: null,
    decision: { allowed: true, stage: null, rule: null }, findings: [], latencyMs: 0.5, outcome: 'ok', errorCode: null, error: null,
  };
}

describe('SQLite audit index', () => {
  it('indexes batches idempotently and keeps the checkpoint per JSONL source', async () => {
    const file = join(dir, 'a.db');
    const store = openSqliteAuditStore(file);
    assert.equal(store.checkpointSync('jsonl:/x'), null);
    store.indexSync([record(1), record(2)], 'jsonl:/x', { file: 'audit.2026-12-01.0000.jsonl', offset: 100 });
    store.indexSync([record(2), record(3)], 'jsonl:/x', { file: 'audit.2026-12-01.0000.jsonl', offset: 200 });
    assert.deepEqual(store.checkpointSync('jsonl:/x'), { file: 'audit.2026-12-01.0000.jsonl', offset: 200 });
    assert.equal(store.checkpointSync('jsonl:/y'), null);
    assert.deepEqual((await store.query({})).map((r) => r.requestId), ['r1', 'r2', 'r3']);
    await store.close();

    const db = new DatabaseSync(file);
    assert.deepEqual({ ...db.prepare("SELECT version FROM schema_version WHERE component = 'audit'").get() }, { version: 1 });
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(' ');
    assert.match(plan("SELECT * FROM audit_records WHERE principal = 'x' AND time_ms >= 0"), /audit_records_principal/);
    assert.match(plan("SELECT * FROM audit_records WHERE target = 'echo'"), /audit_records_target/);
    assert.match(plan('SELECT * FROM audit_records WHERE time_ms >= 0 ORDER BY time_ms DESC LIMIT 5'), /audit_records_time/);
    db.close();
  });

  it('shares the store file with the other components', async () => {
    const file = join(dir, 'shared.db');
    const { openSqliteApiKeyStore } = await import('./api-keys.ts');
    const keys = openSqliteApiKeyStore(file);
    const audit = openSqliteAuditStore(file);
    await audit.append(record(1));
    assert.equal((await audit.query({})).length, 1);
    await Promise.all([keys.close(), audit.close()]);
  });
});
