// The performance suite of `npm run bench`, in one run:
//   - tools/call throughput (server-everything's `echo`) through each target: req/s, p50/p99 latency, proxy CPU per
//     call and memory, for server-everything direct, gatehouse, two gatehouse replicas sharing a session key,
//     supergateway and mcp-proxy. Rounds interleave the targets with fresh processes each time.
//   - new sessions per second (initialize + notifications/initialized) through one gateway, against direct;
//   - tools/list over 1,000 aggregated tools, memory with 10,000 idle sessions, cold start to ready (scale.ts);
//   - the cost of sealing and opening a session id (bench/session/seal.ts, in this process).
// Prints a table per round, the medians, a table of figures with their goals and in-run baselines, and one final
// JSON line.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { measureSeal } from '../session/seal.ts';
import type { SealFigures } from '../session/seal.ts';
import type { LoadOptions, LoadResult } from './load.ts';
import { readStat } from './proc.ts';
import { ProcessKeeper } from './process-keeper.ts';
import { measureColdStart, measureIdleSessions, measureToolsList, median } from './scale.ts';
import type { ColdFigures, IdleFigures, ListFigures } from './scale.ts';
import { targets } from './targets.ts';
import type { BenchPaths, Target } from './targets.ts';
import { runWorker } from './worker.ts';

const PARTS = ['throughput', 'sessions', 'list', 'idle', 'cold', 'seal'] as const;
type Part = (typeof PARTS)[number];
/** The targets of the new-sessions figure: one gateway replica against the server's own HTTP transport. */
const SESSION_TARGETS = ['direct', 'gatehouse'];

interface Settings {
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  sessions: number;
  protocolVersion: string;
  targets: readonly Target[];
  parts: ReadonlySet<Part>;
  sessionSeconds: number;
  idleSessions: number;
  listTools: number;
  listUpstreams: number;
  listSeconds: number;
  coldRuns: number;
  sealRounds: number;
  quietWaitSeconds: number;
  jsonOut: string | undefined;
}

/** One target in one round, in the units we print. */
interface Measured {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerCall: number;
  treeCpuUsPerCall: number;
  loadCpuUsPerCall: number;
  rssMb: number;
  treeRssMb: number;
  processes: number;
  /** Cores kept busy during the window by processes other than the target's tree and the load worker: noise. */
  otherCores: number;
  calls: number;
  errors: number;
  firstError?: string;
}

type Outcome = { measured: Measured } | { failed: string };

const MB = 1024 * 1024;
/** Foreign CPU use during a window above which the run is called noisy (a fifth of one core). */
const NOISY_CORES = 0.2;
/** Processes that make a machine too busy to measure: a browser test, a test run. */
const HEAVY = ['chromium', 'node --test'];

function envNumber(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${raw}`);
  }
  return value;
}

function envList<T extends string>(name: string, known: readonly T[]): T[] {
  const only = (process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((item) => !known.includes(item as T));
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return only as T[];
}

function readSettings(): Settings {
  const only = envList('BENCH_TARGETS', targets.map((t) => t.name));
  const parts = envList('BENCH_SUITE', PARTS);
  return {
    seconds: envNumber('BENCH_SECONDS', 10),
    rounds: Math.round(envNumber('BENCH_ROUNDS', 3)),
    warmupSeconds: envNumber('BENCH_WARMUP', 2),
    sessions: Math.round(envNumber('BENCH_SESSIONS', 16)),
    protocolVersion: process.env.BENCH_PROTOCOL_VERSION || '2025-11-25',
    targets: only.length > 0 ? targets.filter((t) => only.includes(t.name)) : targets,
    parts: new Set(parts.length > 0 ? parts : PARTS),
    sessionSeconds: envNumber('BENCH_SESSION_SECONDS', 5),
    idleSessions: Math.round(envNumber('BENCH_IDLE_SESSIONS', 10_000)),
    listTools: Math.round(envNumber('BENCH_LIST_TOOLS', 1000)),
    listUpstreams: Math.round(envNumber('BENCH_LIST_UPSTREAMS', 4)),
    listSeconds: envNumber('BENCH_LIST_SECONDS', 3),
    coldRuns: Math.round(envNumber('BENCH_COLD_RUNS', 5)),
    sealRounds: Math.round(envNumber('BENCH_SEAL_ROUNDS', 9)),
    quietWaitSeconds: envNumber('BENCH_QUIET_WAIT', 600, true),
    jsonOut: process.env.BENCH_JSON_OUT || undefined,
  };
}

function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

function round(value: number, digits: number): number | null {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : null;
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows
    .map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  '))
    .join('\n');
}

function header(unit: string): string[] {
  const per = unit === 'req/s' ? 'call' : 'session';
  return ['target', unit, 'vs direct', 'p50 ms', 'p99 ms', `proxy µs/${per}`, `tree µs/${per}`, `loadgen µs/${per}`,
    'proxy RSS MB', 'tree RSS MB', 'procs', 'errors', 'others cores'];
}

function row(name: string, m: Measured, direct: Measured | undefined): string[] {
  return [
    name, fmt(m.rps, 0), direct ? `${fmt(m.rps / direct.rps, 2)}x` : '-', fmt(m.p50Ms, 2), fmt(m.p99Ms, 2),
    fmt(m.cpuUsPerCall, 0), fmt(m.treeCpuUsPerCall, 0), fmt(m.loadCpuUsPerCall, 0), fmt(m.rssMb, 0),
    fmt(m.treeRssMb, 0), String(m.processes), String(m.errors), fmt(m.otherCores, 2),
  ];
}

function printTable(title: string, unit: string, outcomes: ReadonlyMap<string, Outcome>): void {
  const directOutcome = outcomes.get('direct');
  const direct = directOutcome && 'measured' in directOutcome ? directOutcome.measured : undefined;
  const rows: string[][] = [header(unit)];
  const notes: string[] = [];
  for (const [name, outcome] of outcomes) {
    if ('measured' in outcome) {
      rows.push(row(name, outcome.measured, direct));
      if (outcome.measured.firstError) notes.push(`  ${name}: first error: ${outcome.measured.firstError}`);
    } else {
      rows.push([name, ...rows[0].slice(1).map(() => '-')]);
      notes.push(`  ${name}: unavailable: ${outcome.failed}`);
    }
  }
  console.log(`\n${title}\n${table(rows)}${notes.length ? `\n${notes.join('\n')}` : ''}`);
}

const keeper = new ProcessKeeper();
/** The run's temp dir, removed at the end, also on Ctrl-C. */
let tmp: string | undefined;

function removeTmp(): void {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

/** Our own pid and our ancestors': a shell that started us may carry a heavy pattern in its command line. */
function ownLineage(): Set<number> {
  const lineage = new Set<number>();
  for (let pid = process.pid; pid > 1 && !lineage.has(pid);) {
    lineage.add(pid);
    pid = readStat(pid)?.ppid ?? 0;
  }
  return lineage;
}

/** The heavy processes running now (pgrep -f of each pattern), ours left out. */
function heavyProcesses(): string[] {
  const ours = ownLineage();
  const found: string[] = [];
  for (const pattern of HEAVY) {
    let out = '';
    try {
      out = execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
    } catch {
      // pgrep exits 1 when nothing matches.
    }
    const pids = out.split('\n').map(Number).filter((pid) => pid > 0 && !ours.has(pid));
    if (pids.length > 0) found.push(`${pattern} (${pids.length})`);
  }
  return found;
}

/** Waits, polling every 10 s, until no heavy process runs, for at most `maxSeconds`; false if it gave up. */
async function waitForQuiet(maxSeconds: number): Promise<boolean> {
  const deadline = Date.now() + maxSeconds * 1000;
  for (;;) {
    const heavy = heavyProcesses();
    if (heavy.length === 0) return true;
    if (Date.now() >= deadline) {
      console.log(`warning: still running after ${maxSeconds} s: ${heavy.join(', ')}; measuring anyway`);
      return false;
    }
    process.stderr.write(`waiting for a quiet machine: ${heavy.join(', ')} running; next look in 10 s\n`);
    await sleep(10_000);
  }
}

async function runTarget(target: Target, paths: BenchPaths, settings: Settings, ticksPerSecond: number, mode: LoadOptions['mode']): Promise<Outcome> {
  let started;
  try {
    started = await target.start(keeper, paths);
  } catch (error) {
    await keeper.stopAll();
    return { failed: error instanceof Error ? error.message : String(error) };
  }
  const pids = started.kept.map((k) => k.pid);
  try {
    const seconds = mode === 'sessions' ? settings.sessionSeconds : settings.seconds;
    const warmupSeconds = mode === 'sessions' ? Math.min(1, settings.warmupSeconds) : settings.warmupSeconds;
    const options: LoadOptions = {
      urls: started.urls,
      mode,
      sessions: settings.sessions,
      warmupSeconds,
      seconds,
      protocolVersion: settings.protocolVersion,
      proxyPids: pids,
    };
    const result = await runWorker<LoadResult>(keeper, paths.node, join(paths.bench, 'e2e', 'load.ts'), options,
      (warmupSeconds + seconds + 60) * 1000);
    for (const pid of pids) keeper.remember(pid);
    if (!result.ok) {
      return { failed: result.error ?? `no successful call (${result.errors} errors; ${result.firstError ?? 'target died'})` };
    }
    const usPerTick = 1e6 / ticksPerSecond;
    return {
      measured: {
        rps: result.rps,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpuUsPerCall: (result.proxyCpuTicks * usPerTick) / result.calls,
        treeCpuUsPerCall: (result.treeCpuTicks * usPerTick) / result.calls,
        loadCpuUsPerCall: result.loadCpuUs / result.calls,
        rssMb: result.proxyRssBytes / MB,
        treeRssMb: result.treeRssBytes / MB,
        processes: result.treeProcesses,
        otherCores: Math.max(0, result.machineCpuTicks - result.treeCpuTicks - result.loadCpuUs / usPerTick) /
          ((result.windowMs / 1000) * ticksPerSecond),
        calls: result.calls,
        errors: result.errors,
        firstError: result.firstError,
      },
    };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  } finally {
    await Promise.all(pids.map((pid) => keeper.stop(pid)));
  }
}

function summarize(rounds: readonly Measured[]): Measured {
  const pick = (key: keyof Measured) => median(rounds.map((m) => Number(m[key])));
  return {
    rps: pick('rps'), p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms'), cpuUsPerCall: pick('cpuUsPerCall'),
    treeCpuUsPerCall: pick('treeCpuUsPerCall'), loadCpuUsPerCall: pick('loadCpuUsPerCall'), rssMb: pick('rssMb'),
    treeRssMb: pick('treeRssMb'), processes: Math.round(pick('processes')), otherCores: pick('otherCores'),
    calls: pick('calls'),
    errors: rounds.reduce((sum, m) => sum + m.errors, 0),
  };
}

/** Interleaved rounds over `list` in `mode`, each round kept in `all`; per target the medians, or why it never ran. */
async function runRounds(list: readonly Target[], mode: LoadOptions['mode'], paths: BenchPaths, settings: Settings,
  ticksPerSecond: number, all: Map<string, Measured[]>): Promise<Map<string, Outcome>> {
  const unit = mode === 'calls' ? 'req/s' : 'sessions/s';
  const lastFailure = new Map<string, string>();
  // Keyed by mode too: direct and gatehouse run in both modes.
  const key = (target: Target) => `${mode}:${target.name}`;
  for (const target of list) all.set(key(target), []);
  for (let r = 1; r <= settings.rounds; r++) {
    const outcomes = new Map<string, Outcome>();
    for (const target of list) {
      process.stderr.write(`${mode} round ${r}/${settings.rounds}: ${target.name}...\n`);
      const outcome = await runTarget(target, paths, settings, ticksPerSecond, mode);
      outcomes.set(target.name, outcome);
      if ('measured' in outcome) all.get(key(target))?.push(outcome.measured);
      else lastFailure.set(target.name, outcome.failed);
      // Let the machine settle after a target's processes are gone.
      await sleep(1000);
    }
    printTable(`${mode === 'calls' ? 'tools/call' : 'new sessions'} round ${r}`, unit, outcomes);
  }
  const medians = new Map<string, Outcome>();
  for (const target of list) {
    const rounds = all.get(key(target)) ?? [];
    medians.set(target.name, rounds.length > 0
      ? { measured: summarize(rounds) }
      : { failed: lastFailure.get(target.name) ?? 'not run' });
  }
  return medians;
}

/** Runs one part of the suite; a failure is printed and recorded, and the run goes on. */
async function part<T>(name: string, failures: Map<string, string>, work: () => Promise<T>): Promise<T | undefined> {
  process.stderr.write(`${name}...\n`);
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.log(`\n${name}: failed: ${message}`);
    failures.set(name, message);
    await keeper.stopAll();
    return undefined;
  }
}

interface Figure {
  name: string;
  value: number;
  digits: number;
  unit: string;
  /** Goal as text, and the check; absent when the figure has no goal. */
  goal?: { text: string; met: (v: number) => boolean };
  baseline?: { name: string; value: number };
  note?: string;
}

function printFigures(figures: readonly Figure[]): string[] {
  const missed: string[] = [];
  const rows = [['figure', 'value', 'goal', 'met', 'in-run baseline', 'ratio']];
  for (const f of figures) {
    const met = f.goal && Number.isFinite(f.value) ? f.goal.met(f.value) : undefined;
    if (f.goal && met !== true) missed.push(f.name);
    rows.push([
      f.name,
      `${fmt(f.value, f.digits)}${f.unit ? ` ${f.unit}` : ''}`,
      f.goal?.text ?? '-',
      met === undefined ? (f.goal ? 'n/a' : '-') : met ? 'yes' : 'NO',
      f.baseline ? `${f.baseline.name} ${fmt(f.baseline.value, f.digits)}` : '-',
      f.baseline ? `${fmt(f.value / f.baseline.value, 2)}x` : '-',
    ]);
  }
  console.log(`\nfigures (medians; ratio = value / in-run baseline)\n${table(rows)}`);
  for (const f of figures) if (f.note) console.log(`  ${f.name}: ${f.note}`);
  return missed;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const bench = resolve(import.meta.dirname, '..');
  const root = resolve(bench, '..');
  const paths: BenchPaths = {
    root,
    bench,
    node: process.execPath,
    loader: process.env.BENCH_BIND_LOADER || join(root, '..', 'shared', 'peers', 'bind-localhost.mjs'),
    tmp: mkdtempSync(join(tmpdir(), 'gatehouse-bench-')),
  };
  tmp = paths.tmp;
  try {
    await suite(settings, paths);
  } finally {
    await keeper.stopAll();
    removeTmp();
  }
}

async function suite(settings: Settings, paths: BenchPaths): Promise<void> {
  if (!existsSync(paths.loader)) {
    // Without it, server-everything and supergateway would listen on every interface.
    throw new Error(`${paths.loader} not found (set BENCH_BIND_LOADER to shared/peers/bind-localhost.mjs)`);
  }
  const ticksPerSecond = clockTicksPerSecond();
  const parts = settings.parts;
  console.log(`gatehouse performance suite: ${[...parts].join(', ')}`);
  console.log(`  tools/call: echo, ${settings.sessions} sessions, concurrency ${settings.sessions}, ` +
    `${settings.seconds} s per round (+${settings.warmupSeconds} s warmup), ${settings.rounds} rounds, fresh processes per round`);
  console.log(`node ${process.version}, ${availableParallelism()} cores, CLK_TCK ${ticksPerSecond}, ` +
    `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const waitStarted = Date.now();
  const quiet = settings.quietWaitSeconds > 0 ? await waitForQuiet(settings.quietWaitSeconds) : true;
  const waitedSeconds = (Date.now() - waitStarted) / 1000;
  const load = loadavg();
  console.log(`${waitedSeconds >= 1 ? `waited ${fmt(waitedSeconds, 0)} s for a quiet machine; ` : ''}` +
    `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`);
  const suiteStarted = Date.now();
  const failures = new Map<string, string>();

  // tools/call throughput, all targets interleaved.
  const all = new Map<string, Measured[]>();
  let medians = new Map<string, Outcome>();
  if (parts.has('throughput')) {
    medians = await runRounds(settings.targets, 'calls', paths, settings, ticksPerSecond, all);
    printTable(`tools/call medians over ${settings.rounds} rounds (proxy = the process(es) under test; tree = with ` +
      'their children, e.g. the stdio upstream; loadgen = the load worker itself)', 'req/s', medians);
  }

  // New sessions per second: direct and one gateway replica, interleaved.
  let sessionMedians = new Map<string, Outcome>();
  if (parts.has('sessions')) {
    const sessionTargets = targets.filter((t) => SESSION_TARGETS.includes(t.name));
    sessionMedians = await runRounds(sessionTargets, 'sessions', paths, settings, ticksPerSecond, all);
    printTable(`new sessions (initialize + notifications/initialized, concurrency ${settings.sessions}, ` +
      `${settings.sessionSeconds} s per round) medians over ${settings.rounds} rounds`, 'sessions/s', sessionMedians);
  }

  let list: ListFigures | undefined;
  if (parts.has('list')) {
    list = await part('tools/list', failures, () => measureToolsList(keeper, paths, settings.listTools, settings.listUpstreams,
      settings.listSeconds, settings.rounds, settings.protocolVersion));
    if (list) {
      console.log(`\ntools/list: ${list.tools} tools from ${list.upstreams} weather-http upstreams (${fmt(list.listKb, 0)} KB per ` +
        `answer), ${list.lists} lists over ${settings.rounds} rounds of ${settings.listSeconds} s: p50 ${fmt(list.listP50Ms, 2)} ms, ` +
        `p99 ${fmt(list.listP99Ms, 2)} ms; ping on the same session p50 ${fmt(list.pingP50Ms, 2)} ms, p99 ${fmt(list.pingP99Ms, 2)} ms` +
        (list.errors ? `; ${list.errors} errors, first: ${list.firstError}` : ''));
    }
  }

  let idle: IdleFigures | undefined;
  if (parts.has('idle')) {
    idle = await part('idle sessions', failures, () => measureIdleSessions(keeper, paths, settings.idleSessions, settings.sessions,
      settings.protocolVersion));
    if (idle) {
      console.log(`\nidle sessions: ${idle.sessions} opened (initialize only, concurrency ${settings.sessions}) in ` +
        `${fmt(idle.openSeconds, 1)} s; gateway reports ${idle.live ?? '?'} live; gateway RSS ${fmt(idle.baselineRssMb, 1)} MB before, ` +
        `${fmt(idle.rssMb, 1)} MB after (settled in ${fmt(idle.settleSeconds, 1)} s, no forced GC), ` +
        `${fmt(idle.kbPerSession, 1)} KB per session; V8 heap used ${fmt(idle.baselineHeapMb, 1)} MB before, ` +
        `${fmt(idle.heapMb, 1)} MB after; its stdio upstream ${fmt(idle.upstreamRssMb, 0)} MB`);
    }
  }

  let cold: ColdFigures | undefined;
  if (parts.has('cold')) {
    cold = await part('cold start', failures, () => measureColdStart(keeper, paths, settings.coldRuns));
    if (cold) {
      console.log(`\ncold start (spawn to /readyz ready, ${settings.coldRuns} runs): gatehouse ` +
        `${cold.gatehouseMs.map((ms) => fmt(ms, 0)).join(', ')} ms; server-everything alone (spawn to first HTTP answer) ` +
        `${cold.directMs.map((ms) => fmt(ms, 0)).join(', ')} ms`);
    }
  }

  let seal: SealFigures | undefined;
  if (parts.has('seal')) {
    seal = await part('seal', failures, async () => measureSeal(settings.sealRounds));
    if (seal) {
      console.log(`\nsealed session id (${seal.token_chars} characters, median of ${settings.sealRounds} rounds, in-process): ` +
        `seal ${seal.seal_us} µs, open ${seal.open_us} µs; JSON round trip of the same state ${seal.json_roundtrip_us} µs`);
    }
  }

  const get = (map: ReadonlyMap<string, Outcome>, name: string) => {
    const outcome = map.get(name);
    return outcome && 'measured' in outcome ? outcome.measured : undefined;
  };
  const direct = get(medians, 'direct');
  const gatehouse = get(medians, 'gatehouse');
  const gatehouse2 = get(medians, 'gatehouse-2');
  const mcpProxy = get(medians, 'mcp-proxy');
  const supergateway = get(medians, 'supergateway');
  const sessionsDirect = get(sessionMedians, 'direct');
  const sessionsGatehouse = get(sessionMedians, 'gatehouse');
  const ratio = (a: Measured | undefined, b: Measured | undefined) => (a && b ? a.rps / b.rps : NaN);
  const added = (a: Measured | undefined, key: 'p50Ms' | 'p99Ms') => (a && direct ? a[key] - direct[key] : NaN);
  if (parts.has('throughput')) {
    console.log('\nthroughput vs direct: ' + settings.targets
      .map((t) => `${t.name} ${fmt(ratio(get(medians, t.name), direct), 2)}x`).join(', '));
    console.log(`gatehouse vs mcp-proxy: ${fmt(ratio(gatehouse, mcpProxy), 2)}x; gatehouse vs supergateway: ` +
      `${fmt(ratio(gatehouse, supergateway), 2)}x; 2 replicas vs 1: ${fmt(ratio(gatehouse2, gatehouse), 2)}x`);
    console.log(`added latency over direct: 1 replica p50 ${fmt(added(gatehouse, 'p50Ms'), 2)} ms, p99 ${fmt(added(gatehouse, 'p99Ms'), 2)} ms; ` +
      `2 replicas p50 ${fmt(added(gatehouse2, 'p50Ms'), 2)} ms, p99 ${fmt(added(gatehouse2, 'p99Ms'), 2)} ms`);
  }

  const coldMs = cold ? median(cold.gatehouseMs) : NaN;
  const coldDirectMs = cold ? median(cold.directMs) : NaN;
  const figures: Figure[] = [];
  if (parts.has('throughput')) {
    figures.push(
      { name: 'gatehouse tools/call', value: gatehouse?.rps ?? NaN, digits: 0, unit: 'req/s', baseline: direct && { name: 'direct', value: direct.rps } },
      { name: 'gatehouse_vs_mcp_proxy', value: ratio(gatehouse, mcpProxy), digits: 2, unit: 'x', goal: { text: '>= 1.2x', met: (v) => v >= 1.2 } },
      { name: 'gatehouse_vs_supergateway', value: ratio(gatehouse, supergateway), digits: 2, unit: 'x', goal: { text: '>= 2x', met: (v) => v >= 2 } },
      { name: 'gatehouse CPU per call', value: gatehouse?.cpuUsPerCall ?? NaN, digits: 0, unit: 'µs', goal: { text: '<= 150 µs', met: (v) => v <= 150 },
        baseline: direct && { name: 'direct server', value: direct.cpuUsPerCall } },
      { name: 'gatehouse_added_p50_ms', value: added(gatehouse, 'p50Ms'), digits: 2, unit: 'ms', goal: { text: '<= 1 ms', met: (v) => v <= 1 } },
      { name: 'gatehouse_added_p99_ms', value: added(gatehouse, 'p99Ms'), digits: 2, unit: 'ms' },
      { name: '2 replicas tools/call', value: gatehouse2?.rps ?? NaN, digits: 0, unit: 'req/s', baseline: direct && { name: 'direct', value: direct.rps } },
      { name: 'replicas2_vs_1_rps', value: ratio(gatehouse2, gatehouse), digits: 2, unit: 'x',
        note: `${availableParallelism()} cores: two replicas and two stdio children share them, so about 1x or less is expected; ` +
          'it shows that spreading every session over both replicas (no stickiness, no shared store) does not collapse, not scaling' },
      { name: 'gatehouse2_added_p50_ms', value: added(gatehouse2, 'p50Ms'), digits: 2, unit: 'ms' },
      { name: 'gatehouse2_added_p99_ms', value: added(gatehouse2, 'p99Ms'), digits: 2, unit: 'ms' },
    );
  }
  if (parts.has('sessions')) {
    figures.push({ name: 'new_sessions_per_s', value: sessionsGatehouse?.rps ?? NaN, digits: 0, unit: '/s',
      baseline: sessionsDirect && { name: 'direct', value: sessionsDirect.rps } });
  }
  if (seal) {
    figures.push(
      { name: 'seal_us', value: seal.seal_us, digits: 1, unit: 'µs', goal: { text: '< 50 µs', met: (v) => v < 50 } },
      { name: 'open_us', value: seal.open_us, digits: 1, unit: 'µs', goal: { text: '< 50 µs', met: (v) => v < 50 } },
      { name: 'seal_open_us', value: seal.seal_open_us, digits: 1, unit: 'µs', goal: { text: '< 100 µs', met: (v) => v < 100 },
        baseline: { name: 'JSON round trip', value: seal.json_roundtrip_us } },
    );
  }
  if (parts.has('idle')) {
    figures.push({ name: 'idle_sessions_10k_rss_mb', value: idle?.rssMb ?? NaN, digits: 1, unit: 'MB', goal: { text: '<= 150 MB', met: (v) => v <= 150 },
      baseline: idle && { name: 'no sessions', value: idle.baselineRssMb },
      note: idle && idle.sessions !== 10_000 ? `measured with ${idle.sessions} sessions (BENCH_IDLE_SESSIONS), not 10,000` : undefined });
  }
  if (parts.has('list')) {
    figures.push(
      { name: 'tools_list_1000_p50_ms', value: list?.listP50Ms ?? NaN, digits: 2, unit: 'ms', goal: { text: '<= 2 ms', met: (v) => v <= 2 },
        baseline: list && { name: 'ping', value: list.pingP50Ms },
        note: list && list.tools < 1000 ? `only ${list.tools} tools (BENCH_LIST_TOOLS)` : undefined },
      { name: 'tools_list_1000_p99_ms', value: list?.listP99Ms ?? NaN, digits: 2, unit: 'ms', baseline: list && { name: 'ping', value: list.pingP99Ms } },
    );
  }
  if (parts.has('cold')) {
    figures.push({ name: 'cold_start_ms', value: coldMs, digits: 0, unit: 'ms', goal: { text: '<= 1000 ms', met: (v) => v <= 1000 },
      baseline: cold && { name: 'server-everything alone', value: coldDirectMs } });
  }
  const missed = printFigures(figures);

  console.log(`\nsuite took ${fmt((Date.now() - suiteStarted) / 1000, 0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const noisiest = Math.max(0, ...[...all.values()].flat().map((m) => m.otherCores));
  if (noisiest > NOISY_CORES) {
    console.log(`warning: other processes kept up to ${fmt(noisiest, 2)} cores busy during a window ` +
      '(column "others cores"); those rounds are disturbed, compare medians or rerun on a quiet machine');
  }
  if (!quiet) console.log('warning: heavy processes (chromium or node --test) were still running when the suite started');
  console.log(missed.length > 0 ? `goals missed: ${missed.join(', ')}` : 'every goal met');

  const targetJson = (m: Measured | undefined, base: Measured | undefined) => (m ? {
    rps: round(m.rps, 1),
    p50_ms: round(m.p50Ms, 2),
    p99_ms: round(m.p99Ms, 2),
    cpu_us_per_call: round(m.cpuUsPerCall, 0),
    tree_cpu_us_per_call: round(m.treeCpuUsPerCall, 0),
    loadgen_cpu_us_per_call: round(m.loadCpuUsPerCall, 0),
    rss_mb: round(m.rssMb, 1),
    tree_rss_mb: round(m.treeRssMb, 1),
    processes: m.processes,
    other_cores: round(m.otherCores, 2),
    vs_direct: round(ratio(m, base), 3),
    errors: m.errors,
  } : null);
  const unavailable = Object.fromEntries([
    ...[...medians].flatMap(([name, o]) => ('failed' in o ? [[name, o.failed]] : [])),
    ...[...sessionMedians].flatMap(([name, o]) => ('failed' in o ? [[`sessions:${name}`, o.failed]] : [])),
    ...failures,
  ]);
  const json: Record<string, unknown> = {
    bench: 'performance',
    seconds: settings.seconds,
    rounds: settings.rounds,
    sessions: settings.sessions,
    cores: availableParallelism(),
    loadavg_start: round(load[0], 2),
    targets: Object.fromEntries(parts.has('throughput')
      ? settings.targets.map((t) => [t.name, targetJson(get(medians, t.name), direct)])
      : []),
    unavailable,
    gatehouse_vs_mcp_proxy: round(ratio(gatehouse, mcpProxy), 3),
    gatehouse_vs_supergateway: round(ratio(gatehouse, supergateway), 3),
    gatehouse_added_p50_ms: round(added(gatehouse, 'p50Ms'), 2),
    gatehouse_added_p99_ms: round(added(gatehouse, 'p99Ms'), 2),
    gatehouse2_added_p50_ms: round(added(gatehouse2, 'p50Ms'), 2),
    gatehouse2_added_p99_ms: round(added(gatehouse2, 'p99Ms'), 2),
    replicas2_vs_1_rps: round(ratio(gatehouse2, gatehouse), 3),
    new_sessions_per_s: round(sessionsGatehouse?.rps ?? NaN, 0),
    new_sessions_direct_per_s: round(sessionsDirect?.rps ?? NaN, 0),
    new_sessions_vs_direct: round(ratio(sessionsGatehouse, sessionsDirect), 3),
    seal_us: seal?.seal_us ?? null,
    open_us: seal?.open_us ?? null,
    seal_open_us: seal?.seal_open_us ?? null,
    json_roundtrip_us: seal?.json_roundtrip_us ?? null,
    idle_sessions: idle?.sessions ?? null,
    idle_sessions_10k_rss_mb: round(idle?.rssMb ?? NaN, 1),
    idle_baseline_rss_mb: round(idle?.baselineRssMb ?? NaN, 1),
    idle_kb_per_session: round(idle?.kbPerSession ?? NaN, 2),
    idle_heap_used_mb: round(idle?.heapMb ?? NaN, 1),
    idle_baseline_heap_used_mb: round(idle?.baselineHeapMb ?? NaN, 1),
    tools_list_tools: list?.tools ?? null,
    tools_list_1000_p50_ms: round(list?.listP50Ms ?? NaN, 3),
    tools_list_1000_p99_ms: round(list?.listP99Ms ?? NaN, 3),
    tools_list_ping_p50_ms: round(list?.pingP50Ms ?? NaN, 3),
    cold_start_ms: round(coldMs, 0),
    cold_start_direct_ms: round(coldDirectMs, 0),
    goals_missed: missed,
  };
  const line = JSON.stringify(json);
  if (settings.jsonOut) writeFileSync(settings.jsonOut, line + '\n');
  console.log(line);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping every benchmark process...\n`);
    void keeper.stopAll(1000).finally(() => process.exit(130));
  });
}
// Last resort (an exit we did not see coming): SIGKILL whatever is still ours.
process.on('exit', () => {
  keeper.killAllNow();
  removeTmp();
});

main().then(
  () => keeper.stopAll(),
  async (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    await keeper.stopAll();
    process.exitCode = 1;
  },
);
