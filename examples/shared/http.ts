// node:http plumbing for the HTTP examples: bridging to web-standard Request/Response (the SDK v2
// streamable HTTP transport speaks only those), reading bounded bodies, and the common start-up path
// (`--port`, the `LISTENING <url>` line, clean shutdown on SIGTERM/SIGINT).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

/** Largest request body the examples read (same bound as the SDK's default). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Builds a web `Request` from a node request; the body streams, it is not buffered. */
export function toWebRequest(req: IncomingMessage, baseUrl: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', baseUrl), {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: hasBody ? 'half' : undefined,
  } as RequestInit);
}

/**
 * Writes a web `Response` to a node response. Headers are flushed at once so that an SSE stream
 * is visible to the client before its first event; when the client goes away the body is cancelled,
 * which tells the SDK transport that the stream is gone.
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = name === 'set-cookie' ? response.headers.getSetCookie() : value;
  });
  if (response.statusText) res.writeHead(response.status, response.statusText, headers);
  else res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = response.body.getReader();
  const onClose = (): void => void reader.cancel().catch(() => {});
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
    }
  } catch {
    // the client disconnected or the stream errored: nothing more to write
  } finally {
    res.off('close', onClose);
    res.end();
  }
}

/** Reads a request body as text, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RangeError(`request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends a JSON-RPC error object (no id) with an HTTP status. */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface ExampleServerOptions {
  /** Path printed in the `LISTENING` line, e.g. `/mcp`. */
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse, baseUrl: string) => Promise<void>;
  /** Closes sessions before the HTTP server shuts down. */
  onShutdown?: () => Promise<void>;
}

/**
 * Starts an example HTTP server on 127.0.0.1 (`--port`, default 0) and prints exactly one
 * `LISTENING http://127.0.0.1:PORT<path>` line on stdout once it accepts connections.
 */
export async function runExampleServer(options: ExampleServerOptions): Promise<Server> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } }, strict: true });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`invalid --port: ${values.port}`);

  let baseUrl = '';
  const server = createServer(function onRequest(req, res) {
    options.handler(req, res, baseUrl).catch((error: unknown) => {
      process.stderr.write(`request failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${address.port}`;

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // An example must never outlive its test run: give up on a graceful close after a moment.
    setTimeout(() => process.exit(0), 2_000).unref();
    await options.onShutdown?.().catch(() => {});
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());

  process.stdout.write(`LISTENING ${baseUrl}${options.path}\n`);
  return server;
}
