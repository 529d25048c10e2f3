/**
 * The real CLI (`gatehouse start -c FILE --port 0`) reloading its config live: an added upstream reaches a
 * connected client as tools/list_changed without dropping its session or touching other upstreams; SIGHUP
 * re-reads `${file:…}` secrets; SIGTERM lets an in-flight call finish before the process exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { INIT, post } from '../helpers/gateway.ts';
import { exampleStdioCommand, nodeBinary, REPO_ROOT, startExample, waitForLine } from '../helpers/spawn.ts';
import type { RunningExample } from '../helpers/spawn.ts';
import { connectClient, textOf, WAIT_MS, withTimeout } from './harness.ts';
import type { TestClient } from './harness.ts';

/** The CLI as a child process: its URL, its stderr log lines (pino JSON) and its exit. */
interface RunningCli {
  url: string;
  proc: ChildProcess;
  logs: string[];
  /** The first log line from index `from` whose text matches, waiting for it (bounded). */
  waitLog(pattern: RegExp, from: number): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startCli(file: string): Promise<RunningCli> {
  // Run where the config is (a temp dir): the store file and audit log the gateway keeps land there, not in the repo.
  const proc = spawn(nodeBinary(), [join(REPO_ROOT, 'src/cli/main.ts'), 'start', '-c', file, '--port', '0'], {
    cwd: dirname(file),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    logs.push(...lines);
    for (const w of waiters) w();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const waitLog = (pattern: RegExp, from: number) =>
    withTimeout(new Promise<string>((resolve) => {
      const check = () => {
        const line = logs.slice(from).find((l) => pattern.test(l));
        if (line !== undefined) {
          waiters.delete(check);
          resolve(line);
        }
      };
      waiters.add(check);
      check();
    }), `a log line matching ${pattern}; got:\n${logs.slice(from).join('\n')}`);
  try {
    const match = await waitForLine(proc.stdout!, /^gatehouse listening on (\S+)$/, WAIT_MS);
    proc.stdout!.resume();
    return { url: match[1], proc, logs, waitLog, exit };
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`the CLI did not start: ${(err as Error).message}\n${logs.join('\n')}`, { cause: err });
  }
}

describe('hot reload of the CLI', () => {
  let dir: string;
  let file: string;
  let tokenFile: string;
  let weather: RunningExample;
  let clock: RunningExample;
  let cli: RunningCli;
  let c: TestClient;
  let sessionId: string;

  const upstreams = () => ({
    notes: exampleStdioCommand('notes-stdio'),
    weather: { url: weather.url, headers: { 'x-token': `\${file:${tokenFile}}` } },
  });
  const writeConfig = (extra: Record<string, unknown> = {}) => writeFile(file, stringify({ logging: { level: 'info' }, upstreams: { ...upstreams(), ...extra } }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-reload-'));
    file = join(dir, 'gatehouse.yaml');
    // The secret lives in another folder, so changing it fires no file event: only SIGHUP picks it up.
    const secrets = await mkdtemp(join(tmpdir(), 'gatehouse-secret-'));
    tokenFile = join(secrets, 'token');
    await writeFile(tokenFile, 'first-token');
    [weather, clock] = await Promise.all([startExample('weather-http'), startExample('clock-sse', { CLOCK_NOW: '2025-01-31T23:30:00Z' })]);
    await writeConfig();
    cli = await startCli(file);
    c = await connectClient(cli.url, { tag: 'reload' });
    await c.getStreamOpen;
    sessionId = c.sessionId!;
  });
  after(async () => {
    await c?.close().catch(() => {});
    if (cli && cli.proc.exitCode === null && cli.proc.signalCode === null) {
      cli.proc.kill('SIGKILL');
      await cli.exit;
    }
    await Promise.all([weather?.close(), clock?.close()]);
    await rm(dir, { recursive: true, force: true });
    if (tokenFile) await rm(join(tokenFile, '..'), { recursive: true, force: true });
  });

  it('adds an upstream from an edited file: tools/list_changed, new tools, same session, others untouched', async () => {
    const added = await c.client.callTool({ name: 'notes__add_note', arguments: { title: 'before-reload', body: 'kept in memory' } });
    assert.equal(added.isError, undefined);
    const before = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(!before.some((n) => n.startsWith('clock__')));

    const from = c.inbox.seen.length;
    await writeConfig({ clock: { url: clock.url, transport: 'sse' } });
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);

    const after = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(after.includes('clock__now') && after.includes('clock__add_duration'), after.join(', '));
    const now = await c.client.callTool({ name: 'clock__now', arguments: {} });
    assert.equal((now.structuredContent as { iso: string }).iso, '2025-01-31T23:30:00.000Z');
    // Same session (the calls above and below carry its id; an unknown one would be 404); the notes process
    // kept its memory, so it was not restarted; weather still answers.
    assert.equal(c.sessionId, sessionId);
    assert.match(textOf(await c.client.callTool({ name: 'notes__search_notes', arguments: { query: 'before-reload' } })), /before-reload/);
    const forecast = await c.client.callTool({ name: 'weather__get_forecast', arguments: { city: 'Lisbon', days: 1 } });
    assert.equal((forecast.structuredContent as { city: string }).city, 'Lisbon');
  });

  it('reloads on SIGHUP, picking up a changed ${file:…} secret', async () => {
    const headers = async () => (await c.client.callTool({ name: 'weather__echo_headers', arguments: {} })).structuredContent as { headers: Record<string, string> };
    assert.equal((await headers()).headers['x-token'], 'first-token');
    await writeFile(tokenFile, 'second-token');
    const from = cli.logs.length;
    cli.proc.kill('SIGHUP');
    const line = await cli.waitLog(/config reloaded/, from);
    assert.deepEqual(JSON.parse(line).changes.upstreams.changed, ['weather']);
    assert.equal((await headers()).headers['x-token'], 'second-token');
    assert.equal(c.sessionId, sessionId);
    assert.match(textOf(await c.client.callTool({ name: 'notes__search_notes', arguments: { query: 'before-reload' } })), /before-reload/);
  });

  it('SIGTERM drains: the in-flight call completes, then the process exits 0', async () => {
    let signalled = false;
    const from = cli.logs.length;
    const call = c.client.callTool({ name: 'notes__slow_count', arguments: { count: 20, delayMs: 50 } }, {
      onprogress: () => {
        if (signalled) return;
        signalled = true;
        cli.proc.kill('SIGTERM');
      },
    });
    // While draining, no new session is taken.
    await cli.waitLog(/draining/, from);
    const refused = await post(cli.url, INIT());
    assert.equal(refused.status, 503);
    const result = await withTimeout(call, 'the in-flight call to finish during drain');
    assert.ok(signalled, 'SIGTERM was sent while the call was in flight');
    assert.deepEqual(result.structuredContent, { reached: 20, count: 20, cancelled: false });
    const { code, signal } = await withTimeout(cli.exit, 'the CLI to exit');
    assert.equal(signal, null);
    assert.equal(code, 0);
  });
});
