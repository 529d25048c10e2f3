// The scale-out figures of `npm run bench` beyond tools/call throughput: memory of one gateway holding 10,000 idle
// sessions, tools/list over 1,000 aggregated tools from the catalog cache, and cold start to ready. Each starts its
// own processes through the ProcessKeeper and stops them again; workers (probe.ts) do the client side.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { ListJob, ListResult, OpenJob, OpenResult } from './probe.ts';
import type { Kept, ProcessKeeper } from './process-keeper.ts';
import { rssBytes } from './proc.ts';
import { binFile, everythingStdio, exitError, freePort, gatehouseCommand, shellJoin, waitForLine } from './targets.ts';
import type { BenchPaths } from './targets.ts';
import { runWorker } from './worker.ts';

const MB = 1024 * 1024;
const READY_TIMEOUT_MS = 30_000;

/** GET `url` and its body as text, or undefined when nothing answers. */
async function get(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return { status: response.status, text: await response.text() };
  } catch {
    return undefined;
  }
}

/** Polls the gateway's /readyz every `intervalMs` until it answers 200 with `ready: true`. */
async function waitReady(kept: Kept, origin: string, what: string, intervalMs = 20): Promise<void> {
  let exited = false;
  const died = exitError(kept, what);
  died.catch(() => (exited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    const answer = await get(`${origin}/readyz`);
    if (answer?.status === 200 && (JSON.parse(answer.text) as { ready?: boolean }).ready === true) return;
    await sleep(intervalMs);
  }
  if (exited) await died;
  const last = await get(`${origin}/readyz`);
  throw new Error(`${what}: /readyz not ready after ${READY_TIMEOUT_MS / 1000} s${last ? `: ${last.text.slice(0, 300)}` : ''}`);
}

/** Starts `gatehouse start -c <config>` (written as YAML to the run's temp dir) and waits until /readyz is ready. */
async function startConfigured(keeper: ProcessKeeper, paths: BenchPaths, name: string, config: Record<string, unknown>) {
  const file = join(paths.tmp, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  const kept = keeper.start(paths.node, [...gatehouseCommand(paths), 'start', '-c', file], { cwd: paths.tmp, stdout: 'pipe' });
  const url = await waitForLine(kept, /gatehouse listening on (http:\/\/\S+)/, `gatehouse (${name})`);
  const origin = new URL(url).origin;
  await waitReady(kept, origin, `gatehouse (${name})`);
  return { kept, url, origin };
}

/** What every configured gateway of the suite shares: loopback, no audit files, in-memory pins, quiet logs. */
function baseConfig(paths: BenchPaths, name: string, port: number) {
  return {
    pinning: { store: 'memory' },
    admin: { store: 'memory' },
    audit: { enabled: false },
    store: { path: join(paths.tmp, `${name}.db`) },
    logging: { level: 'warn' },
    server: { host: '127.0.0.1', port } as Record<string, unknown>,
  };
}

/** VmRSS once it has settled: sampled every 500 ms until the last 2 s vary by less than 1 MB, at most `maxMs`. */
async function settledRss(pid: number, maxMs = 20_000): Promise<{ bytes: number; waitedMs: number }> {
  const started = Date.now();
  const samples: number[] = [rssBytes(pid)];
  while (Date.now() - started < maxMs) {
    await sleep(500);
    samples.push(rssBytes(pid));
    const recent = samples.slice(-5);
    if (recent.length === 5 && Math.max(...recent) - Math.min(...recent) < MB) break;
  }
  return { bytes: samples.at(-1) ?? 0, waitedMs: Date.now() - started };
}

/** Gauges of the gateway's /metrics by name (the first sample of each), e.g. `gatehouse_sessions`. */
async function gauges(origin: string, names: readonly string[]): Promise<Map<string, number>> {
  const answer = await get(`${origin}/metrics`);
  const found = new Map<string, number>();
  for (const name of names) {
    const match = answer ? new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(answer.text) : null;
    if (match) found.set(name, Number(match[1]));
  }
  return found;
}

const HEAP_USED = 'nodejs_heap_size_used_bytes';

export interface IdleFigures {
  sessions: number;
  /** The gateway's own count of live sessions after the opening (`gatehouse_sessions`). */
  live: number | null;
  baselineRssMb: number;
  rssMb: number;
  /** V8 heap in use (prom-client's `nodejs_heap_size_used_bytes`, no forced GC) before and after. */
  baselineHeapMb: number;
  heapMb: number;
  kbPerSession: number;
  openSeconds: number;
  settleSeconds: number;
  /** The gateway's stdio child (server-everything), for context: it is shared by every session. */
  upstreamRssMb: number;
}

/**
 * One gateway fronting server-everything over stdio, `server.sessionIdleTimeout: 2h` so nothing is swept. Its RSS
 * settled after start (the baseline), then `count` sessions opened (`initialize` only) and left idle, then its RSS
 * settled again. A GC cannot be forced in the gateway (it runs without --expose-gc), so "settled" stands in for it.
 */
export async function measureIdleSessions(keeper: ProcessKeeper, paths: BenchPaths, count: number, concurrency: number, protocolVersion: string): Promise<IdleFigures> {
  const [command, ...args] = everythingStdio(paths);
  const config = baseConfig(paths, 'idle', await freePort());
  config.server.sessionIdleTimeout = '2h';
  const gateway = await startConfigured(keeper, paths, 'idle', { ...config, upstreams: { everything: { transport: 'stdio', command, args } } });
  try {
    const baseline = await settledRss(gateway.kept.pid);
    const before = await gauges(gateway.origin, [HEAP_USED]);
    const job: OpenJob = { job: 'open', url: gateway.url, count, concurrency, protocolVersion };
    const opened = await runWorker<OpenResult>(keeper, paths.node, join(paths.bench, 'e2e', 'probe.ts'), job, 300_000);
    if (!opened.ok) throw new Error(`opened ${opened.opened ?? 0} of ${count} sessions: ${opened.error ?? opened.firstError ?? 'unknown'}`);
    const after = await settledRss(gateway.kept.pid);
    const metrics = await gauges(gateway.origin, ['gatehouse_sessions', HEAP_USED]);
    const child = keeper.remember(gateway.kept.pid).find((s) => s.pid !== gateway.kept.pid);
    return {
      sessions: opened.opened,
      live: metrics.get('gatehouse_sessions') ?? null,
      baselineRssMb: baseline.bytes / MB,
      rssMb: after.bytes / MB,
      baselineHeapMb: (before.get(HEAP_USED) ?? NaN) / MB,
      heapMb: (metrics.get(HEAP_USED) ?? NaN) / MB,
      kbPerSession: (after.bytes - baseline.bytes) / 1024 / opened.opened,
      openSeconds: opened.elapsedMs / 1000,
      settleSeconds: after.waitedMs / 1000,
      upstreamRssMb: child ? rssBytes(child.pid) / MB : NaN,
    };
  } finally {
    await keeper.stop(gateway.kept.pid);
  }
}

export interface ListFigures {
  tools: number;
  upstreams: number;
  listKb: number;
  lists: number;
  listP50Ms: number;
  listP99Ms: number;
  pingP50Ms: number;
  pingP99Ms: number;
  errors: number;
  firstError?: string;
}

/**
 * `upstreams` weather-http servers (examples/weather-http, streamable HTTP, tools/list in pages of 50) with enough
 * `station_<i>` tools that together they list at least `tools`, behind one gateway. A client then alternates `ping`
 * and `tools/list` on one session, one request at a time; `ping` is the in-run baseline (the same HTTP and session
 * path with no list to serve). Each of `rounds` probes runs `seconds`; medians over the rounds.
 */
export async function measureToolsList(keeper: ProcessKeeper, paths: BenchPaths, tools: number, upstreams: number, seconds: number, rounds: number, protocolVersion: string): Promise<ListFigures> {
  // weather-http lists 4 weather tools and 5 shared test tools besides its stations.
  const perUpstream = Math.ceil(tools / upstreams);
  const servers = await Promise.all(Array.from({ length: upstreams }, async (_, i) => {
    const kept = keeper.start(paths.node, [join(paths.root, 'examples', 'weather-http', 'server.ts')], {
      cwd: paths.root,
      env: { ...process.env, WEATHER_EXTRA_TOOLS: String(perUpstream) },
      stdout: 'pipe',
    });
    return { kept, url: await waitForLine(kept, /^LISTENING (http:\/\/\S+)/, `weather-http ${i + 1}`) };
  }));
  let gateway: Kept | undefined;
  try {
    const config = baseConfig(paths, 'list', await freePort());
    const started = await startConfigured(keeper, paths, 'list', {
      ...config,
      upstreams: Object.fromEntries(servers.map((s, i) => [`weather${i + 1}`, { transport: 'http', url: s.url }])),
    });
    gateway = started.kept;
    const results: ListResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const job: ListJob = { job: 'list', url: started.url, seconds, warmupSeconds: r === 0 ? 1 : 0.2, protocolVersion };
      const result = await runWorker<ListResult>(keeper, paths.node, join(paths.bench, 'e2e', 'probe.ts'), job, (seconds + 60) * 1000);
      if (!result.ok) throw new Error(`tools/list probe failed: ${result.error ?? result.firstError ?? 'no answer'}`);
      results.push(result);
    }
    const pick = (key: keyof ListResult) => median(results.map((x) => Number(x[key])));
    return {
      tools: results[0].tools,
      upstreams,
      listKb: results[0].listBytes / 1024,
      lists: results.reduce((sum, x) => sum + x.lists, 0),
      listP50Ms: pick('listP50Ms'),
      listP99Ms: pick('listP99Ms'),
      pingP50Ms: pick('pingP50Ms'),
      pingP99Ms: pick('pingP99Ms'),
      errors: results.reduce((sum, x) => sum + x.errors, 0),
      firstError: results.find((x) => x.firstError)?.firstError,
    };
  } finally {
    await Promise.all([...(gateway ? [gateway] : []), ...servers.map((s) => s.kept)].map((k) => keeper.stop(k.pid)));
  }
}

export interface ColdFigures {
  /** Spawning `gatehouse start` (bin/gatehouse.mjs, one stdio upstream) to /readyz 200 `ready: true`, per run. */
  gatehouseMs: number[];
  /** Spawning server-everything over HTTP to its first HTTP answer, per run: the in-run baseline. */
  directMs: number[];
}

/** Polls `probe` every 5 ms until it is true; the time from `t0`. */
async function timeUntil(kept: Kept, t0: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  let exited = false;
  const died = exitError(kept, what);
  died.catch(() => (exited = true));
  while (!exited && performance.now() - t0 < READY_TIMEOUT_MS) {
    if (await probe()) return performance.now() - t0;
    await sleep(5);
  }
  if (exited) await died;
  throw new Error(`${what}: not ready after ${READY_TIMEOUT_MS / 1000} s`);
}

/** `runs` cold starts each of the gateway and of the direct server, interleaved, with fresh processes each time. */
export async function measureColdStart(keeper: ProcessKeeper, paths: BenchPaths, runs: number): Promise<ColdFigures> {
  const figures: ColdFigures = { gatehouseMs: [], directMs: [] };
  const everything = everythingStdio(paths);
  const everythingBin = binFile(join(paths.root, 'node_modules', '@modelcontextprotocol', 'server-everything'), 'mcp-server-everything');
  for (let run = 0; run < runs; run++) {
    {
      const port = await freePort();
      const args = [...gatehouseCommand(paths), 'start', '--host', '127.0.0.1', '--port', String(port),
        '--upstream', `everything=${shellJoin(everything)}`];
      const t0 = performance.now();
      const kept = keeper.start(paths.node, args, { cwd: paths.root, stdout: 'ignore' });
      try {
        figures.gatehouseMs.push(await timeUntil(kept, t0, 'gatehouse', async () => {
          const answer = await get(`http://127.0.0.1:${port}/readyz`);
          return answer?.status === 200 && (JSON.parse(answer.text) as { ready?: boolean }).ready === true;
        }));
      } finally {
        await keeper.stop(kept.pid);
      }
    }
    await sleep(500);
    {
      const port = await freePort();
      const t0 = performance.now();
      const kept = keeper.start(paths.node, ['--import', paths.loader, everythingBin, 'streamableHttp'], {
        env: { ...process.env, PORT: String(port) },
        stdout: 'ignore',
      });
      try {
        figures.directMs.push(await timeUntil(kept, t0, 'server-everything', async () => (await get(`http://127.0.0.1:${port}/mcp`)) !== undefined));
      } finally {
        await keeper.stop(kept.pid);
      }
    }
    await sleep(500);
  }
  return figures;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
