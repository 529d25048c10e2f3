/**
 * Just enough of an MCP streamable-HTTP client for "try it": initialize (reading Mcp-Session-Id), initialized, then
 * tools/call with the user's own token. An answer is plain JSON or an SSE stream (`data:` lines); both are read, and
 * notifications that arrive before the result (progress, log messages) are kept to show beside it.
 */

export const PROTOCOL_VERSION = '2025-11-25';

export interface RpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** Splits an SSE byte stream (as text) into events and hands each event's data to `onData`. */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  readonly onData: (data: string) => void;
  constructor(onData: (data: string) => void) {
    this.onData = onData;
  }

  push(chunk: string): void {
    this.#buffer += chunk;
    const lines = this.#buffer.split(/\r\n|\r|\n/);
    this.#buffer = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  /** The stream ended: an event without its blank line still counts. */
  end(): void {
    if (this.#buffer !== '') this.#line(this.#buffer);
    this.#buffer = '';
    this.#line('');
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.onData(this.#data.join('\n'));
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.#data.push(value);
  }
}

export class McpHttpError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    let message = `HTTP ${status}`;
    try {
      const parsed = JSON.parse(body) as { error?: { message?: string } };
      if (parsed.error?.message) message = `HTTP ${status}: ${parsed.error.message}`;
    } catch {
      if (body.trim() !== '') message = `HTTP ${status}: ${body.trim().slice(0, 200)}`;
    }
    super(message);
    this.name = 'McpHttpError';
    this.status = status;
    this.body = body;
  }
}

export interface CallOutcome {
  response: RpcMessage;
  /** Notifications the server sent on the way (progress, logging). */
  notifications: RpcMessage[];
  ms: number;
}

export class McpClient {
  #session: string | null = null;
  #version = PROTOCOL_VERSION;
  #nextId = 1;
  readonly endpoint: string;
  readonly token: string | null;
  readonly fetcher: typeof fetch;

  constructor(endpoint: string, token: string | null, fetcher: typeof fetch = (...a) => fetch(...a)) {
    this.endpoint = endpoint;
    this.token = token;
    this.fetcher = fetcher;
  }

  get sessionId(): string | null {
    return this.#session;
  }

  async #post(message: RpcMessage, signal?: AbortSignal): Promise<{ res: Response; message: RpcMessage | null; notifications: RpcMessage[] }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    if (this.#session !== null) {
      headers['mcp-session-id'] = this.#session;
      headers['mcp-protocol-version'] = this.#version;
    }
    const res = await this.fetcher(this.endpoint, { method: 'POST', headers, body: JSON.stringify(message), signal });
    if (!res.ok) throw new McpHttpError(res.status, await res.text());
    if (message.id === undefined) {
      await res.body?.cancel();
      return { res, message: null, notifications: [] };
    }
    const notifications: RpcMessage[] = [];
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream')) {
      const text = await res.text();
      return { res, message: text === '' ? null : (JSON.parse(text) as RpcMessage), notifications };
    }
    return { res, message: await readUntilAnswer(res, message.id, notifications), notifications };
  }

  async initialize(): Promise<Record<string, unknown>> {
    this.#session = null;
    const { res, message } = await this.#post({
      jsonrpc: '2.0',
      id: this.#nextId++,
      method: 'initialize',
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'gatehouse-portal', version: '1.0.0' } },
    });
    if (message?.error) throw new Error(`initialize failed: ${message.error.message}`);
    if (!message?.result) throw new Error('initialize failed: no result');
    this.#session = res.headers.get('mcp-session-id');
    this.#version = typeof message.result.protocolVersion === 'string' ? message.result.protocolVersion : PROTOCOL_VERSION;
    await this.#post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return message.result;
  }

  /** tools/call; a session the gateway forgot (404) is opened again once. */
  async callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<CallOutcome> {
    if (this.#session === null) await this.initialize();
    const started = performance.now();
    const send = () => this.#post({ jsonrpc: '2.0', id: this.#nextId++, method: 'tools/call', params: { name, arguments: args } }, signal);
    let answer;
    try {
      answer = await send();
    } catch (err) {
      if (!(err instanceof McpHttpError) || err.status !== 404 || this.#session === null) throw err;
      await this.initialize();
      answer = await send();
    }
    if (answer.message === null) throw new Error('the stream ended without an answer');
    return { response: answer.message, notifications: answer.notifications, ms: Math.round(performance.now() - started) };
  }

  /** End the session (best effort). */
  async close(): Promise<void> {
    if (this.#session === null) return;
    const headers: Record<string, string> = { 'mcp-session-id': this.#session, 'mcp-protocol-version': this.#version };
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    this.#session = null;
    await this.fetcher(this.endpoint, { method: 'DELETE', headers, keepalive: true }).catch(() => {});
  }
}

/** Read an SSE answer until the response to `id` arrives (then stop reading), keeping notifications. */
async function readUntilAnswer(res: Response, id: string | number | null, notifications: RpcMessage[]): Promise<RpcMessage | null> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let answer: RpcMessage | null = null;
  const parser = new SseParser((data) => {
    let message: RpcMessage;
    try {
      message = JSON.parse(data) as RpcMessage;
    } catch {
      return;
    }
    if ((message.result !== undefined || message.error !== undefined) && message.id === id) answer = message;
    else if (message.method !== undefined && message.id === undefined) notifications.push(message);
  });
  try {
    while (answer === null) {
      const { value, done } = await reader.read();
      if (done) {
        parser.end();
        break;
      }
      parser.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return answer;
}
