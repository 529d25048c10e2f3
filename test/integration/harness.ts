/**
 * Shared plumbing of the integration tests: the three example upstreams (notes-stdio over stdio, weather-http
 * over streamable HTTP, clock-sse over legacy SSE), SDK clients that answer sampling / elicitation / roots with
 * client-specific text and record notifications, and bounded waits for events (never sleeps).
 */
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { FetchLike, Transport } from '@modelcontextprotocol/client';
import { exampleStdioCommand, startExample } from '../helpers/spawn.ts';
import type { RunningExample } from '../helpers/spawn.ts';

export const WAIT_MS = 10_000;

export interface Note {
  method: string;
  params?: Record<string, any>;
}

/** Records notifications; a test waits for one that already arrived or is still to come (bounded). */
export class Inbox {
  readonly seen: Note[] = [];
  private readonly waiters = new Set<{ match: (n: Note) => boolean; resolve: (n: Note) => void }>();

  push(n: Note): void {
    this.seen.push(n);
    for (const w of this.waiters) {
      if (w.match(n)) {
        this.waiters.delete(w);
        w.resolve(n);
      }
    }
  }

  /** The first matching notification after index `from` of `seen` (default: any time). */
  waitFor(method: string, predicate: (params: Record<string, any>) => boolean = () => true, from = 0, timeoutMs = WAIT_MS): Promise<Note> {
    const match = (n: Note) => n.method === method && predicate(n.params ?? {});
    const earlier = this.seen.slice(from).find(match);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve };
      this.waiters.add(waiter);
      setTimeout(() => {
        if (this.waiters.delete(waiter)) reject(new Error(`no ${method} notification within ${timeoutMs} ms`));
      }, timeoutMs).unref();
    });
  }

  count(method: string): number {
    return this.seen.filter((n) => n.method === method).length;
  }
}

export interface TestClient {
  client: Client;
  inbox: Inbox;
  /** Questions the client's sampling handler was asked. */
  sampled: string[];
  /** Messages the client's elicitation handler was shown. */
  elicited: string[];
  /** Resolves once the streamable-HTTP client's standalone GET stream is open (at once for SSE). */
  getStreamOpen: Promise<void>;
  /** The gateway session id (streamable HTTP only). */
  readonly sessionId: string | undefined;
  close(): Promise<void>;
}

export interface ClientOptions {
  /** Tag put in every answer of this client's handlers, so a test can tell whose handler answered. */
  tag?: string;
  transport?: 'streamable' | 'sse';
  /** Revisions the client offers (the first 2025-era one is requested in initialize). */
  protocolVersions?: string[];
}

const NOTIFICATIONS = [
  'notifications/message',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
] as const;

/** Connect an SDK v2 client to `url` that answers sampling, elicitation and roots, and records notifications. */
export async function connectClient(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const tag = options.tag ?? 'client';
  const client = new Client(
    { name: `it-${tag}`, version: '1.0.0' },
    {
      capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
      ...(options.protocolVersions && { supportedProtocolVersions: options.protocolVersions }),
    },
  );
  const inbox = new Inbox();
  const sampled: string[] = [];
  const elicited: string[] = [];
  client.setRequestHandler('sampling/createMessage', (request) => {
    const last = request.params.messages.at(-1);
    const question = last && !Array.isArray(last.content) && last.content.type === 'text' ? last.content.text : '';
    sampled.push(question);
    return { model: `model-${tag}`, role: 'assistant', content: { type: 'text', text: `${tag} answers: ${question}` } };
  });
  client.setRequestHandler('elicitation/create', (request) => {
    elicited.push(request.params.message);
    const approve = request.params.message.includes(tag);
    return approve ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
  });
  client.setRequestHandler('roots/list', () => ({ roots: [{ uri: `file:///tmp/${tag}`, name: tag }] }));
  for (const method of NOTIFICATIONS) client.setNotificationHandler(method, (n) => inbox.push(n as Note));

  let transport: Transport;
  let getStreamOpen: Promise<void> = Promise.resolve();
  if (options.transport === 'sse') {
    transport = new SSEClientTransport(new URL(url));
  } else {
    const watch = fetchWatchingGetStream();
    getStreamOpen = watch.getStreamOpen;
    transport = new StreamableHTTPClientTransport(new URL(url), { fetch: watch.fetch });
  }
  await client.connect(transport);
  return {
    client,
    inbox,
    sampled,
    elicited,
    getStreamOpen: withTimeout(getStreamOpen, 'the standalone GET stream to open'),
    get sessionId() {
      return (transport as { sessionId?: string }).sessionId;
    },
    close: () => client.close(),
  };
}

/**
 * A fetch that notes when the client's standalone GET stream is open: notifications not tied to a request
 * (list_changed, resources/updated, unattributed logs) travel there and are lost until it is.
 */
function fetchWatchingGetStream(): { fetch: FetchLike; getStreamOpen: Promise<void> } {
  let opened!: () => void;
  const getStreamOpen = new Promise<void>((resolve) => (opened = resolve));
  const watching: FetchLike = async (url, init) => {
    const response = await fetch(url, init);
    if (init?.method === 'GET' && response.ok) opened();
    return response;
  };
  return { fetch: watching, getStreamOpen };
}

/** Reject when `promise` has not settled within `ms`, naming what was awaited. */
export function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function textOf(result: { content?: unknown }): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content.flatMap((b) => (b.type === 'text' ? [b.text ?? ''] : [])).join('\n');
}

export interface Upstreams {
  weather: RunningExample;
  clock: RunningExample;
  /** Gateway config for the three upstreams, named notes (stdio), weather (http) and clock (sse). */
  config: Record<string, unknown>;
  close(): Promise<void>;
}

/** Start weather-http and clock-sse (notes-stdio is started by the gateway itself). */
export async function startUpstreams(options: { weatherEnv?: Record<string, string>; notes?: Record<string, unknown> } = {}): Promise<Upstreams> {
  const [weather, clock] = await Promise.all([startExample('weather-http', options.weatherEnv), startExample('clock-sse', { CLOCK_NOW: '2025-01-31T23:30:00Z' })]);
  const config = {
    notes: { ...exampleStdioCommand('notes-stdio'), ...options.notes },
    weather: { url: weather.url },
    clock: { url: clock.url, transport: 'sse' },
  };
  return { weather, clock, config, close: () => Promise.all([weather.close(), clock.close()]).then(() => {}) };
}

/** Every page of a list, following nextCursor; returns the items and the page sizes. */
export async function listAll(client: Client, method: 'tools/list' | 'prompts/list' | 'resources/list', key: string): Promise<{ items: any[]; pages: number[] }> {
  const items: any[] = [];
  const pages: number[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = (await client.request({ method, params: cursor === undefined ? {} : { cursor } } as never)) as Record<string, any>;
    items.push(...page[key]);
    pages.push(page[key].length);
    cursor = page.nextCursor;
    if (cursor === undefined) break;
  }
  return { items, pages };
}

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  /** Parsed JSON data, or undefined for events without data (priming events). */
  data: any;
}

/** An SSE response read incrementally: a test awaits the events it expects as they arrive (bounded). */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly status: number;
  readonly headers: Headers;
  ended = false;
  private readonly controller: AbortController;
  private readonly waiters = new Set<() => void>();

  private constructor(res: Response, controller: AbortController) {
    this.status = res.status;
    this.headers = res.headers;
    this.controller = controller;
    if (res.body) void this.pump(res.body);
    else this.finish();
  }

  /** Open `url` (GET by default) and resolve once the response headers are in. */
  static async open(url: string, init: RequestInit = {}): Promise<SseReader> {
    const controller = new AbortController();
    const res = await fetch(url, { ...init, signal: controller.signal });
    return new SseReader(res, controller);
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          this.parse(block);
        }
      }
    } catch {
      // aborted by close()
    }
    this.finish();
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (id === undefined && event === undefined && data.length === 0) return; // a comment (keep-alive)
    const text = data.join('\n');
    this.events.push({ id, event, data: text.trim() === '' ? undefined : event === 'endpoint' ? text : JSON.parse(text) });
    for (const w of this.waiters) w();
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.waiters) w();
  }

  /** The first event from index `from` that matches, waiting for it if needed. */
  next(match: (e: SseEvent) => boolean, from = 0, timeoutMs = WAIT_MS): Promise<SseEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(from).find(match);
        if (found) done(() => resolve(found));
        else if (this.ended) done(() => reject(new Error(`the stream ended without the expected event; got ${JSON.stringify(this.events)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no expected event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`))), timeoutMs);
      timer.unref();
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Wait until the server ends the response. */
  closed(timeoutMs = WAIT_MS): Promise<void> {
    return withTimeout(new Promise<void>((resolve) => {
      const check = () => {
        if (this.ended) resolve();
      };
      this.waiters.add(check);
      check();
    }), 'the stream to end', timeoutMs);
  }

  close(): void {
    this.controller.abort();
  }
}
