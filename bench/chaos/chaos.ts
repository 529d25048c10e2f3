// Chaos benchmark: three replica processes (test/fixtures/replica-server.ts) behind one gateway process, 16 MCP
// sessions calling tools, and every few seconds one replica SIGKILLed (round robin) and restarted on its port. It
// measures what the README's Resilience section promises: idempotent calls keep succeeding, a non-idempotent call
// never runs twice (the replicas' journal shows it), how fast the gateway notices a dead replica, and what a kill
// costs in latency. Prints readable tables, then one JSON line of the figures.
//   node bench/chaos/chaos.ts        (CHAOS_SECONDS=15 for a quick run; see bench/README.md for the variables)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { ProcessKeeper } from '../e2e/process-keeper.ts';
import type { Kept } from '../e2e/process-keeper.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const REPLICA_SERVER = join(ROOT, 'test/fixtures/replica-server.ts');
const GATEWAY_CLI = join(ROOT, 'src/cli/main.ts');
const UPSTREAM = 'store';
const PROTOCOL_VERSION = '2025-11-25';
const START_TIMEOUT_MS = 30_000;
/** Calls that start this long after a kill are the ones a failover can touch (failover_p99_ms). */
const FAILOVER_WINDOW_MS = 2_000;
const METRICS_POLL_MS = 20;
/** The longest we wait for calls still in flight when the load stops; the gateway's request timeout is 10 s. */
const DRAIN_MS = 15_000;
const GOAL_SUCCESS_RATIO = 0.999;

interface Settings {
  seconds: number;
  sessions: number;
  killEveryMs: number;
  downMs: number;
  /** One call in `writeEvery` is the non-idempotent `record`. */
  writeEvery: number;
  keep: boolean;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

function readSettings(): Settings {
  const settings = {
    seconds: envNumber('CHAOS_SECONDS', 60),
    sessions: Math.round(envNumber('CHAOS_SESSIONS', 16)),
    killEveryMs: envNumber('CHAOS_KILL_EVERY', 5) * 1000,
    downMs: envNumber('CHAOS_DOWN_MS', 1500),
    writeEvery: Math.round(envNumber('CHAOS_WRITE_EVERY', 5)),
    keep: process.env.CHAOS_KEEP === '1',
  };
  // A replica must be back up before the next kill, or two could be down at once.
  if (settings.downMs + 1000 > settings.killEveryMs) throw new Error('CHAOS_DOWN_MS must be at least 1 s shorter than CHAOS_KILL_EVERY');
  return settings;
}

// ---- processes ------------------------------------------------------------------------------------

const keeper = new ProcessKeeper();

/** Resolves with the first line of `stream` matching `regex`; rejects when the process exits first or on timeout. */
function waitForLine(kept: Kept, stream: Readable, regex: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stream });
    const timer = setTimeout(() => done(new Error(`${what}: no ready line within ${START_TIMEOUT_MS / 1000} s; stderr: ${kept.stderrTail().slice(-600)}`)), START_TIMEOUT_MS);
    const done = (error: Error | undefined, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      lines.off('line', onLine);
      // Keep reading (and dropping) its stdout: a full pipe would block the child.
      stream.resume();
      if (error) reject(error);
      else resolve(match!);
    };
    const onLine = (line: string) => {
      const match = regex.exec(line);
      if (match) done(undefined, match);
    };
    lines.on('line', onLine);
    void kept.exited.then((code) => done(new Error(`${what} exited (${code}) before it was ready: ${kept.stderrTail().slice(-600)}`)));
  });
}

/** One replica process; restarted on the port it got the first time, so the gateway's URL for it stays valid. */
class Replica {
  readonly name: string;
  readonly journal: string;
  port = 0;
  kept: Kept | undefined;

  constructor(name: string, journal: string) {
    this.name = name;
    this.journal = journal;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  /** The replica's label in the gateway's metrics and /readyz (host:port of its URL). */
  get label(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // The old socket is gone with the killed process, but retry a little in case the port is briefly still taken.
    for (let attempt = 1; ; attempt++) {
      const kept = keeper.start(process.execPath, [REPLICA_SERVER, '--port', String(this.port), '--name', this.name, '--journal', this.journal], { stdout: 'pipe', cwd: ROOT });
      try {
        const match = await waitForLine(kept, kept.child.stdout!, /^LISTENING (\S+)$/, `replica ${this.name}`);
        this.port = Number(new URL(match[1]).port);
        this.kept = kept;
        return;
      } catch (error) {
        await keeper.stop(kept.pid, 500);
        if (attempt >= 5 || !/EADDRINUSE/.test(String(error))) throw error;
        await sleep(200);
      }
    }
  }

  /** SIGKILL (no chance to close sessions or answer in-flight calls); resolves once it has exited. */
  async kill(): Promise<void> {
    const kept = this.kept;
    if (kept === undefined) return;
    this.kept = undefined;
    kept.child.kill('SIGKILL');
    await kept.exited;
    await keeper.stop(kept.pid, 0); // forget it
  }
}

// ---- HTTP and MCP ---------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A POST or GET with a bare undici handler: the load shares 2 cores with the gateway, so it should stay cheap. */
function send(pool: Pool, options: Dispatcher.DispatchOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Answer['headers'] = {};
    pool.dispatch(options, {
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    });
  });
}

interface RpcMessage {
  id?: unknown;
  result?: { isError?: boolean; content?: { type: string; text?: string }[]; protocolVersion?: string };
  error?: { code: number; message: string; data?: { code?: string } };
}

/** The JSON-RPC response with `id` in a JSON or SSE answer (SSE events without data, such as priming events, skipped). */
function findResponse(answer: Answer, id: number): RpcMessage | undefined {
  if (!String(answer.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const message = JSON.parse(answer.body) as RpcMessage;
    return message?.id === id ? message : undefined;
  }
  for (const event of answer.body.split(/\r?\n\r?\n/)) {
    const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(l.charCodeAt(5) === 32 ? 6 : 5)).join('\n');
    if (data === '') continue;
    const message = JSON.parse(data) as RpcMessage;
    if (message?.id === id) return message;
  }
  return undefined;
}

const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** initialize + notifications/initialized; returns the headers every later request of the session carries. */
async function openSession(pool: Pool, path: string, n: number): Promise<Record<string, string>> {
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'gatehouse-chaos', version: '0.0.0' } } };
  const answer = await send(pool, { path, method: 'POST', headers: BASE_HEADERS, body: JSON.stringify(init) });
  const response = answer.status === 200 ? findResponse(answer, 0) : undefined;
  const sessionId = answer.headers['mcp-session-id'];
  if (!response?.result || typeof sessionId !== 'string') throw new Error(`session ${n}: initialize answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  const headers = { ...BASE_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': response.result.protocolVersion ?? PROTOCOL_VERSION };
  const initialized = await send(pool, { path, method: 'POST', headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' });
  if (initialized.status !== 202 && initialized.status !== 200) throw new Error(`session ${n}: notifications/initialized answered ${initialized.status}`);
  return headers;
}

// ---- what is recorded ------------------------------------------------------------------------------

interface Call {
  write: boolean;
  /** The `record` id (writes only). */
  recordId?: string;
  startedAt: number;
  ms: number;
  ok: boolean;
  /** For a failure: what kind (status / JSON-RPC code / gatehouse code) and the message, as the client saw them. */
  kind?: string;
  message?: string;
}

interface Kill {
  replica: Replica;
  label: string;
  killedAt: number;
  /** The gateway's gauge said 1 just before the kill: otherwise a 0 right after is no detection. */
  wasHealthy: boolean;
  /** When /metrics first showed the replica's healthy gauge at 0 (the arrival of that answer: an upper bound). */
  detectedAt?: number;
  restartedAt?: number;
  /** When /metrics first showed it at 1 again after the restart. */
  backAt?: number;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Groups failures whose messages differ only in numbers (ports, ids, milliseconds). */
function failureKey(call: Call): string {
  const message = (call.message ?? '').replace(/\d+/g, 'N').slice(0, 300);
  return `${call.write ? 'record' : 'lookup'} | ${call.kind} | ${message}`;
}

function round(value: number, digits: number): number | null {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : null;
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ')).join('\n');
}

/** `gatehouse_upstream_replica_healthy` per replica label, from a Prometheus text exposition. */
function healthyGauges(text: string): Map<string, number> {
  const gauges = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('gatehouse_upstream_replica_healthy{') || !line.includes(`upstream="${UPSTREAM}"`)) continue;
    const replica = /replica="([^"]+)"/.exec(line)?.[1];
    if (replica !== undefined) gauges.set(replica, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return gauges;
}

/** Sum of a counter's series whose line starts with `prefix` (labels included in the prefix, or not). */
function counter(text: string, prefix: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  return sum;
}

// ---- the run --------------------------------------------------------------------------------------

let dir: string | undefined;

async function main(): Promise<void> {
  const settings = readSettings();
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-chaos-'));
  const journal = join(dir, 'journal.log');
  writeFileSync(journal, '');
  const load = loadavg();
  console.log(`gatehouse chaos: 3 replicas of test/fixtures/replica-server.ts, ${settings.sessions} sessions, ${settings.seconds} s, ` +
    `SIGKILL of one replica every ${settings.killEveryMs / 1000} s (round robin), restarted ${settings.downMs} ms later; ` +
    `1 call in ${settings.writeEvery} is the non-idempotent record`);
  console.log(`node ${process.version}, ${availableParallelism()} cores, load average at start ${load.map((l) => l.toFixed(2)).join(' ')}, temp dir ${dir}`);

  const replicas = ['r1', 'r2', 'r3'].map((name) => new Replica(name, journal));
  await Promise.all(replicas.map((r) => r.start()));

  // Audit is off: with its default (an fdatasync per answered call) the figures would measure the disk of a noisy
  // machine, not failover. Everything the gateway writes stays in the temp dir.
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    logging: { level: 'warn' },
    namespacing: { mode: 'always' },
    store: { path: join(dir, 'gatehouse.db') },
    audit: { enabled: false },
    upstreams: {
      [UPSTREAM]: {
        url: replicas.map((r) => r.url),
        health: { interval: '250ms', timeout: '500ms', unhealthyThreshold: 1 },
        breaker: { consecutiveFailures: 2, openFor: '500ms' },
        timeouts: { connect: '2s', request: '10s' },
      },
    },
  };
  const configFile = join(dir, 'gatehouse.yaml');
  writeFileSync(configFile, stringify(config));
  const gatewayLog = join(dir, 'gateway.log');
  const gateway = keeper.start(process.execPath, [GATEWAY_CLI, 'start', '--config', configFile], { stdout: 'pipe', cwd: ROOT });
  gateway.child.stderr?.on('data', (text: string) => appendFileSync(gatewayLog, text));
  const url = new URL((await waitForLine(gateway, gateway.child.stdout!, /gatehouse listening on (\S+)/, 'gateway'))[1]);
  const mcpPath = url.pathname;
  const pool = new Pool(url.origin, { connections: settings.sessions, pipelining: 1, keepAliveTimeout: 60_000 });
  // Its own connection, so that polling /metrics never waits behind the load.
  const monitorPool = new Pool(url.origin, { connections: 1, pipelining: 1 });
  const getText = async (path: string) => (await send(monitorPool, { path, method: 'GET', headers: {} })).body;

  // Ready: the catalog is listed and every replica is in rotation.
  const readyBy = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    const answer = await send(monitorPool, { path: '/readyz', method: 'GET', headers: {} }).catch(() => undefined);
    const ready = answer?.status === 200 ? (JSON.parse(answer.body) as { upstreams: Record<string, { replicas?: { state: string }[] }> }) : undefined;
    if (ready?.upstreams[UPSTREAM]?.replicas?.every((r) => r.state === 'closed')) break;
    if (performance.now() > readyBy) throw new Error(`gateway not ready within ${START_TIMEOUT_MS / 1000} s: ${answer?.body.slice(0, 600) ?? 'no answer'}`);
    await sleep(50);
  }
  const sessions = await Promise.all(Array.from({ length: settings.sessions }, (_, i) => openSession(pool, mcpPath, i)));

  const calls: Call[] = [];
  const kills: Kill[] = [];
  const lastSeen = new Map<string, number>();
  // How long (ms, during the load) 0, 1, 2 or 3 replicas were in rotation, as the /metrics polls saw it.
  const rotationMs = [0, 0, 0, 0];
  let lastPoll: { at: number; inRotation: number } | undefined;
  const loadStart = performance.now();
  const loadEnd = loadStart + settings.seconds * 1000;

  async function clientLoop(index: number, headers: Record<string, string>): Promise<void> {
    for (let seq = 1; performance.now() < loadEnd; seq++) {
      // Staggered so the sessions do not all write at the same moment.
      const write = (seq + index) % settings.writeEvery === 0;
      const recordId = write ? `w-${index}-${seq}` : undefined;
      const params = write ? { name: `${UPSTREAM}__record`, arguments: { id: recordId } } : { name: `${UPSTREAM}__lookup`, arguments: { key: `k${seq % 100}` } };
      const body = JSON.stringify({ jsonrpc: '2.0', id: seq, method: 'tools/call', params });
      const call: Call = { write, recordId, startedAt: performance.now(), ms: NaN, ok: false };
      calls.push(call);
      try {
        const answer = await send(pool, { path: mcpPath, method: 'POST', headers, body });
        call.ms = performance.now() - call.startedAt;
        let response: RpcMessage | undefined;
        try {
          response = answer.status === 200 ? findResponse(answer, seq) : undefined;
        } catch {
          response = undefined;
        }
        if (response?.result && response.result.isError !== true) call.ok = true;
        else if (response?.error) {
          call.kind = `JSON-RPC ${response.error.code}${response.error.data?.code ? ` ${response.error.data.code}` : ''}`;
          call.message = response.error.message;
        } else if (response?.result) {
          call.kind = 'isError';
          call.message = response.result.content?.map((c) => c.text ?? '').join(' ') ?? '';
        } else {
          call.kind = `HTTP ${answer.status}`;
          call.message = answer.body.slice(0, 300);
        }
      } catch (error) {
        call.ms = performance.now() - call.startedAt;
        call.kind = `transport ${(error as { code?: string }).code ?? (error as Error).name}`;
        call.message = (error as Error).message;
        // A broken connection to the gateway would otherwise spin this loop.
        await sleep(10);
      }
    }
  }

  let monitoring = true;
  async function monitor(): Promise<void> {
    while (monitoring) {
      const sentAt = performance.now();
      try {
        const gauges = healthyGauges(await getText('/metrics'));
        const now = performance.now();
        for (const [label, value] of gauges) lastSeen.set(label, value);
        const inRotation = replicas.filter((r) => gauges.get(r.label) === 1).length;
        if (lastPoll !== undefined && now <= loadEnd) rotationMs[lastPoll.inRotation] += now - lastPoll.at;
        lastPoll = { at: now, inRotation };
        for (const kill of kills) {
          const value = gauges.get(kill.label);
          // Only an answer asked for after the kill (or after the restart) says anything about it.
          if (kill.detectedAt === undefined && kill.wasHealthy && sentAt >= kill.killedAt && value === 0) kill.detectedAt = now;
          if (kill.backAt === undefined && kill.restartedAt !== undefined && sentAt >= kill.restartedAt && value === 1) kill.backAt = now;
        }
      } catch {
        // the gateway is busy or gone; the next poll will tell
      }
      await sleep(Math.max(0, METRICS_POLL_MS - (performance.now() - sentAt)));
    }
  }

  async function chaos(): Promise<void> {
    for (let k = 0; ; k++) {
      const at = loadStart + (k + 1) * settings.killEveryMs;
      if (at >= loadEnd) return;
      await sleep(Math.max(0, at - performance.now()));
      const replica = replicas[k % replicas.length];
      const kill: Kill = { replica, label: replica.label, killedAt: performance.now(), wasHealthy: lastSeen.get(replica.label) === 1 };
      kills.push(kill);
      await replica.kill();
      await sleep(Math.max(0, kill.killedAt + settings.downMs - performance.now()));
      // Awaited before the next kill: at most one replica is down at a time.
      await replica.start();
      kill.restartedAt = performance.now();
    }
  }

  const monitorDone = monitor();
  process.stderr.write(`load for ${settings.seconds} s...\n`);
  const chaosDone = chaos();
  const loops = Promise.all(sessions.map((headers, i) => clientLoop(i, headers)));
  await chaosDone;
  const drained = await Promise.race([loops.then(() => true), sleep(Math.max(0, loadEnd - performance.now()) + DRAIN_MS).then(() => false)]);
  const elapsedMs = Math.min(performance.now(), loadEnd) - loadStart;
  // Let the last restarted replica come back in rotation (recover_ms), briefly.
  const backBy = performance.now() + 3000;
  while (kills.some((k) => k.restartedAt !== undefined && k.backAt === undefined) && performance.now() < backBy) await sleep(50);
  monitoring = false;
  await monitorDone;
  const metricsText = await getText('/metrics').catch(() => '');
  const gatewayAlive = gateway.child.exitCode === null && gateway.child.signalCode === null;
  await (drained ? pool.close() : pool.destroy());
  await monitorPool.close();

  // ---- figures ----
  const unfinished = calls.filter((c) => Number.isNaN(c.ms));
  for (const c of unfinished) {
    c.kind = 'unfinished';
    c.message = `no answer within ${DRAIN_MS / 1000} s after the load stopped`;
  }
  const reads = calls.filter((c) => !c.write);
  const writes = calls.filter((c) => c.write);
  const readsOk = reads.filter((c) => c.ok).length;
  const writesOk = writes.filter((c) => c.ok).length;
  const unknown = writes.filter((c) => c.kind?.includes('GH_ERR_UPSTREAM_OUTCOME_UNKNOWN'));
  const writeOtherErrors = writes.length - writesOk - unknown.length;

  const counts = new Map<string, number>();
  for (const line of readFileSync(journal, 'utf8').split('\n')) if (line !== '') counts.set(line, (counts.get(line) ?? 0) + 1);
  const duplicates = [...counts].filter(([, n]) => n > 1);
  const lost = writes.filter((c) => c.ok && !counts.has(c.recordId!)).length;
  const unknownRan = unknown.filter((c) => counts.has(c.recordId!)).length;
  // Sent after the SIGKILL, so they reached a dead socket, not the replica: the gateway had not noticed yet.
  const unknownAfterKill = unknown.filter((c) => kills.some((k) => c.startedAt >= k.killedAt && c.startedAt < k.killedAt + FAILOVER_WINDOW_MS)).length;

  const finished = calls.filter((c) => !Number.isNaN(c.ms));
  const afterKill = (c: Call) => kills.some((k) => c.startedAt >= k.killedAt && c.startedAt < k.killedAt + FAILOVER_WINDOW_MS);
  const failoverReads = reads.filter((c) => !Number.isNaN(c.ms) && afterKill(c));
  const steadyReads = reads.filter((c) => !Number.isNaN(c.ms) && !afterKill(c));
  const detect = kills.filter((k) => k.detectedAt !== undefined).map((k) => k.detectedAt! - k.killedAt);
  const recover = kills.filter((k) => k.backAt !== undefined).map((k) => k.backAt! - k.restartedAt!);
  const ratio = reads.length > 0 ? readsOk / reads.length : NaN;
  const p = (values: Call[], q: number) => percentile(values.map((c) => c.ms), q);

  console.log(`\nkills (errors: calls that ended within ${FAILOVER_WINDOW_MS / 1000} s after the kill)`);
  console.log(table([
    ['#', 'replica', 'at s', 'detect ms', 'back in rotation ms (after restart)', 'lookup errors', 'record outcome unknown'],
    ...kills.map((k, i) => {
      // By when the call ended: the calls a kill breaks were mostly sent before it.
      const near = calls.filter((c) => c.startedAt + c.ms >= k.killedAt && c.startedAt + c.ms < k.killedAt + FAILOVER_WINDOW_MS);
      return [String(i + 1), `${k.replica.name} ${k.label}`, fmt((k.killedAt - loadStart) / 1000, 1),
        k.detectedAt !== undefined ? fmt(k.detectedAt - k.killedAt) : k.wasHealthy ? 'never' : 'n/a (was out)',
        k.backAt !== undefined && k.restartedAt !== undefined ? fmt(k.backAt - k.restartedAt) : '-',
        String(near.filter((c) => !c.write && !c.ok).length), String(near.filter((c) => unknown.includes(c)).length)];
    }),
  ]));

  const goal = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  console.log('\nfigures');
  console.log(table([
    ['figure', 'value', 'goal'],
    ['calls (finished)', `${finished.length}`, ''],
    ['calls/s', fmt(finished.length / (elapsedMs / 1000), 0), ''],
    ['p50 / p99 ms (all calls)', `${fmt(p(finished, 50), 1)} / ${fmt(p(finished, 99), 1)}`, ''],
    ['idempotent calls (lookup)', `${readsOk} ok of ${reads.length}`, ''],
    ['idempotent_success_ratio', fmt(ratio, 5), `>= ${GOAL_SUCCESS_RATIO} ${goal(ratio >= GOAL_SUCCESS_RATIO)}`],
    ['non-idempotent calls (record)', `${writesOk} ok of ${writes.length}`, ''],
    ['outcome_unknown (record)', `${unknown.length} (${unknownRan} had run; ${unknownAfterKill} sent after the kill)`, 'the right answer for a call on a killed replica'],
    ['record: other errors', String(writeOtherErrors), ''],
    ['duplicate_executions', String(duplicates.length), `0 ${goal(duplicates.length === 0)}`],
    ['recorded ok but not in journal', String(lost), '0'],
    [`failover_p99_ms (lookups started <= ${FAILOVER_WINDOW_MS / 1000} s after a kill)`, fmt(p(failoverReads, 99), 1), ''],
    ['steady p99 ms (the other lookups)', fmt(p(steadyReads, 99), 1), ''],
    ['detect_ms (median; max)', `${fmt(percentile(detect, 50))} (${fmt(Math.max(...detect))})`, ''],
    ['back in rotation ms after restart (median)', fmt(percentile(recover, 50)), ''],
    ['kills', String(kills.length), ''],
    ['time with 3 / 2 / 1 / 0 replicas in rotation, s', [3, 2, 1, 0].map((n) => fmt(rotationMs[n] / 1000, 1)).join(' / '), ''],
    ['gateway retries / failovers', `${counter(metricsText, `gatehouse_upstream_retries_total{upstream="${UPSTREAM}"`)} / ${counter(metricsText, `gatehouse_upstream_failovers_total{upstream="${UPSTREAM}"`)}`, ''],
  ]));

  const failures = new Map<string, number>();
  for (const c of calls) if (!c.ok) failures.set(failureKey(c), (failures.get(failureKey(c)) ?? 0) + 1);
  const byKind = [...failures].sort((a, b) => b[1] - a[1]);
  if (byKind.length > 0) {
    console.log('\nfailed calls by kind (tool | kind | message, digits as N)');
    for (const [key, n] of byKind) console.log(`${String(n).padStart(7)}  ${key}`);
  }
  if (duplicates.length > 0) console.log(`\nduplicated record ids: ${duplicates.slice(0, 10).map(([id, n]) => `${id} x${n}`).join(', ')}`);
  if (!gatewayAlive) console.log(`\nwarning: the gateway exited during the run: ${gateway.stderrTail().slice(-600)}`);
  if (!drained) console.log(`\nwarning: ${unfinished.length} calls were still unanswered ${DRAIN_MS / 1000} s after the load stopped`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const missed = !(ratio >= GOAL_SUCCESS_RATIO) || duplicates.length > 0 || !gatewayAlive;
  if (missed || settings.keep) {
    // What is needed to look into it: the journal, the gateway's warnings, every failed call.
    writeFileSync(join(dir, 'failures.jsonl'), calls.filter((c) => !c.ok).map((c) => JSON.stringify({ ...c, at_s: round((c.startedAt - loadStart) / 1000, 3), startedAt: undefined })).join('\n'));
    console.log(`kept ${dir} (journal.log, gateway.log, failures.jsonl, gatehouse.yaml)`);
  }

  const json = {
    bench: 'chaos',
    seconds: settings.seconds,
    sessions: settings.sessions,
    replicas: replicas.length,
    kills: kills.length,
    calls: finished.length,
    calls_per_s: round(finished.length / (elapsedMs / 1000), 1),
    p50_ms: round(p(finished, 50), 2),
    p99_ms: round(p(finished, 99), 2),
    idempotent_calls: reads.length,
    idempotent_ok: readsOk,
    idempotent_success_ratio: round(ratio, 5),
    non_idempotent_calls: writes.length,
    non_idempotent_ok: writesOk,
    outcome_unknown: unknown.length,
    outcome_unknown_ran: unknownRan,
    outcome_unknown_sent_after_kill: unknownAfterKill,
    non_idempotent_other_errors: writeOtherErrors,
    duplicate_executions: duplicates.length,
    lost_records: lost,
    unfinished: unfinished.length,
    failover_p99_ms: round(p(failoverReads, 99), 1),
    steady_p99_ms: round(p(steadyReads, 99), 1),
    detect_ms: round(percentile(detect, 50), 0),
    detect_max_ms: detect.length > 0 ? round(Math.max(...detect), 0) : null,
    detected: detect.length,
    recover_ms: round(percentile(recover, 50), 0),
    recover_max_ms: recover.length > 0 ? round(Math.max(...recover), 0) : null,
    none_in_rotation_s: round(rotationMs[0] / 1000, 2),
    one_in_rotation_s: round(rotationMs[1] / 1000, 2),
    retries: counter(metricsText, `gatehouse_upstream_retries_total{upstream="${UPSTREAM}"`),
    failovers: counter(metricsText, `gatehouse_upstream_failovers_total{upstream="${UPSTREAM}"`),
    errors_by_kind: Object.fromEntries(byKind.slice(0, 10)),
    loadavg_start: round(load[0], 2),
  };
  console.log(JSON.stringify(json));
  if (!missed && !settings.keep) {
    rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  }
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping the gateway and the replicas...\n`);
    void keeper.stopAll(1000).finally(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
// Last resort (an exit we did not see coming): SIGKILL whatever is still ours.
process.on('exit', () => keeper.killAllNow());

// Exit explicitly: after a failure, session loops and the /metrics poller may still hold the event loop open.
main().then(
  async () => {
    await keeper.stopAll();
    process.exit(0);
  },
  async (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    await keeper.stopAll();
    if (dir !== undefined) console.error(`temp dir kept: ${dir}`);
    process.exit(1);
  },
);
