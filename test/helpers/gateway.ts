/**
 * Start a real gateway in-process on 127.0.0.1 with an OS-chosen port, from a plain config object.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { configSchema } from '../../src/config/schema.ts';
import type { GatehouseConfig } from '../../src/config/schema.ts';
import { Gateway } from '../../src/gateway.ts';

export interface RunningGateway {
  gateway: Gateway;
  /** The default MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  base: string;
  close(): Promise<void>;
}

export async function startGateway(config: Record<string, unknown>): Promise<RunningGateway> {
  // Durable state goes to a temporary directory unless the test names a store: tests never write into the repository.
  const store = config.store ?? { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-test-')), 'gatehouse.db') };
  const parsed: GatehouseConfig = configSchema.parse({ ...config, store, server: { host: '127.0.0.1', port: 0, ...(config.server as object | undefined) } });
  const logger = pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' });
  const gateway = new Gateway(parsed, logger);
  const url = await gateway.start();
  return { gateway, url, base: url.slice(0, url.length - parsed.server.path.length), close: () => gateway.close() };
}

/** server-everything over stdio, run with this Node. */
export function everythingStdio(): { command: string; args: string[] } {
  const pkg = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json');
  return { command: process.execPath, args: [join(dirname(pkg), 'dist/index.js'), 'stdio'] };
}

/** A JSON-RPC POST with the headers a streamable-HTTP client sends. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    // An SSE answer: the JSON-RPC response is the event that carries a result or an error.
    const messages = parseSse(text);
    json = messages.find((m) => m !== null && typeof m === 'object' && ('result' in m || 'error' in m));
  } else {
    try {
      json = JSON.parse(text);
    } catch {}
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const INIT = (protocolVersion = '2025-11-25', capabilities: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion, capabilities, clientInfo: { name: 'test', version: '1.0.0' } },
});

/** Open a raw session: initialize + initialized; returns the session id. */
export async function openSession(url: string, protocolVersion = '2025-11-25'): Promise<string> {
  const init = await post(url, INIT(protocolVersion));
  if (init.status !== 200) throw new Error(`initialize failed: ${init.status} ${init.text}`);
  const id = init.headers.get('mcp-session-id')!;
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id, 'mcp-protocol-version': protocolVersion });
  return id;
}

/** A POST over node:http, which (unlike fetch) lets a test set the Host header. */
export function rawPost(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(text), ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** The JSON messages in an SSE body (events without data, such as priming events, are skipped). */
export function parseSse(text: string): any[] {
  const out: unknown[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (data.trim() !== '') out.push(JSON.parse(data));
  }
  return out;
}
