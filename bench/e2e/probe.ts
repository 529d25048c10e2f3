// Probe worker for the scale-out figures, in a process of its own like load.ts (its CPU is never charged to the
// gateway). Two jobs, chosen by the JSON argument's `job`; each prints one JSON line and exits.
//   open: open `count` sessions (`initialize` only, `concurrency` at a time) and leave them open, idle.
//   list: on one session, alternate `ping` and `tools/list` one at a time for `seconds`; latencies are taken when
//         the last byte of the answer arrives (the client's own JSON decoding is left out).
import { Pool } from 'undici';
import { findResponse, initialize, initialized, percentile, post } from './mcp-http.ts';

export interface OpenJob {
  job: 'open';
  url: string;
  count: number;
  concurrency: number;
  protocolVersion: string;
}

export interface OpenResult {
  ok: boolean;
  error?: string;
  opened: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

export interface ListJob {
  job: 'list';
  url: string;
  seconds: number;
  warmupSeconds: number;
  protocolVersion: string;
}

export interface ListResult {
  ok: boolean;
  error?: string;
  tools: number;
  listBytes: number;
  lists: number;
  pings: number;
  listP50Ms: number;
  listP99Ms: number;
  pingP50Ms: number;
  pingP99Ms: number;
  errors: number;
  firstError?: string;
}

async function open(job: OpenJob): Promise<OpenResult> {
  const url = new URL(job.url);
  const path = url.pathname + url.search;
  const pool = new Pool(url.origin, { connections: job.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  let next = 0;
  let opened = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, async () => {
    while (next < job.count) {
      const i = next++;
      try {
        await initialize(pool, path, job.protocolVersion, `session ${i}`);
        opened++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (errors > 100) throw new Error(`more than 100 sessions failed to open; first: ${firstError}`, { cause: error });
      }
    }
  }));
  const elapsedMs = performance.now() - started;
  await pool.close();
  return { ok: opened === job.count, opened, errors, firstError, elapsedMs };
}

async function list(job: ListJob): Promise<ListResult> {
  const url = new URL(job.url);
  const path = url.pathname + url.search;
  const pool = new Pool(url.origin, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 });
  const { headers } = await initialize(pool, path, job.protocolVersion, 'list');
  await initialized(pool, path, headers, 'list');

  const listTimes: number[] = [];
  const pingTimes: number[] = [];
  let tools = 0;
  let listBytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let id = 0;
  /** One request; returns its latency, or NaN when it failed. */
  const once = async (method: 'ping' | 'tools/list'): Promise<number> => {
    const requestId = ++id;
    let ended = NaN;
    const started = performance.now();
    const answer = await post(pool, path, headers, JSON.stringify({ jsonrpc: '2.0', id: requestId, method }), (now) => (ended = now));
    const response = answer.status === 200 ? findResponse(answer, requestId) : undefined;
    if (!response?.result) {
      errors++;
      firstError ??= `${method}: HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
      return NaN;
    }
    if (method === 'tools/list') {
      tools = Array.isArray(response.result.tools) ? response.result.tools.length : 0;
      listBytes = Buffer.byteLength(answer.body);
      if (response.result.nextCursor !== undefined) {
        errors++;
        firstError ??= 'tools/list answered a page with a nextCursor: the gateway paginates (server.pageSize)';
      }
    }
    return ended - started;
  };

  const warmupEnd = performance.now() + job.warmupSeconds * 1000;
  while (performance.now() < warmupEnd) {
    await once('ping');
    await once('tools/list');
  }
  errors = 0;
  const end = performance.now() + job.seconds * 1000;
  while (performance.now() < end) {
    const ping = await once('ping');
    if (Number.isFinite(ping)) pingTimes.push(ping);
    const listed = await once('tools/list');
    if (Number.isFinite(listed)) listTimes.push(listed);
  }
  await pool.close();
  listTimes.sort((a, b) => a - b);
  pingTimes.sort((a, b) => a - b);
  return {
    ok: listTimes.length > 0,
    tools,
    listBytes,
    lists: listTimes.length,
    pings: pingTimes.length,
    listP50Ms: percentile(listTimes, 50),
    listP99Ms: percentile(listTimes, 99),
    pingP50Ms: percentile(pingTimes, 50),
    pingP99Ms: percentile(pingTimes, 99),
    errors,
    firstError,
  };
}

const job = JSON.parse(process.argv[2] ?? '{}') as OpenJob | ListJob;
(job.job === 'open' ? open(job) : list(job)).then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)),
  (error: unknown) => {
    const result = { ok: false, error: error instanceof Error ? error.message : String(error) };
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(1));
  },
);
