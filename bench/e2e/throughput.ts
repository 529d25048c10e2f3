// End-to-end throughput of `tools/call` (server-everything's `echo`) through each target: req/s, p50/p99 latency, proxy
// CPU per call and memory, for server-everything direct, gatehouse, supergateway and mcp-proxy. Rounds interleave
// the targets with fresh processes each time; prints a table per round, the medians, and one final JSON line.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadOptions, LoadResult } from './load.ts';
import { ProcessKeeper } from './process-keeper.ts';
import { freePort, targets } from './targets.ts';
import type { BenchPaths, Target } from './targets.ts';

interface Settings {
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  sessions: number;
  protocolVersion: string;
  targets: readonly Target[];
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

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

function readSettings(): Settings {
  const only = (process.env.BENCH_TARGETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((name) => !targets.some((t) => t.name === name));
  if (unknown.length > 0) {
    throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')} (known: ${targets.map((t) => t.name).join(', ')})`);
  }
  return {
    seconds: envNumber('BENCH_SECONDS', 10),
    rounds: Math.round(envNumber('BENCH_ROUNDS', 3)),
    warmupSeconds: envNumber('BENCH_WARMUP', 2),
    sessions: Math.round(envNumber('BENCH_SESSIONS', 16)),
    protocolVersion: process.env.BENCH_PROTOCOL_VERSION || '2025-11-25',
    targets: only.length > 0 ? targets.filter((t) => only.includes(t.name)) : targets,
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

function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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

const HEADER = ['target', 'req/s', 'vs direct', 'p50 ms', 'p99 ms', 'proxy µs/call', 'tree µs/call', 'loadgen µs/call',
  'proxy RSS MB', 'tree RSS MB', 'procs', 'errors', 'others cores'];

function row(name: string, m: Measured, direct: Measured | undefined): string[] {
  return [
    name, fmt(m.rps, 0), direct ? `${fmt(m.rps / direct.rps, 2)}x` : '-', fmt(m.p50Ms, 2), fmt(m.p99Ms, 2),
    fmt(m.cpuUsPerCall, 0), fmt(m.treeCpuUsPerCall, 0), fmt(m.loadCpuUsPerCall, 0), fmt(m.rssMb, 0),
    fmt(m.treeRssMb, 0), String(m.processes), String(m.errors), fmt(m.otherCores, 2),
  ];
}

function printTable(title: string, outcomes: ReadonlyMap<string, Outcome>): void {
  const directOutcome = outcomes.get('direct');
  const direct = directOutcome && 'measured' in directOutcome ? directOutcome.measured : undefined;
  const rows: string[][] = [HEADER];
  const notes: string[] = [];
  for (const [name, outcome] of outcomes) {
    if ('measured' in outcome) {
      rows.push(row(name, outcome.measured, direct));
      if (outcome.measured.firstError) notes.push(`  ${name}: first error: ${outcome.measured.firstError}`);
    } else {
      rows.push([name, ...HEADER.slice(1).map(() => '-')]);
      notes.push(`  ${name}: unavailable: ${outcome.failed}`);
    }
  }
  console.log(`\n${title}\n${table(rows)}${notes.length ? `\n${notes.join('\n')}` : ''}`);
}

const keeper = new ProcessKeeper();

/** Runs the load worker against `url` and waits for its JSON line, bounded in time. */
async function runLoad(paths: BenchPaths, settings: Settings, url: string, proxyPid: number): Promise<LoadResult> {
  const options: LoadOptions = {
    url,
    sessions: settings.sessions,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    protocolVersion: settings.protocolVersion,
    proxyPid,
  };
  const worker = keeper.start(paths.node, [join(paths.bench, 'e2e', 'load.ts'), JSON.stringify(options)], { stdout: 'pipe' });
  let output = '';
  worker.child.stdout?.setEncoding('utf8');
  worker.child.stdout?.on('data', (text: string) => (output += text));
  const limitMs = (settings.warmupSeconds + settings.seconds + 60) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
  const ended = await Promise.race([worker.exited, timedOut]);
  clearTimeout(timer);
  await keeper.stop(worker.pid, 1000);
  if (ended === 'timeout') throw new Error(`load worker did not finish within ${limitMs / 1000} s`);
  const line = output.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load worker exited (${ended}) without a result: ${worker.stderrTail().slice(-600) || line}`);
  }
}

async function runTarget(target: Target, paths: BenchPaths, settings: Settings, ticksPerSecond: number): Promise<Outcome> {
  let started;
  try {
    started = await target.start(keeper, await freePort(), paths);
  } catch (error) {
    await keeper.stopAll();
    return { failed: error instanceof Error ? error.message : String(error) };
  }
  try {
    const result = await runLoad(paths, settings, started.url, started.kept.pid);
    keeper.remember(started.kept.pid);
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
    await keeper.stop(started.kept.pid);
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

async function main(): Promise<void> {
  const settings = readSettings();
  const bench = resolve(import.meta.dirname, '..');
  const root = resolve(bench, '..');
  const paths: BenchPaths = {
    root,
    bench,
    node: process.execPath,
    loader: process.env.BENCH_BIND_LOADER || join(root, '..', 'shared', 'peers', 'bind-localhost.mjs'),
  };
  if (!existsSync(paths.loader)) {
    // Without it, server-everything and supergateway would listen on every interface.
    throw new Error(`${paths.loader} not found (set BENCH_BIND_LOADER to shared/peers/bind-localhost.mjs)`);
  }
  const ticksPerSecond = clockTicksPerSecond();
  const load = loadavg();
  console.log(`gatehouse e2e throughput: echo tools/call, ${settings.sessions} sessions, concurrency ${settings.sessions}, ` +
    `${settings.seconds} s per round (+${settings.warmupSeconds} s warmup), ${settings.rounds} rounds, fresh processes per round`);
  console.log(`node ${process.version}, ${availableParallelism()} cores, CLK_TCK ${ticksPerSecond}, ` +
    `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`);

  const all = new Map<string, Measured[]>(settings.targets.map((t) => [t.name, []]));
  const lastFailure = new Map<string, string>();
  for (let r = 1; r <= settings.rounds; r++) {
    const outcomes = new Map<string, Outcome>();
    for (const target of settings.targets) {
      process.stderr.write(`round ${r}/${settings.rounds}: ${target.name}...\n`);
      const outcome = await runTarget(target, paths, settings, ticksPerSecond);
      outcomes.set(target.name, outcome);
      if ('measured' in outcome) all.get(target.name)?.push(outcome.measured);
      else lastFailure.set(target.name, outcome.failed);
      // Let the machine settle after a target's processes are gone.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    printTable(`round ${r}`, outcomes);
  }

  const medians = new Map<string, Outcome>();
  for (const target of settings.targets) {
    const rounds = all.get(target.name) ?? [];
    medians.set(target.name, rounds.length > 0
      ? { measured: summarize(rounds) }
      : { failed: lastFailure.get(target.name) ?? 'not run' });
  }
  printTable(`medians over ${settings.rounds} rounds (proxy = the process under test; tree = it and its children, ` +
    'e.g. the stdio upstream; loadgen = the load worker itself)', medians);

  const get = (name: string) => {
    const outcome = medians.get(name);
    return outcome && 'measured' in outcome ? outcome.measured : undefined;
  };
  const direct = get('direct');
  const gatehouse = get('gatehouse');
  const mcpProxy = get('mcp-proxy');
  const supergateway = get('supergateway');
  const ratio = (a: Measured | undefined, b: Measured | undefined) => (a && b ? a.rps / b.rps : NaN);
  const gatehouseAddedP50 = gatehouse && direct ? gatehouse.p50Ms - direct.p50Ms : NaN;
  console.log('\nthroughput vs direct: ' + settings.targets
    .map((t) => `${t.name} ${fmt(ratio(get(t.name), direct), 2)}x`).join(', '));
  console.log(`gatehouse vs mcp-proxy: ${fmt(ratio(gatehouse, mcpProxy), 2)}x; gatehouse vs supergateway: ` +
    `${fmt(ratio(gatehouse, supergateway), 2)}x; gatehouse added p50 over direct: ${fmt(gatehouseAddedP50, 2)} ms`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const noisiest = Math.max(0, ...[...all.values()].flat().map((m) => m.otherCores));
  if (noisiest > NOISY_CORES) {
    console.log(`warning: other processes kept up to ${fmt(noisiest, 2)} cores busy during a window ` +
      '(column "others cores"); those rounds are disturbed, compare medians or rerun on a quiet machine');
  }

  const json: Record<string, unknown> = {
    bench: 'throughput',
    seconds: settings.seconds,
    rounds: settings.rounds,
    sessions: settings.sessions,
    loadavg_start: round(load[0], 2),
    targets: Object.fromEntries(settings.targets.map((t) => {
      const m = get(t.name);
      return [t.name, m ? {
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
        vs_direct: round(ratio(m, direct), 3),
        errors: m.errors,
      } : null];
    })),
    unavailable: Object.fromEntries([...medians].flatMap(([name, o]) => ('failed' in o ? [[name, o.failed]] : []))),
    gatehouse_vs_mcp_proxy: round(ratio(gatehouse, mcpProxy), 3),
    gatehouse_vs_supergateway: round(ratio(gatehouse, supergateway), 3),
    gatehouse_added_p50_ms: round(gatehouseAddedP50, 2),
  };
  console.log(JSON.stringify(json));
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
process.on('exit', () => keeper.killAllNow());

main().then(
  () => keeper.stopAll(),
  async (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    await keeper.stopAll();
    process.exitCode = 1;
  },
);
