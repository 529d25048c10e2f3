// Load generator worker: N MCP sessions share keep-alive undici Pools; each loops with one request in flight, so
// concurrency is N. Two modes: `calls` loops `tools/call` on open sessions; `sessions` loops opening new sessions
// (`initialize` + `notifications/initialized`). With several URLs (gateway replicas that share a session key), each
// session's requests go to the URLs in turn, round robin per request: no stickiness. Latency is recorded only inside
// the measured window; prints one JSON line and exits. Runs in its own process (spawned by throughput.ts) so its
// CPU is never charged to the proxy under test.
import { Pool } from 'undici';
import { findResponse, initialize, initialized, percentile, post } from './mcp-http.ts';
import { isAlive, machineBusyTicks, processTree, readStat, rssBytes } from './proc.ts';
import type { ProcStat } from './proc.ts';

/** What throughput.ts passes as the single JSON argument. */
export interface LoadOptions {
  /** The MCP endpoints; with more than one, every session spreads its requests over all of them in turn. */
  urls: string[];
  mode: 'calls' | 'sessions';
  sessions: number;
  warmupSeconds: number;
  seconds: number;
  protocolVersion: string;
  /** The processes whose CPU is charged to the target (the proxies, or the server itself for the direct target). */
  proxyPids: number[];
}

/** The JSON line this worker prints. CPU figures are in clock ticks; throughput.ts converts them. */
export interface LoadResult {
  ok: boolean;
  error?: string;
  /** Successful operations in the window: calls, or sessions opened in `sessions` mode. */
  calls: number;
  errors: number;
  firstError?: string;
  windowMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  negotiatedVersion?: string;
  proxyCpuTicks: number;
  treeCpuTicks: number;
  /** Processes in the targets' trees at the end of the window (proxies, their children, theirs). */
  treeProcesses: number;
  proxyRssBytes: number;
  treeRssBytes: number;
  /** This worker's own CPU over the window, in microseconds. */
  loadCpuUs: number;
  /** Busy ticks of the whole machine over the window: what is left after the target and this worker is noise. */
  machineCpuTicks: number;
}

/** Every live process under any of `roots`, each once. */
function trees(roots: readonly number[]): ProcStat[] {
  const seen = new Map<number, ProcStat>();
  for (const root of roots) for (const stat of processTree(root)) seen.set(stat.pid, stat);
  return [...seen.values()];
}

function cpuOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.cpuTicks ?? NaN;
  return sum;
}

async function run(options: LoadOptions): Promise<LoadResult> {
  const endpoints = options.urls.map((raw) => {
    const url = new URL(raw);
    // One keep-alive connection per session's worth of concurrency; pipelining 1 = no pipelining (0 would also turn
    // keep-alive off).
    return {
      pool: new Pool(url.origin, { connections: options.sessions, pipelining: 1, keepAliveTimeout: 60_000 }),
      path: url.pathname + url.search,
    };
  });
  const n = endpoints.length;

  let latencies = new Float64Array(1 << 16);
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let stopping = false;
  let negotiatedVersion: string | undefined;

  function record(ms: number): void {
    if (calls === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[calls++] = ms;
  }

  function fail(message: string): void {
    if (!measuring) return;
    errors++;
    firstError ??= message;
  }

  /** Session i opens on endpoint i mod n, then sends each request to the next endpoint. */
  async function openSession(i: number): Promise<Record<string, string>> {
    const first = endpoints[i % n];
    const session = await initialize(first.pool, first.path, options.protocolVersion, `session ${i}`);
    negotiatedVersion = session.negotiatedVersion;
    const next = endpoints[(i + 1) % n];
    await initialized(next.pool, next.path, session.headers, `session ${i}`);
    return session.headers;
  }

  const prefix = '{"jsonrpc":"2.0","id":';
  const suffix = ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}';
  async function callLoop(i: number, headers: Record<string, string>): Promise<void> {
    let id = 1;
    let turn = i + 2;
    while (!stopping) {
      id++;
      const endpoint = endpoints[turn++ % n];
      const started = performance.now();
      try {
        const answer = await post(endpoint.pool, endpoint.path, headers, prefix + id + suffix);
        const elapsed = performance.now() - started;
        const response = answer.status === 200 ? findResponse(answer, id) : undefined;
        if (response?.result && response.result.isError !== true) {
          if (measuring) record(elapsed);
        } else {
          fail(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
        }
      } catch (error) {
        fail(String(error));
        // A refused or reset connection would otherwise spin this loop.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  async function sessionLoop(i: number): Promise<void> {
    let k = i;
    while (!stopping) {
      const started = performance.now();
      try {
        await openSession(k);
        if (measuring) record(performance.now() - started);
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      k += options.sessions;
    }
  }

  let loops: Promise<void>[];
  if (options.mode === 'sessions') {
    // Check once that a session opens at all, so a broken target fails fast with its answer.
    await openSession(0);
    loops = Array.from({ length: options.sessions }, (_, i) => sessionLoop(i));
  } else {
    // Sessions: initialize, then notifications/initialized (MCP lifecycle, spec "Lifecycle" section).
    const sessionHeaders = await Promise.all(Array.from({ length: options.sessions }, (_, i) => openSession(i)));
    loops = sessionHeaders.map((headers, i) => callLoop(i, headers));
  }
  await new Promise((resolve) => setTimeout(resolve, options.warmupSeconds * 1000));

  // Window start: snapshot the targets' process trees (supergateway has one child per session by now).
  const treeStart = new Map(trees(options.proxyPids).map((s) => [s.pid, s]));
  const proxyStart = cpuOf(options.proxyPids);
  const machineStart = machineBusyTicks();
  const ownStart = process.cpuUsage();
  const windowStart = performance.now();
  measuring = true;

  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));

  measuring = false;
  const windowMs = performance.now() - windowStart;
  const own = process.cpuUsage(ownStart);
  const machineCpuTicks = machineBusyTicks() - machineStart;
  const proxyEnd = cpuOf(options.proxyPids);
  let treeCpuTicks = 0;
  for (const [pid, start] of treeStart) {
    const stat = readStat(pid);
    if (stat !== undefined && stat.startTime === start.startTime) treeCpuTicks += stat.cpuTicks - start.cpuTicks;
  }
  // Memory at the end of the window, while every session is still open.
  const endTree = trees(options.proxyPids);
  let proxyRssBytes = 0;
  for (const pid of options.proxyPids) proxyRssBytes += rssBytes(pid);
  let treeRssBytes = 0;
  for (const stat of endTree) treeRssBytes += rssBytes(stat.pid);

  stopping = true;
  const drained = await Promise.race([
    Promise.all(loops).then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  await Promise.all(endpoints.map(({ pool }) => (drained ? pool.close() : pool.destroy())));

  const sorted = latencies.subarray(0, calls).sort();
  let sum = 0;
  for (const ms of sorted) sum += ms;
  return {
    ok: calls > 0 && options.proxyPids.every((pid) => isAlive(pid)),
    calls,
    errors,
    firstError,
    windowMs,
    rps: (calls * 1000) / windowMs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sum / calls,
    maxMs: calls ? sorted[calls - 1] : NaN,
    negotiatedVersion,
    proxyCpuTicks: proxyEnd - proxyStart,
    treeCpuTicks,
    treeProcesses: endTree.length,
    proxyRssBytes,
    treeRssBytes,
    loadCpuUs: own.user + own.system,
    machineCpuTicks,
  };
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
run(options).then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
  },
  (error: unknown) => {
    const result: Partial<LoadResult> = { ok: false, error: error instanceof Error ? error.message : String(error) };
    // Exit at once: session loops and pooled sockets may still be open after a failed start.
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(1));
  },
);
