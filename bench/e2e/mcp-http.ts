// The MCP-over-HTTP client bits the load workers share: one cheap POST over an undici Pool, finding a JSON-RPC
// response in a JSON or SSE body, opening a session, and percentiles.
import type { Dispatcher, Pool } from 'undici';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POST one body and collect the whole answer. Uses `dispatch` with a bare handler rather than `request()`, which
 * would wrap every body in a Readable stream: the generator shares two cores with the target, so each call should
 * cost as little as we can make it. `onEnd`, when given, is called with `performance.now()` as the last byte
 * arrives, before the body is decoded (so a latency can leave out the client's own decoding).
 */
export function post(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  body: string,
  onEnd?: (now: number) => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let answerHeaders: Answer['headers'] = {};
    const handler: Dispatcher.DispatchHandler = {
      // Its presence is what marks this as a new-style handler for undici (no onConnect/onHeaders/onData needed).
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        answerHeaders = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        onEnd?.(performance.now());
        const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ status, headers: answerHeaders, body: text });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    };
    pool.dispatch({ path, method: 'POST', headers, body }, handler);
  });
}

/** The JSON-RPC response with `id` in a JSON or SSE body (peers answer with one SSE `message` event). */
export function findResponse(answer: Answer, id: number): any {
  const type = String(answer.headers['content-type'] ?? '');
  if (!type.startsWith('text/event-stream')) {
    const message = JSON.parse(answer.body);
    return message?.id === id ? message : undefined;
  }
  // SSE: an event's data lines join with '\n'; a blank line ends the event. Events with no data are skipped: since
  // 2025-11-25 a server may open the stream with a priming event that carries only an id (spec: "Resumability").
  let data = '';
  for (const raw of answer.body.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('data:')) {
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === '' ? value : `${data}\n${value}`;
    } else if (line === '' && data !== '') {
      const message = JSON.parse(data);
      if (message?.id === id) return message;
      data = '';
    }
  }
  if (data !== '') {
    const message = JSON.parse(data);
    if (message?.id === id) return message;
  }
  return undefined;
}

export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

export function initializeBody(protocolVersion: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'gatehouse-bench', version: '0.0.0' } },
  });
}

/** The headers of an open session: the negotiated revision and, when the server gave one, the session id. */
export interface SessionHeaders {
  headers: Record<string, string>;
  negotiatedVersion: string;
}

/** `initialize`; throws unless it succeeded. The caller sends `notifications/initialized` (or not). */
export async function initialize(pool: Pool, path: string, protocolVersion: string, what: string): Promise<SessionHeaders> {
  const answer = await post(pool, path, { ...BASE_HEADERS }, initializeBody(protocolVersion));
  const response = answer.status === 200 ? findResponse(answer, 0) : undefined;
  if (!response?.result) {
    throw new Error(`${what}: initialize answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  const negotiatedVersion = String(response.result.protocolVersion ?? '');
  const headers: Record<string, string> = { ...BASE_HEADERS, 'mcp-protocol-version': negotiatedVersion };
  const sessionId = answer.headers['mcp-session-id'];
  if (typeof sessionId === 'string') headers['mcp-session-id'] = sessionId;
  return { headers, negotiatedVersion };
}

export const INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

/** `notifications/initialized` on an open session; throws unless it was accepted (202, or 200 from some servers). */
export async function initialized(pool: Pool, path: string, headers: Record<string, string>, what: string): Promise<void> {
  const answer = await post(pool, path, headers, INITIALIZED);
  if (answer.status !== 202 && answer.status !== 200) {
    throw new Error(`${what}: notifications/initialized answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
}

/** The p-th percentile of ascending `sorted` (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
