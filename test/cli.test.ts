/**
 * The `gatehouse` command as a user runs it: version, help, check (valid and invalid configs), and start with
 * ad-hoc --upstream flags.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { everythingStdio, openSession, post } from './helpers/gateway.ts';

const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

function gatehouse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], { timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('gatehouse CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  const ev = everythingStdio();

  it('prints its version and help', async () => {
    const v = await gatehouse(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await gatehouse(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /gatehouse start/);
    assert.match(h.stdout, /gatehouse check -c FILE/);
  });

  it('check prints the resolved catalog of every virtual server', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, `upstreams:\n  everything:\n    command: ${JSON.stringify(ev.command)}\n    args: ${JSON.stringify(ev.args)}\nvirtualServers:\n  echoes:\n    include:\n      - tools: ["echo"]\n`);
    const r = await gatehouse(['check', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /everything: ready \(\d+ tools/);
    assert.match(r.stdout, /Virtual server "echoes" \(\/mcp\/echoes\):\n {2}tools \(1\): echo\n/);
  });

  it('check names the file, line and key of a config error', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 8080\n  hots: 127.0.0.1\nupstreams:\n  x:\n    command: foo\n    timeouts:\n      request: fast\n');
    const r = await gatehouse(['check', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:3:3: server\.hots: unknown key; did you mean "host"\?/);
    assert.match(r.stderr, /bad\.yaml:8:\d+: upstreams\.x\.timeouts\.request: .*duration/);
  });

  it('check fails when an upstream cannot start', async () => {
    const file = join(dir, 'down.yaml');
    writeFileSync(file, 'upstreams:\n  ghost:\n    command: /nonexistent/mcp-server\n    timeouts: { connect: 2s }\n');
    const r = await gatehouse(['check', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ghost: failed — .*ghost/);
  });

  it('start --upstream serves an ad-hoc upstream without a config file', async () => {
    const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--log-level', 'silent', '--upstream', `everything=${[ev.command, ...ev.args].map((a) => JSON.stringify(a)).join(' ')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = /^gatehouse listening on (\S+)/.exec(line);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const session = await openSession(url);
      const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'ad hoc' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
      assert.match(JSON.stringify(r.json.result), /ad hoc/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('refuses unknown commands and malformed flags', async () => {
    const r = await gatehouse(['frobnicate']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    const r2 = await gatehouse(['start', '--upstream', 'nonsense']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /NAME=COMMAND_OR_URL/);
  });
});
