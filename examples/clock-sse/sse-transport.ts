// Server side of the legacy HTTP+SSE transport (protocol revision 2024-11-05), which SDK v2 no longer
// ships: one long-lived `GET /sse` stream carries every server-to-client message, and the client posts
// its messages to the URL given in the stream's first event (`endpoint`).
import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, MessageExtraInfo, Transport } from '@modelcontextprotocol/server';

const KEEP_ALIVE_MS = 15_000;

/** One SSE session; the HTTP front hands it the GET response and feeds it the POSTed messages. */
export class LegacySseServerTransport implements Transport {
  readonly sessionId: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  readonly #res: ServerResponse;
  readonly #endpoint: string;
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param res the response of the `GET /sse` request; it becomes the event stream.
   * @param endpoint where the client must POST, including the `sessionId` query parameter.
   */
  constructor(res: ServerResponse, endpoint: string, sessionId: string) {
    this.#res = res;
    this.#endpoint = endpoint;
    this.sessionId = sessionId;
  }

  async start(): Promise<void> {
    if (this.#res.headersSent) throw new Error('LegacySseServerTransport already started');
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    this.#res.on('close', () => void this.close());
    this.#write('endpoint', this.#endpoint);
    this.#keepAlive = setInterval(() => this.#res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    this.#keepAlive.unref();
  }

  /** Delivers a message the client POSTed; a JSON-RPC batch (allowed in 2024-11-05) is split. */
  receive(body: unknown, extra?: MessageExtraInfo): void {
    for (const message of Array.isArray(body) ? body : [body]) this.onmessage?.(message as JSONRPCMessage, extra);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('SSE stream is closed');
    this.#write('message', JSON.stringify(message));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#res.end();
    this.onclose?.();
  }

  #write(event: string, data: string): void {
    // JSON.stringify never emits raw newlines, and the endpoint is a plain URL, so one data line suffices.
    this.#res.write(`event: ${event}\ndata: ${data}\n\n`);
  }
}
