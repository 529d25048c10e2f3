/**
 * Test support for the upstream tests (imported by *.test.ts only): config builders, a recording handler set,
 * a scriptable stdio MCP server written to a temp file, and process checks that read /proc.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpUpstreamSchema, stdioUpstreamSchema } from '../config/schema.ts';
import type { HttpUpstreamConfig, StdioUpstreamConfig } from '../config/schema.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';
import type { ConnectOptions } from './connection.ts';
import type { UpstreamHandlers } from './types.ts';

export const EVERYTHING_BIN = fileURLToPath(new URL('../../node_modules/.bin/mcp-server-everything', import.meta.url));
export const BIND_LOCALHOST = '/work/shared/peers/bind-localhost.mjs';
export const CAPABILITIES: JsonObject = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };
export const OPTIONS: ConnectOptions = { capabilities: CAPABILITIES, clientVersion: '0.0.0-test' };

export function stdioConfig(input: Record<string, unknown>): StdioUpstreamConfig {
  return stdioUpstreamSchema.parse(input);
}

export function httpConfig(input: Record<string, unknown>): HttpUpstreamConfig {
  return httpUpstreamSchema.parse(input);
}

/** Records everything a connection raises; `answer` decides server->client requests. */
export class Recorder implements UpstreamHandlers {
  notifications: { n: JsonRpcNotification; tag: unknown }[] = [];
  requests: { r: JsonRpcRequest; tag: unknown }[] = [];
  closes: (Error | undefined)[] = [];
  answer: (r: JsonRpcRequest, tag: unknown) => Promise<JsonObject> = async () => ({});

  onNotification(n: JsonRpcNotification, tag: unknown): void {
    this.notifications.push({ n, tag });
  }

  onRequest(r: JsonRpcRequest, tag: unknown): Promise<JsonObject> {
    this.requests.push({ r, tag });
    return this.answer(r, tag);
  }

  onClose(error?: Error): void {
    this.closes.push(error);
  }
}

/** Poll `check` until it returns true (or throw after `ms`). */
export async function waitFor(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port nothing listens on right now (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `pid` is a live (non-zombie) process. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === ppid && rest[0] !== 'Z' && rest[0] !== 'X') out.push(Number(entry));
    } catch {}
  }
  return out;
}

let dir: string | undefined;

/** A temp directory for this test process. */
export function tempDir(): string {
  return (dir ??= mkdtempSync(join(tmpdir(), 'gatehouse-upstream-')));
}

/**
 * A small stdio MCP server, driven by its first argument:
 * - `garbage`: prints non-JSON lines (and a bad envelope, and a response to an unknown id) before answering;
 *   answers in two writes split mid-line, with CRLF.
 * - `ping`: tool `ping-me` pings the client and returns what came back; tool `ask` sends roots/list.
 * - `silent`: never answers (ignores SIGTERM when the second argument is `stubborn`).
 * - `exit`: writes to stderr and exits 3.
 * Tool `slow` answers after `arguments.ms`. With `--fail-if=<file>`, exits 4 at start while that file exists.
 * Writes its pid to the file given as `--pid=<file>` when present.
 */
export function fixtureServer(): string {
  const file = join(tempDir(), 'fixture-server.mjs');
  writeFileSync(file, FIXTURE);
  return file;
}

/**
 * The smallest real stdio MCP server: GNU sed answering initialize and any other request by id, dropping
 * notifications. Starts in about a millisecond, so tests can run hundreds of processes.
 */
export const SED_SERVER = {
  command: 'sed',
  args: [
    '-u', '-n',
    '-e', 's/^{"jsonrpc":"2.0","id":\\([0-9]*\\),"method":"initialize".*/{"jsonrpc":"2.0","id":\\1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"sed","version":"1"}}}/p',
    '-e', 's/^{"jsonrpc":"2.0","id":\\([0-9]*\\),"method":"[^"]*".*/{"jsonrpc":"2.0","id":\\1,"result":{}}/p',
  ],
};

const FIXTURE = String.raw`
import { existsSync, writeFileSync } from 'node:fs';
const mode = process.argv[2];
const pidArg = process.argv.find((a) => a.startsWith('--pid='));
if (pidArg) writeFileSync(pidArg.slice(6), String(process.pid));
const failIf = process.argv.find((a) => a.startsWith('--fail-if='));
if (failIf && existsSync(failIf.slice(10))) { process.stderr.write('refusing to start: ' + failIf.slice(10) + ' exists\n'); process.exit(4); }
if (mode === 'exit') { process.stderr.write('loading config\nfatal: missing API key FOO_TOKEN\n'); process.exit(3); }
if (mode === 'silent') {
  if (process.argv[3] === 'stubborn') process.on('SIGTERM', () => {});
  process.stdin.on('data', () => {});
  setInterval(() => {}, 1000);
} else {
  const out = (m) => process.stdout.write(JSON.stringify(m) + '\n');
  let buf = '';
  let next = 1;
  const waiting = new Map();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) handle(JSON.parse(line));
    }
  });
  process.stdin.on('end', () => process.exit(0));
  function request(method, params) {
    const id = 'srv-' + next++;
    out({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolve) => waiting.set(id, resolve));
  }
  async function handle(m) {
    if (m.id !== undefined && !m.method) { waiting.get(m.id)?.(m); waiting.delete(m.id); return; }
    if (m.method === 'initialize') {
      if (mode === 'garbage') {
        process.stdout.write('Server starting... (a log line on stdout)\n');
        process.stdout.write('\n');
        process.stdout.write('{not json at all\n');
        out({ jsonrpc: '1.0', id: m.id, result: {} });
        out({ jsonrpc: '2.0', id: 987654, result: {} });
        const text = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'fixture', version: '1.0.0' } } });
        process.stdout.write(text.slice(0, 20));
        setTimeout(() => process.stdout.write(text.slice(20) + '\r\n'), 30);
        return;
      }
      out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'fixture', version: '1.0.0' } } });
      return;
    }
    if (m.id === undefined) return;
    if (m.method === 'tools/call' && m.params.name === 'ping-me') {
      const reply = await request('ping');
      out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(reply) }] } });
      return;
    }
    if (m.method === 'tools/call' && m.params.name === 'ask') {
      const reply = await request('roots/list', {});
      out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(reply) }] } });
      return;
    }
    if (m.method === 'tools/call' && m.params.name === 'slow') {
      setTimeout(() => out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'slow done by ' + process.pid }] } }), m.params.arguments.ms);
      return;
    }
    if (m.method === 'tools/call' && m.params.name === 'batch') {
      process.stdout.write(JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'in a batch' } }, { jsonrpc: '2.0', id: m.id, result: { content: [] } }]) + '\n');
      return;
    }
    out({ jsonrpc: '2.0', id: m.id, result: {} });
  }
}
`;
