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
 * Tool `slow` answers after `arguments.ms`. Tool `hold` answers only once the process has received SIGUSR2 (at
 * once if it already has), so a test decides when an in-flight call ends.
 * With `--fail-if=<file>`, exits 4 at start while that file exists.
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
  const held = [];
  let released = false;
  const release = (id) => out({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'held until released in ' + process.pid }] } });
  process.on('SIGUSR2', () => { released = true; held.splice(0).forEach(release); });
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
    if (m.method === 'tools/call' && m.params.name === 'hold') {
      if (released) release(m.id);
      else held.push(m.id);
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

/** A running test HTTP server. */
export interface TestHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** One HTTP request the SDK test server received, recorded on arrival. */
export interface SdkRequestRecord {
  method: string;
  session?: string;
  version?: string;
  auth?: string;
  lastEventId?: string;
  /**
   * The status the server answered with, set once the transport has handled the request (before the body is
   * streamed). For a GET, 200 means the transport has registered the stream: messages sent from then on reach it.
   */
  status?: number;
}

/**
 * A streamable-HTTP MCP server built with the SDK v2 server package (its web-standard transport behind a tiny
 * node:http adapter). Tools: `echo`, `progress` (two progress notifications on the request's stream, then the
 * result), `sample` (a sampling request to the client on the request's stream). `expire()` forgets every
 * session, so the next message with an old id gets 404. `broadcast()` sends tools/list_changed on each
 * session's standalone GET stream; it is dropped when no GET stream is open yet, so wait for a GET record with
 * `status` 200 first (see `SdkRequestRecord`).
 */
export async function sdkHttpServer(options: { json?: boolean } = {}): Promise<TestHttpServer & { initializes: number; deletes: number; expire(): void; broadcast(): void; dropConnections(): void; requests: SdkRequestRecord[] }> {
  const { McpServer, WebStandardStreamableHTTPServerTransport } = await import('@modelcontextprotocol/server');
  const { z } = await import('zod');
  const { createServer: createHttpServer } = await import('node:http');
  type Transport = InstanceType<typeof WebStandardStreamableHTTPServerTransport>;
  const sessions = new Map<string, { transport: Transport; mcp: InstanceType<typeof McpServer> }>();
  const state = { initializes: 0, deletes: 0, requests: [] as SdkRequestRecord[] };

  // Resumability: every SSE event is stored, so a client can reconnect with Last-Event-ID.
  const stored: { id: string; stream: string; message: unknown }[] = [];
  const events = {
    async storeEvent(stream: string, message: unknown): Promise<string> {
      const id = `${stream}_${stored.length}`;
      stored.push({ id, stream, message });
      return id;
    },
    async replayEventsAfter(lastEventId: string, { send }: { send: (id: string, message: never) => Promise<void> }): Promise<string> {
      const at = stored.findIndex((e) => e.id === lastEventId);
      const stream = stored[at]?.stream ?? '';
      for (const e of stored.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message as never);
      return stream;
    },
  };

  function build(): { transport: Transport; mcp: InstanceType<typeof McpServer> } {
    const mcp = new McpServer({ name: 'sdk-test', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, logging: {} } });
    mcp.registerTool('echo', { inputSchema: z.object({ message: z.string() }) }, async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));
    mcp.registerTool('progress', { inputSchema: z.object({}) }, async (_args, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      if (progressToken !== undefined) {
        for (let i = 1; i <= 2; i++) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: i, total: 2 } });
      }
      return { content: [{ type: 'text', text: 'progressed' }] };
    });
    mcp.registerTool('sample', { inputSchema: z.object({}) }, async (_args, ctx) => {
      // mcpReq.send relates the request to this call, so it travels on the call's own SSE stream
      // (mcpReq.requestSampling is a server-level push that goes to the standalone GET stream).
      const result = await ctx.mcpReq.send({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'say hi' } }], maxTokens: 10 } });
      return { content: [{ type: 'text', text: `model said: ${JSON.stringify(result.content)}` }] };
    });
    mcp.registerTool('sample-push', { inputSchema: z.object({}) }, async () => {
      // A server-level request: it travels on the standalone GET stream, not on this call's stream.
      const result = await mcp.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'push' } }], maxTokens: 10 });
      return { content: [{ type: 'text', text: `pushed: ${JSON.stringify(result.content)}` }] };
    });
    mcp.registerTool('drop-stream', { inputSchema: z.object({}) }, async (_args, ctx) => {
      // Close this call's SSE stream before answering: the client must resume with Last-Event-ID.
      const progressToken = ctx.mcpReq._meta?.progressToken;
      if (progressToken !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: 1 } });
      ctx.http?.closeSSE?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { content: [{ type: 'text', text: 'answered after the stream dropped' }] };
    });
    const entry = { mcp, transport: undefined as unknown as Transport };
    entry.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      enableJsonResponse: options.json === true,
      eventStore: events,
      retryInterval: 50,
      onsessioninitialized: (id) => {
        state.initializes++;
        sessions.set(id, entry);
      },
      onsessionclosed: (id) => {
        state.deletes++;
        sessions.delete(id);
      },
    });
    return entry;
  }

  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const session = req.headers['mcp-session-id'] as string | undefined;
    let method = req.method!;
    if (req.method === 'POST') {
      try {
        method = (JSON.parse(body.toString()) as { method?: string }).method ?? 'response';
      } catch {}
    }
    const record: SdkRequestRecord = { method, session, version: req.headers['mcp-protocol-version'] as string | undefined, auth: req.headers.authorization, lastEventId: req.headers['last-event-id'] as string | undefined };
    state.requests.push(record);
    let entry = session === undefined ? undefined : sessions.get(session);
    if (session !== undefined && entry === undefined) {
      record.status = 404;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
      return;
    }
    if (entry === undefined) {
      entry = build();
      await entry.mcp.connect(entry.transport);
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: req.method === 'POST' ? body : undefined });
    const response = await entry.transport.handleRequest(request);
    record.status = response.status;
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body === null) {
      res.end();
      return;
    }
    const reader = response.body.getReader();
    res.on('close', () => {
      reader.cancel().catch(() => {});
    });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    } catch {}
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    get initializes() {
      return state.initializes;
    },
    get deletes() {
      return state.deletes;
    },
    requests: state.requests,
    expire() {
      for (const { transport } of sessions.values()) transport.close().catch(() => {});
      sessions.clear();
    },
    broadcast() {
      for (const { mcp } of sessions.values()) mcp.sendToolListChanged();
    },
    dropConnections() {
      server.closeAllConnections();
    },
    async close() {
      for (const { transport } of sessions.values()) await transport.close().catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Start server-everything in an HTTP mode on 127.0.0.1 (bind-localhost loader) and wait until it listens. */
export async function everythingHttp(mode: 'streamableHttp' | 'sse'): Promise<TestHttpServer & { pid: number }> {
  const { spawn } = await import('node:child_process');
  const port = await freePort();
  const entry = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
  const child = spawn(process.execPath, ['--import', BIND_LOCALHOST, entry, mode], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything ${mode} did not start: ${stderr}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening on port|running on port/i.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server-everything ${mode} exited with ${code}: ${stderr}`)));
  });
  child.stderr!.resume();
  return {
    url: mode === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`,
    port,
    pid: child.pid!,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}
