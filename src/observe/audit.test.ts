/**
 * AuditLog: how a finished call becomes a record (redacted, bounded preview; hash of the unredacted arguments), and
 * how the SQLite index follows the JSONL — fed after each batch, caught up at open, merged with its lag in queries.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { AuditLog, canonicalJson, hashArguments } from './audit.ts';
import type { AuditEntry } from './audit.ts';
import { auditConfigSchema } from './audit-config.ts';
import { createMemoryAuditStore } from '../store/memory/audit.ts';

const root = mkdtempSync(join(tmpdir(), 'gatehouse-audit-log-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const fresh = () => join(root, `d${seq++}`);

function entry(n: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    principal: 'anonymous', session: 's1', virtualServer: '', upstream: 'everything', method: 'tools/call', target: 'echo', requestId: n,
    arguments: { message: `m${n}` }, startedAt: Date.parse('2026-12-01T10:00:00Z') + n, latencyMs: 2.25, outcome: 'ok', ...overrides,
  };
}

function countRows(db: string): number {
  const conn = new DatabaseSync(db);
  try {
    return (conn.prepare('SELECT count(*) AS n FROM audit_records').get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

describe('AuditLog records', () => {
  it('hashes the unredacted arguments canonically and previews the redacted ones', async () => {
    const log = new AuditLog({ store: createMemoryAuditStore(), redact: (v) => ({ ...(v as object), token: '[REDACTED]' }) });
    const a = await log.append(entry(1, { arguments: { token: 'sk-secret', n: 1, nested: { b: 2, a: 1 } } }));
    const b = await log.append(entry(2, { arguments: { nested: { a: 1, b: 2 }, n: 1, token: 'sk-secret' } }));
    assert.equal(a.argsHash, b.argsHash);
    assert.equal(a.argsHash, hashArguments({ n: 1, nested: { a: 1, b: 2 }, token: 'sk-secret' }));
    assert.notEqual(a.argsHash, hashArguments({ n: 1, nested: { a: 1, b: 2 }, token: 'other' }));
    assert.ok(!a.argsPreview!.includes('sk-secret'));
    assert.match(a.argsPreview!, /\[REDACTED\]/);
    assert.equal(canonicalJson({ b: [1, { d: null, c: 'x' }], a: undefined }), '{"b":[1,{"c":"x","d":null}]}');
    assert.equal(a.time, '2026-12-01T10:00:00.001Z');
    assert.match(a.id, /^[0-9a-f]{12}-[0-9a-f]{12}$/);
    assert.deepEqual(a.decision, { allowed: true, stage: null, rule: null });
    assert.equal(a.latencyMs, 2.25);
    await log.close();
  });

  it('bounds the preview, keys the hash with hashKey, and never falls back to unredacted text', async () => {
    const keyed = new AuditLog({ store: createMemoryAuditStore(), previewChars: 20, hashKey: 'k'.repeat(32) });
    const r = await keyed.append(entry(1, { arguments: { message: 'x'.repeat(100) } }));
    assert.equal(r.argsPreview!.length, 20);
    assert.ok(r.argsPreview!.endsWith('…'));
    assert.notEqual(r.argsHash, hashArguments({ message: 'x'.repeat(100) }));
    assert.equal(r.argsHash, hashArguments({ message: 'x'.repeat(100) }, 'k'.repeat(32)));
    const warnings: string[] = [];
    const failing = new AuditLog({ store: createMemoryAuditStore(), redact: () => { throw new Error('boom'); }, onWarn: (m) => warnings.push(m) });
    assert.equal((await failing.append(entry(2, { arguments: { secret: 's' } }))).argsPreview, '[redaction failed]');
    assert.equal(warnings.length, 1);
    const none = await failing.append(entry(3, { arguments: undefined }));
    assert.deepEqual([none.argsPreview, none.argsHash], [null, null]);
  });

  it('wants only the configured methods', () => {
    const log = new AuditLog({ store: createMemoryAuditStore(), methods: ['tools/call'] });
    assert.equal(log.wants('tools/call'), true);
    assert.equal(log.wants('prompts/get'), false);
    assert.equal(new AuditLog({ store: createMemoryAuditStore() }).wants('resources/read'), true);
  });
});

describe('AuditLog JSONL + SQLite', () => {
  it('opens from config: JSONL files under jsonl.path, the index in the store file', async () => {
    const dir = fresh();
    const config = auditConfigSchema.parse({});
    assert.equal(AuditLog.jsonlPath(config, join(dir, 'gatehouse.db')), join(dir, 'audit', 'audit.jsonl'));
    assert.equal(AuditLog.jsonlPath(auditConfigSchema.parse({ jsonl: { path: '/var/log/gh/a.jsonl' } }), 'x.db'), '/var/log/gh/a.jsonl');
    const log = AuditLog.open(config, { storePath: join(dir, 'gatehouse.db') });
    await Promise.all([1, 2, 3].map((n) => log.append(entry(n))));
    await log.close();
    assert.equal(countRows(join(dir, 'gatehouse.db')), 3);
    const again = AuditLog.open(config, { storePath: join(dir, 'gatehouse.db') });
    assert.equal(again.recovery.caughtUp, 0);
    assert.deepEqual((await again.query({ tool: 'echo' })).map((r) => r.requestId), [1, 2, 3]);
    await again.close();
  });

  it('catches the index up from the JSONL at open (records it never saw, or a deleted store file)', async () => {
    const dir = fresh();
    const jsonl = { path: join(dir, 'audit.jsonl') };
    const db = join(dir, 'gatehouse.db');
    const plain = new AuditLog({ jsonl });
    for (let n = 1; n <= 1500; n++) void plain.append(entry(n));
    await plain.close();
    const indexed = new AuditLog({ jsonl, sqlitePath: db });
    assert.equal(indexed.recovery.caughtUp, 1500);
    assert.equal(countRows(db), 1500);
    await indexed.append(entry(2000));
    await indexed.close();
    // The checkpoint moved with each batch: the next open has nothing to catch up.
    const next = new AuditLog({ jsonl, sqlitePath: db });
    assert.equal(next.recovery.caughtUp, 0);
    assert.equal((await next.query({ limit: 1 }))[0].requestId, 2000);
    await next.close();
    rmSync(db);
    const rebuilt = new AuditLog({ jsonl, sqlitePath: db });
    assert.equal(rebuilt.recovery.caughtUp, 1501);
    await rebuilt.close();
  });

  it('a read-only query merges the index with the JSONL records it has not seen yet', async () => {
    const dir = fresh();
    const jsonl = { path: join(dir, 'audit.jsonl') };
    const db = join(dir, 'gatehouse.db');
    const first = new AuditLog({ jsonl, sqlitePath: db });
    await first.append(entry(1));
    await first.close();
    // Written with the index off: the index lags by one record, as after a kill between fsync and index.
    const lagging = new AuditLog({ jsonl });
    await lagging.append(entry(2, { principal: 'key:bbbbbbbbbb' }));
    await lagging.close();
    const reader = new AuditLog({ jsonl, sqlitePath: db, readOnly: true });
    assert.deepEqual((await reader.query({})).map((r) => r.requestId), [1, 2]);
    assert.deepEqual((await reader.query({ principal: 'key:bbbbbbbbbb' })).map((r) => r.requestId), [2]);
    assert.deepEqual((await reader.query({ limit: 1 })).map((r) => r.requestId), [2]);
    await reader.close();
    assert.equal(countRows(db), 1);
  });
});
