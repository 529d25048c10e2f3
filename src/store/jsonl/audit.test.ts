/**
 * The JSONL audit writer: group commit, file naming, rotation by size and day, retention, and reading back after a
 * crash (a torn last line is cut at open and reported by readers; an unreadable line is skipped and reported).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AuditReadProblem, AuditRecord } from '../audit.ts';
import { openJsonlAuditStore } from './audit.ts';
import type { JsonlPosition } from './audit.ts';
import { auditFileName } from './audit-files.ts';

const root = mkdtempSync(join(tmpdir(), 'gatehouse-audit-jsonl-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const freshDir = () => join(root, `d${seq++}`);

const T0 = Date.parse('2026-12-01T10:00:00.000Z');

function record(n: number): AuditRecord {
  return {
    time: new Date(T0 + n).toISOString(), id: `id-${String(n).padStart(6, '0')}`, principal: 'anonymous', session: 's', virtualServer: '', upstream: 'u',
    method: 'tools/call', target: 'echo', requestId: n, argsPreview: '{}', argsHash: null, decision: { allowed: true, stage: null, rule: null },
    findings: [], latencyMs: 1, outcome: 'ok', errorCode: null, error: null,
  };
}

describe('JSONL audit log', () => {
  it('names files <stem>.<UTC day>.<NNNN><ext> beside the base path', () => {
    assert.equal(auditFileName('/x/audit.jsonl', '2026-12-01', 0), 'audit.2026-12-01.0000.jsonl');
    assert.equal(auditFileName('/x/log', '2026-12-01', 12), 'log.2026-12-01.0012');
  });

  it('group commit: concurrent appends share batches, one line each', async () => {
    const dir = freshDir();
    const batches: number[] = [];
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), now: () => T0, onFlushed: (records) => batches.push(records.length) });
    await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(record(i))));
    await log.close();
    assert.equal(batches.reduce((a, b) => a + b, 0), 500);
    assert.ok(batches.length < 50, `500 concurrent appends took ${batches.length} batches`);
    const lines = readFileSync(join(dir, 'audit.2026-12-01.0000.jsonl'), 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditRecord).requestId).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 500 }, (_, i) => i));
  });

  it('an append resolves only after its batch is written, and reports where the batch ended', async () => {
    const dir = freshDir();
    const at: JsonlPosition[] = [];
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), now: () => T0, onFlushed: (_, p) => at.push(p) });
    await log.append(record(1));
    const size = readFileSync(join(dir, 'audit.2026-12-01.0000.jsonl')).length;
    assert.deepEqual(at, [{ file: 'audit.2026-12-01.0000.jsonl', offset: size }]);
    assert.deepEqual(log.position(), at[0]);
    await log.close();
  });

  it('rotates past rotateBytes and on a new UTC day, and reads across files in order', async () => {
    const dir = freshDir();
    let now = T0;
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), rotateBytes: 1000, now: () => now });
    for (let i = 0; i < 12; i++) await log.append(record(i));
    now = T0 + 86_400_000;
    await log.append(record(100));
    await log.close();
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 3, files.join(' '));
    assert.deepEqual(files.slice(0, 2), ['audit.2026-12-01.0000.jsonl', 'audit.2026-12-01.0001.jsonl']);
    assert.equal(files.at(-1), 'audit.2026-12-02.0000.jsonl');
    for (const f of files.slice(0, -2)) assert.ok(readFileSync(join(dir, f)).length <= 1000);

    const reopened = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), readOnly: true });
    assert.deepEqual((await reopened.query({})).map((r) => r.requestId), [...Array.from({ length: 12 }, (_, i) => i), 100]);
    // A query from a day on skips the older days' files.
    assert.deepEqual((await reopened.query({ since: T0 + 86_400_000 - 5_000 })).map((r) => r.requestId), []);
    const seen: number[] = [];
    reopened.scanSync({ file: 'audit.2026-12-01.0001.jsonl', offset: 0 }, (r) => seen.push(r.requestId as number));
    assert.equal(seen.at(-1), 100);
    assert.ok(!seen.includes(0));
    await reopened.close();
  });

  it('carries on in today\'s newest file after a restart, and starts the next one when it is full', async () => {
    const dir = freshDir();
    const path = join(dir, 'audit.jsonl');
    const first = openJsonlAuditStore({ path, now: () => T0, rotateBytes: 10_000 });
    await first.append(record(1));
    await first.close();
    const second = openJsonlAuditStore({ path, now: () => T0, rotateBytes: 10_000 });
    await second.append(record(2));
    await second.close();
    assert.deepEqual(readdirSync(dir), ['audit.2026-12-01.0000.jsonl']);
    const third = openJsonlAuditStore({ path, now: () => T0, rotateBytes: 300 });
    await third.append(record(3));
    await third.close();
    assert.deepEqual(readdirSync(dir).sort(), ['audit.2026-12-01.0000.jsonl', 'audit.2026-12-01.0001.jsonl']);
  });

  it('retainFiles keeps the newest files only', async () => {
    const dir = freshDir();
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), rotateBytes: 400, retainFiles: 2, now: () => T0 });
    for (let i = 0; i < 10; i++) await log.append(record(i));
    await log.close();
    // Pruning runs after the rotation's batch resolved: wait for the directory to settle rather than sleep blindly.
    for (let tries = 0; readdirSync(dir).length > 2 && tries < 100; tries++) await new Promise((r) => setImmediate(r));
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 2);
    assert.equal(files[1], auditFileName('audit.jsonl', '2026-12-01', 9));
  });

  it('cuts a torn last line at open (reported), keeps every whole record, and appends after it', async () => {
    const dir = freshDir();
    const path = join(dir, 'audit.jsonl');
    const log = openJsonlAuditStore({ path, now: () => T0 });
    await log.append(record(1));
    await log.append(record(2));
    await log.close();
    const file = join(dir, 'audit.2026-12-01.0000.jsonl');
    const torn = '{"time":"2026-12-01T10:00:00.003Z","id":"id-000003","princ';
    appendFileSync(file, torn);

    // A reader that does not repair (the CLI) skips it and says so.
    const problems: AuditReadProblem[] = [];
    const reader = openJsonlAuditStore({ path, readOnly: true, onProblem: (p) => problems.push(p) });
    assert.deepEqual((await reader.query({})).map((r) => r.requestId), [1, 2]);
    assert.deepEqual(problems.map((p) => [p.reason, p.line]), [['torn', 3]]);
    await reader.close();

    const reopened = openJsonlAuditStore({ path, now: () => T0 });
    assert.deepEqual(reopened.recovered, { file: 'audit.2026-12-01.0000.jsonl', tornBytes: Buffer.byteLength(torn) });
    await reopened.append(record(4));
    await reopened.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditRecord).requestId), [1, 2, 4]);
  });

  it('skips and reports an unreadable line in the middle (a power loss with fsync off can leave one)', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const file = join(dir, 'audit.2026-12-01.0000.jsonl');
    writeFileSync(file, `${JSON.stringify(record(1))}\n\u0000\u0000\u0000\n${JSON.stringify(record(2))}\n`);
    const problems: AuditReadProblem[] = [];
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), readOnly: true, onProblem: (p) => problems.push(p) });
    assert.deepEqual((await log.query({})).map((r) => r.requestId), [1, 2]);
    assert.deepEqual(problems, [{ file, line: 2, bytes: 4, reason: 'invalid' }]);
    await log.close();
  });

  it('a failed write rejects its appends and every later one (the file state is unknown)', async () => {
    const dir = freshDir();
    // The file the rotation opens is a directory: open() fails with EISDIR.
    const log = openJsonlAuditStore({ path: join(dir, 'audit.jsonl'), now: () => T0, rotateBytes: 100 });
    await log.append(record(1));
    mkdirSync(join(dir, 'audit.2026-12-01.0001.jsonl'));
    await assert.rejects(log.append(record(2)), /EISDIR/);
    await assert.rejects(log.append(record(3)), /EISDIR/);
    await log.close();
  });

  it('refuses appends when read-only', async () => {
    const log = openJsonlAuditStore({ path: join(freshDir(), 'audit.jsonl'), readOnly: true });
    await assert.rejects(log.append(record(1)), /read-only/);
    await log.close();
  });
});
