/**
 * Drives the MCP conformance suite (`@modelcontextprotocol/conformance`) from tests: runs its CLI against a URL
 * and reads back the per-check results, and starts the conformance fixture server over HTTP or describes how to
 * start it over stdio. Everything runs on the repository's pinned Node (node_modules/.bin/node), never the
 * system one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const PINNED_NODE = path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
const CONFORMANCE_CLI = path.join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'conformance-server.ts');

const DEFAULT_TIMEOUT_MS = 120_000;
const FIXTURE_START_TIMEOUT_MS = 15_000;
const FIXTURE_STOP_GRACE_MS = 5_000;

export interface ConformanceOptions {
  /** `all` (default here), `active`, `core` or `pending`. Ignored when `scenario` is set. */
  suite?: string;
  /** Run one scenario instead of a suite, e.g. `tools-call-sampling`. */
  scenario?: string;
  /** The CLI is killed and the promise rejects after this long (default 120 s). */
  timeoutMs?: number;
}

export interface ConformanceResult {
  /** Checks with status SUCCESS. */
  passed: number;
  /** Checks with status FAILURE, plus scenarios that crashed the runner. */
  failed: number;
  /** passed + failed; WARNING and INFO checks do not count, as in the CLI's own summary. */
  total: number;
  /** One line per failed check: `scenario: CheckName: message`. */
  failures: string[];
  /** One line per WARNING check (SHOULD-level findings that do not fail the run). */
  warnings: string[];
  /** The scenarios that ran, in order. */
  scenarios: string[];
  /** The CLI's stdout and stderr, interleaved as they arrived. */
  output: string;
}

interface Check {
  id: string;
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
}

// `-o DIR` makes the CLI write DIR/server-<scenario>-<ISO time with : and . as ->/checks.json per scenario.
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
// The suite summary line per scenario: `✓ tools-list: 1 passed, 0 failed` (✗ when something failed).
const SUMMARY_LINE = /^[✓✗] (\S+): (\d+) passed, (\d+) failed$/gm;

/**
 * Runs `conformance server --url <url>` and collects the result from the checks.json files it writes, which are
 * the CLI's machine-readable output. Resolves whatever the verdict; rejects only if the CLI cannot be run or
 * overruns `timeoutMs`.
 */
export async function runConformance(url: string, opts: ConformanceOptions = {}): Promise<ConformanceResult> {
  const outDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-conformance-'));
  try {
    const selection = opts.scenario !== undefined ? ['--scenario', opts.scenario] : ['--suite', opts.suite ?? 'all'];
    const { code, output } = await runCli(['server', '--url', url, ...selection, '-o', outDir], opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return await collect(outDir, code, output);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

async function runCli(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(PINNED_NODE, [CONFORMANCE_CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    if (timedOut) throw new Error(`conformance CLI did not finish within ${timeoutMs} ms\n${output}`);
    return { code, output };
  } finally {
    clearTimeout(timer);
  }
}

async function collect(outDir: string, code: number | null, output: string): Promise<ConformanceResult> {
  const result: ConformanceResult = { passed: 0, failed: 0, total: 0, failures: [], warnings: [], scenarios: [], output };

  const dirs = (await readdir(outDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  // Directory names end in the start time, so sorting them gives the order the scenarios ran in.
  for (const dir of dirs.sort((a, b) => a.slice(a.length - 24).localeCompare(b.slice(b.length - 24)))) {
    const scenario = RESULT_DIR.exec(dir)?.[1] ?? dir;
    const checks = JSON.parse(await readFile(path.join(outDir, dir, 'checks.json'), 'utf8')) as Check[];
    result.scenarios.push(scenario);
    for (const check of checks) {
      const line = `${scenario}: ${check.name}: ${check.errorMessage ?? check.description}`;
      if (check.status === 'SUCCESS') result.passed++;
      else if (check.status === 'FAILURE') {
        result.failed++;
        result.failures.push(line);
      } else if (check.status === 'WARNING') result.warnings.push(line);
    }
  }

  // A scenario that throws inside the runner is reported in the summary but leaves no checks.json behind.
  for (const [, scenario, passed, failed] of output.matchAll(SUMMARY_LINE)) {
    if (result.scenarios.includes(scenario)) continue;
    result.scenarios.push(scenario);
    result.passed += Number(passed);
    result.failed += Math.max(Number(failed), 1);
    result.failures.push(`${scenario}: no checks recorded (the runner failed; see output)`);
  }
  if (code !== 0 && result.failed === 0) {
    result.failed = 1;
    result.failures.push(`conformance CLI exited with code ${code} without a failed check; see output`);
  }
  result.total = result.passed + result.failed;
  return result;
}

/** A fixture server started by {@link startHttpFixture}. */
export interface HttpFixture {
  /** The streamable HTTP endpoint, `http://127.0.0.1:PORT/mcp`. */
  url: string;
  /** Stops the server process and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Spawns the conformance fixture in HTTP mode on a port the OS picks and resolves once it prints its
 * `LISTENING <url>` line. The child also exits if this process dies, because its stdin closes.
 */
export async function startHttpFixture(): Promise<HttpFixture> {
  const child = spawn(PINNED_NODE, [FIXTURE, '--http', '--exit-with-stdin'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  try {
    const url = await waitForListening(child, () => stderr);
    return { url, close: () => stopChild(child) };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

function waitForListening(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (reason: string) => {
      cleanup();
      reject(new Error(`conformance fixture ${reason}\n${stderr()}`));
    };
    const onLine = (line: string) => {
      const match = /^LISTENING (http:\/\/\S+)$/.exec(line);
      if (match === null) return;
      cleanup();
      resolve(match[1]);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited before listening (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(`could not be started: ${error.message}`);
    const timer = setTimeout(() => fail(`printed no LISTENING line within ${FIXTURE_START_TIMEOUT_MS} ms`), FIXTURE_START_TIMEOUT_MS);
    function cleanup() {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    lines.on('line', onLine);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** SIGTERM, then SIGKILL if the child has not exited after a grace period; resolves once it has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), FIXTURE_STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    child.stdin?.destroy();
  }
}

/** The command line that runs the conformance fixture over stdio, for an upstream definition of the gateway. */
export function fixtureStdioCommand(): { command: string; args: string[] } {
  return { command: PINNED_NODE, args: [FIXTURE, '--stdio'] };
}
