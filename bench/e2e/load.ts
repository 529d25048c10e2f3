// Load generator worker: N MCP sessions share one keep-alive undici Pool; each loops `tools/call` with one call in
// flight, so concurrency is N. Latency is recorded only inside the measured window; prints one JSON line and exits.
// Runs in its own process (spawned by throughput.ts) so its CPU is never charged to the proxy under test.
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { isAlive, machineBusyTicks, processTree, readStat, rssBytes } from './proc.ts';

/** What throughput.ts passes as the single JSON argument. */
export interface LoadOptions {
  url: string;
  sessions: number;
  warmupSeconds: number;
  seconds: number;
  protocolVersion: string;
  /** The process whose CPU is charged to the target (the proxy, or the server itself for the direct target). */
  proxyPid: number;
}

/** The JSON line this worker prints. CPU figures are in clock ticks; throughput.ts converts them. */
export interface LoadResult {
  ok: boolean;
  error?: string;
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
  /** Processes in the target's tree at the end of the window (proxy, its children, theirs). */
  treeProcesses: number;
  proxyRssBytes: number;
  treeRssBytes: number;
  /** This worker's own CPU over the window, in microseconds. */
  loadCpuUs: number;
  /** Busy ticks of the whole machine over the window: what is left after the target and this worker is noise. */
  machineCpuTicks: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POST one body and collect the whole answer. Uses `dispatch` with a bare handler rather than `request()`, which
 * would wrap every body in a Readable stream: the generator shares two cores with the target, so each call should
 * cost as little as we can make it.
 */
function post(pool: Pool, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let answerHeaders: Answer['headers'] = {};
    const handler: Dispatcher.DispatchHandler = {
      // Its presence is what marks this as a new-style handler for undici (no onConnect/onHeaders/onData needed).
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        answerHeaders = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers: answerHeaders, body: text });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    };
    pool.dispatch({ path, method: 'POST', headers, body }, handler);
  });
}

/** The JSON-RPC response with `id` in a JSON or SSE body (peers answer with one SSE `message` event). */
function findResponse(answer: Answer, id: number): any {
  const type = String(answer.headers['content-type'] ?? '');
  if (!type.startsWith('text/event-stream')) {
    const message = JSON.parse(answer.body);
    return message?.id === id ? message : undefined;
  }
  // SSE: an event's data lines join with '\n'; a blank line ends the event. Events with no data are skipped: since
  // 2025-11-25 a server may open the stream with a priming event that carries only an id (spec: "Resumability").
  let data = '';
  for (const raw of answer.body.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('data:')) {
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === '' ? value : `${data}\n${value}`;
    } else if (line === '' && data !== '') {
      const message = JSON.parse(data);
      if (message?.id === id) return message;
      data = '';
    }
  }
  if (data !== '') {
    const message = JSON.parse(data);
    if (message?.id === id) return message;
  }
  return undefined;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const path = url.pathname + url.search;
  // One keep-alive connection per session's worth of concurrency; pipelining 1 = no pipelining (0 would also turn
  // keep-alive off).
  const pool = new Pool(url.origin, { connections: options.sessions, pipelining: 1, keepAliveTimeout: 60_000 });
  const baseHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  // Sessions: initialize, then notifications/initialized (MCP lifecycle, spec "Lifecycle" section).
  let negotiatedVersion: string | undefined;
  const sessionHeaders = await Promise.all(
    Array.from({ length: options.sessions }, async (_, i) => {
      const init = JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: options.protocolVersion,
          capabilities: {},
          clientInfo: { name: 'gatehouse-bench', version: '0.0.0' },
        },
      });
      const answer = await post(pool, path, baseHeaders, init);
      const response = answer.status === 200 ? findResponse(answer, 0) : undefined;
      if (!response?.result) {
        throw new Error(`session ${i}: initialize answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      }
      negotiatedVersion = response.result.protocolVersion;
      const headers: Record<string, string> = { ...baseHeaders, 'mcp-protocol-version': negotiatedVersion ?? '' };
      const sessionId = answer.headers['mcp-session-id'];
      if (typeof sessionId === 'string') headers['mcp-session-id'] = sessionId;
      const initialized = await post(pool, path, headers, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
      if (initialized.status !== 202 && initialized.status !== 200) {
        throw new Error(`session ${i}: notifications/initialized answered ${initialized.status}`);
      }
      return headers;
    }),
  );

  let latencies = new Float64Array(1 << 16);
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let stopping = false;

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

  const prefix = '{"jsonrpc":"2.0","id":';
  const suffix = ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}';
  async function loop(headers: Record<string, string>): Promise<void> {
    let id = 1;
    while (!stopping) {
      id++;
      const started = performance.now();
      try {
        const answer = await post(pool, path, headers, prefix + id + suffix);
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

  const loops = sessionHeaders.map((headers) => loop(headers));
  await new Promise((resolve) => setTimeout(resolve, options.warmupSeconds * 1000));

  // Window start: snapshot the target's process tree (supergateway has one child per session by now).
  const tree = processTree(options.proxyPid);
  const treeStart = new Map(tree.map((s) => [s.pid, s]));
  const proxyStart = readStat(options.proxyPid)?.cpuTicks ?? NaN;
  const machineStart = machineBusyTicks();
  const ownStart = process.cpuUsage();
  const windowStart = performance.now();
  measuring = true;

  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));

  measuring = false;
  const windowMs = performance.now() - windowStart;
  const own = process.cpuUsage(ownStart);
  const machineCpuTicks = machineBusyTicks() - machineStart;
  const proxyEnd = readStat(options.proxyPid)?.cpuTicks ?? NaN;
  let treeCpuTicks = 0;
  for (const [pid, start] of treeStart) {
    const stat = readStat(pid);
    if (stat !== undefined && stat.startTime === start.startTime) treeCpuTicks += stat.cpuTicks - start.cpuTicks;
  }
  // Memory at the end of the window, while every session is still open.
  const endTree = processTree(options.proxyPid);
  const proxyRssBytes = rssBytes(options.proxyPid);
  let treeRssBytes = 0;
  for (const stat of endTree) treeRssBytes += rssBytes(stat.pid);

  stopping = true;
  const drained = await Promise.race([
    Promise.all(loops).then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  await (drained ? pool.close() : pool.destroy());

  const sorted = latencies.subarray(0, calls).sort();
  let sum = 0;
  for (const ms of sorted) sum += ms;
  return {
    ok: calls > 0 && isAlive(options.proxyPid),
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
