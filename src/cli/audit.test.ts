/**
 * `gatehouse audit`: reading the JSONL and/or the index, filters, the table and JSON lines, torn-line warnings, and
 * exit status 2 for a bad command line.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../observe/audit.ts';
import type { AuditRecord } from '../store/audit.ts';
import { parseWhen, runAudit } from './audit.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const jsonl = join(dir, 'audit', 'audit.jsonl');
const store = join(dir, 'gatehouse.db');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => (o += c.toString()));
  err.on('data', (c: Buffer) => (e += c.toString()));
  const code = await runAudit(argv, out, err);
  return { code, out: o, err: e };
}

before(async () => {
  const log = new AuditLog({ jsonl: { path: jsonl }, sqlitePath: store });
  const now = Date.now();
  const base = { session: 's1', virtualServer: '', method: 'tools/call', latencyMs: 3 } as const;
  await log.append({ ...base, principal: 'key:aaaaaaaaaa', upstream: 'everything', target: 'echo', requestId: 1, arguments: { message: 'hello' }, startedAt: now - 2 * 3_600_000, outcome: 'ok' });
  await log.append({ ...base, principal: 'anonymous', upstream: 'everything', target: 'add', requestId: 2, arguments: { a: 1, b: 2 }, startedAt: now - 60_000, outcome: 'error', errorCode: 'GH_ERR_UPSTREAM_TIMEOUT', error: 'Upstream everything did not answer within 10 ms' });
  await log.append({ ...base, principal: 'anonymous', upstream: null, target: 'secret', requestId: 3, arguments: {}, startedAt: now - 30_000, outcome: 'denied', decision: { allowed: false, stage: 'policy', rule: 'no-secrets' }, errorCode: 'GH_ERR_TOOL_NOT_FOUND' });
  await log.close();
});

describe('gatehouse audit', () => {
  it('prints a table of the JSONL merged with the index, oldest first', async () => {
    const { code, out } = await run('--jsonl', jsonl, '--store', store);
    assert.equal(code, 0);
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0], /^TIME\s+PRINCIPAL\s+SERVER\s+UPSTREAM\s+METHOD\s+TARGET\s+OUTCOME\s+MS\s+ARGS$/);
    assert.equal(lines.length, 4);
    assert.match(lines[1], /key:aaaaaaaaaa .*echo .*ok .*\{"message":"hello"\}/);
    assert.match(lines[2], /error GH_ERR_UPSTREAM_TIMEOUT/);
    assert.match(lines[3], /denied by policy \(no-secrets\)/);
  });

  it('filters, and prints JSON lines with --json', async () => {
    const { code, out } = await run('--jsonl', jsonl, '--since', '1h', '--principal', 'anonymous', '--json');
    assert.equal(code, 0);
    const records = out.trimEnd().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(records.map((r) => r.requestId), [2, 3]);
    assert.deepEqual((await run('--store', store, '--tool', 'echo', '--json')).out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AuditRecord).requestId), [1]);
    assert.deepEqual((await run('--store', store, '--outcome', 'denied', '--json')).out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AuditRecord).requestId), [3]);
    assert.deepEqual((await run('--jsonl', jsonl, '--limit', '1', '--json')).out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AuditRecord).requestId), [3]);
    assert.match((await run('--jsonl', jsonl, '--upstream', 'nope')).out, /^No audit records match in .*audit\.jsonl \(JSONL\)\.\n$/);
  });

  it('reads the paths from a config file', async () => {
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(config, `store:\n  path: ${store}\n`);
    // The config names the store file, and the JSONL defaults to audit/audit.jsonl beside it.
    const { code, out } = await run('-c', config, '--json');
    assert.equal(code, 0);
    assert.equal(out.trimEnd().split('\n').length, 3);
  });

  it('warns about a torn last line and still prints the whole records', async () => {
    const tornDir = join(dir, 'torn');
    const log = new AuditLog({ jsonl: { path: join(tornDir, 'audit.jsonl') } });
    await log.append({ principal: 'anonymous', session: null, virtualServer: '', upstream: 'u', method: 'tools/call', target: 'echo', requestId: 9, startedAt: Date.now(), latencyMs: 1, outcome: 'ok' });
    await log.close();
    appendFileSync(join(tornDir, readdirSync(tornDir)[0]), '{"time":"20');
    const { code, out, err } = await run('--jsonl', join(tornDir, 'audit.jsonl'), '--json');
    assert.equal(code, 0);
    assert.equal(out.trimEnd().split('\n').length, 1);
    assert.match(err, /line 2: incomplete last line \(11 bytes\)/);
  });

  it('exits 2 with a clear message for a bad command line', async () => {
    for (const [argv, message] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--since', 'yesterday'], /--since: expected a duration like 1h/],
      [['--outcome', 'fine'], /--outcome: expected ok, error or denied, got "fine"/],
      [['--limit', 'many'], /--limit: expected a whole number/],
      [['--since', '1h', '--until', '2h'], /--since is after --until/],
      [['--store', join(dir, 'missing.db')], /--store: no store file at/],
      [['extra'], /Unexpected argument 'extra'|positional/],
    ] as const) {
      const { code, err } = await run(...argv);
      assert.equal(code, 2, argv.join(' '));
      assert.match(err, message);
    }
    assert.match((await run('--help')).out, /^Usage:\n {2}gatehouse audit/);
  });

  it('parses durations back from now and dates as UTC', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    assert.equal(parseWhen('since', '90s', now), now - 90_000);
    assert.equal(parseWhen('since', '2w', now), now - 14 * 86_400_000);
    assert.equal(parseWhen('since', '2026-12-01', now), Date.parse('2026-12-01T00:00:00Z'));
    assert.equal(parseWhen('since', '2026-12-01T10:00Z', now), Date.parse('2026-12-01T10:00:00Z'));
    assert.equal(parseWhen('since', '2026-12-01T10:00', now), Date.parse('2026-12-01T10:00:00Z'));
    assert.equal(parseWhen('since', '2026-12-01T10:00+02:00', now), Date.parse('2026-12-01T08:00:00Z'));
    assert.throws(() => parseWhen('until', '2026-13-45', now), /--until/);
  });
});
