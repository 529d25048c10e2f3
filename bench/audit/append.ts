/**
 * Audit append benchmark: appends/s and append latency (= the latency an audited call gains, since the router answers
 * only after `append` resolved) per fsync policy at concurrency 1, 16 and 64, with the SQLite index on.
 * Run: node bench/audit/append.ts [--seconds 2] [--no-sqlite]; a table on stderr, one JSON line on stdout at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog } from '../../src/observe/audit.ts';
import type { AuditEntry } from '../../src/observe/audit.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '2' }, 'no-sqlite': { type: 'boolean' } } });
const SECONDS = Number(values.seconds);
const SQLITE = !values['no-sqlite'];
const POLICIES = ['always', 'interval', 'never'] as const;
const CONCURRENCY = [1, 16, 64];

interface Cell {
  fsync: string;
  concurrency: number;
  appendsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Batches written (one write() and, for `always`, one fdatasync each). */
  recordsPerBatch: number;
}

function entry(i: number): AuditEntry {
  return {
    principal: 'key:aaaaaaaaaa', session: '3f9c2a7e-5b1d-4c8e-9a6f-0d2b7e4c1a93', virtualServer: 'ops', upstream: 'everything', method: 'tools/call',
    target: 'echo', requestId: i, arguments: { message: `hello from call ${i}`, options: { repeat: 1, upper: false } },
    startedAt: Date.now(), latencyMs: 1.234, outcome: 'ok',
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(fsync: (typeof POLICIES)[number], concurrency: number): Promise<Cell> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-audit-'));
  let batches = 0;
  let measuring = false;
  const log = new AuditLog({
    jsonl: { path: join(dir, 'audit', 'audit.jsonl'), fsync, intervalMs: 1_000 },
    sqlitePath: SQLITE ? join(dir, 'gatehouse.db') : null,
    onBatch: () => {
      if (measuring) batches++;
    },
  });
  const latencies: number[] = [];
  let n = 0;
  const worker = async (deadline: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await log.append(entry(n++));
      if (measuring) latencies.push(performance.now() - t0);
    }
  };
  // Warm up (JIT, file and index creation) before the window opens.
  const warm = performance.now() + 300;
  await Promise.all(Array.from({ length: concurrency }, () => worker(warm)));
  measuring = true;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(Array.from({ length: concurrency }, () => worker(deadline)));
  const elapsed = (performance.now() - start) / 1000;
  measuring = false;
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  const sorted = Float64Array.from(latencies).sort();
  return {
    fsync, concurrency, appendsPerSec: Math.round(latencies.length / elapsed), p50Ms: round(quantile(sorted, 0.5)), p99Ms: round(quantile(sorted, 0.99)),
    recordsPerBatch: Math.round((latencies.length / Math.max(1, batches)) * 10) / 10,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const cells: Cell[] = [];
process.stderr.write(`audit append, ${SECONDS} s per cell, SQLite index ${SQLITE ? 'on' : 'off'}\n`);
process.stderr.write('fsync     conc   appends/s    p50 ms    p99 ms  records/batch\n');
for (const fsync of POLICIES) {
  for (const c of CONCURRENCY) {
    const cell = await measure(fsync, c);
    cells.push(cell);
    process.stderr.write(`${fsync.padEnd(8)}  ${String(c).padStart(4)}  ${String(cell.appendsPerSec).padStart(10)}  ${cell.p50Ms.toFixed(3).padStart(8)}  ${cell.p99Ms.toFixed(3).padStart(8)}  ${String(cell.recordsPerBatch).padStart(13)}\n`);
  }
}
process.stdout.write(`${JSON.stringify({ bench: 'audit-append', seconds: SECONDS, sqlite: SQLITE, node: process.version, cells })}\n`);
