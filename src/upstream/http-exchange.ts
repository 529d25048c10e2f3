/**
 * The undici dispatch handlers the HTTP transports (http.ts, stateless.ts, sse.ts) have in common: one POSTed
 * request whose JSON or SSE answer flows straight into the parser (`PostExchange`), a POST that only needs a 2xx
 * (`AcceptedPost`), and a long-lived GET/POST event stream (`EventStreamHandler`). Each transport keeps only what differs.
 */
import type { Dispatcher } from 'undici';
import type { Principal } from '../auth/principal.ts';
import { NO_HEADERS } from '../auth/upstream-credentials.ts';
import type { CredentialProvider, HeaderList } from '../auth/upstream-credentials.ts';
import { GatehouseError } from '../core/errors.ts';
import { BaseConnection } from './connection.ts';
import { failedToConnect, notDelivered, refusedWith } from './delivery.ts';
import { PendingRequest } from './pending.ts';
import { SseParser } from './sse-parser.ts';

export type Controller = Dispatcher.DispatchController;
export type Headers = Record<string, string | string[] | undefined>;

/** A JSON answer larger than this is refused (protects the gateway from a runaway upstream). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How much of an error body is kept for the message. */
export const MAX_ERROR_BODY = 2048;
export const ABANDONED = new Error('request abandoned');
export const ACCEPT_BOTH = 'application/json, text/event-stream';

/** What the HTTP transports' connections offer their dispatch handlers. */
export abstract class HttpBaseConnection extends BaseConnection {
  /** @internal route a decoded value that arrived on a stream or body. */
  deliver(value: unknown, tag?: unknown): void {
    this.receive(value, tag);
  }

  /** @internal a message on a stream was not JSON (or not JSON-RPC). */
  countInvalid(): void {
    this.invalidMessages++;
  }

  /** @internal */
  unavailable(cause: string): GatehouseError {
    return new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.upstream, cause], { upstream: this.upstream });
  }

  /** @internal */
  protocolError(cause: string): GatehouseError {
    return new GatehouseError('GH_ERR_UPSTREAM_PROTOCOL', [this.upstream, cause], { upstream: this.upstream });
  }

  /** @internal */
  get ending(): boolean {
    return this.isClosing;
  }
}

/** What a `PostExchange` needs from its connection. */
export interface ExchangeOwner {
  /** The credential the upstream's `auth` names; null (no `auth`): no credential at all. */
  readonly credentials: CredentialProvider | null;
  /** Route a decoded value that arrived on a stream or body. */
  deliver(value: unknown, tag: unknown): void;
  /** A message on a stream was not JSON. */
  countInvalid(): void;
  unavailable(cause: string): GatehouseError;
  protocolError(cause: string): GatehouseError;
}

/** What an exchange is doing with the response body. Subclasses number their own modes from `MODE_OWN`. */
export const MODE_WAIT = 0;
export const MODE_JSON = 1;
export const MODE_SSE = 2;
export const MODE_ERROR = 3;
export const MODE_IGNORE = 4;
export const MODE_UNAUTHORIZED = 5;
export const MODE_OWN = 6;

/**
 * One request's round trip: the in-flight entry and the undici dispatch handler at once, so the response flows
 * from the socket into `JSON.parse` or the SSE parser with no stream object in between. A 401 (or 403
 * insufficient_scope) to a request sent with a credential is retried once with a fresh one (`resend`).
 */
export abstract class PostExchange<C extends ExchangeOwner> extends PendingRequest implements Dispatcher.DispatchHandler {
  readonly conn: C;
  body = '';
  tag: unknown = undefined;
  /** Who the request is made for (credentials per caller). */
  principal: Principal | undefined = undefined;
  /** The credential headers it was sent with; null when the upstream has no `auth`. */
  sent: HeaderList | null = null;
  protected authRetried = false;
  protected challenge: string | undefined = undefined;
  protected controller: Controller | null = null;
  protected mode = MODE_WAIT;
  protected status = 0;
  protected first: Buffer | null = null;
  protected more: Buffer[] | null = null;
  protected bytes = 0;
  protected parser: SseParser | null = null;

  constructor(conn: C) {
    super();
    this.conn = conn;
  }

  /** Send the request again (after a refused credential). */
  protected abstract resend(): void;
  /** The error for a 3xx-5xx answer whose (truncated) body is `text`. */
  protected abstract refused(text: string): Error;
  /** The error for a 2xx answer that is neither JSON nor an event stream. */
  protected abstract unexpected(): Error;

  /** @internal the caller's credential headers from `creds`; null when fetching them threw (the request failed). */
  credential(creds: CredentialProvider): HeaderList | Promise<HeaderList> | null {
    try {
      return creds.headers(this.principal);
    } catch (err) {
      this.table?.fail(this, err as Error);
      return null;
    }
  }

  /** @internal before a (re)send */
  reset(): void {
    this.controller = null;
    this.mode = MODE_WAIT;
    this.status = 0;
    this.first = null;
    this.more = null;
    this.bytes = 0;
    this.parser = null;
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.settled) controller.abort(ABANDONED);
  }

  onResponseStart(_controller: Controller, status: number, headers: Headers): void {
    if (status < 200) return;
    this.status = status;
    // 401, or 403 insufficient_scope (RFC 6750 §3.1): the credential was refused before the request was processed.
    if ((status === 401 || (status === 403 && insufficientScope(headers))) && this.sent !== null && !this.authRetried) {
      this.mode = MODE_UNAUTHORIZED;
      this.challenge = challengeOf(headers);
      return;
    }
    if (status >= 300) {
      this.mode = MODE_ERROR;
      return;
    }
    const type = headers['content-type'];
    const ct = typeof type === 'string' ? type : Array.isArray(type) ? type[0] : '';
    if (ct.startsWith('text/event-stream')) {
      this.mode = MODE_SSE;
      this.parser = new SseParser((event, data) => this.event(event, data));
    } else if (ct.startsWith('application/json') || ct.includes('+json')) {
      this.mode = MODE_JSON;
    } else {
      this.mode = MODE_IGNORE;
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    switch (this.mode) {
      case MODE_SSE:
        this.parser!.push(chunk);
        return;
      case MODE_JSON:
        if (this.bytes + chunk.length > MAX_BODY_BYTES) {
          this.table?.fail(this, this.conn.protocolError(`response body exceeds ${MAX_BODY_BYTES} bytes`));
          controller.abort(ABANDONED);
          return;
        }
        this.keep(chunk);
        return;
      case MODE_ERROR:
      case MODE_UNAUTHORIZED:
        if (this.bytes < MAX_ERROR_BODY) this.keep(chunk);
        return;
    }
  }

  onResponseEnd(): void {
    if (this.settled) return;
    switch (this.mode) {
      case MODE_JSON: {
        let value: unknown;
        try {
          value = JSON.parse(this.text());
        } catch {
          this.table?.fail(this, this.conn.protocolError(`the answer to ${this.method} is not valid JSON`));
          return;
        }
        this.first = this.more = null;
        this.conn.deliver(value, this.tag);
        if (!this.settled) this.table?.fail(this, this.conn.protocolError(`the answer to ${this.method} is not its JSON-RPC response`));
        return;
      }
      case MODE_SSE: {
        const parser = this.parser!;
        parser.end();
        if (!this.settled) this.streamEnded(parser);
        return;
      }
      case MODE_UNAUTHORIZED:
        // Refused before it was processed; once more, with a fresh credential (the challenge may name where to get it).
        this.authRetried = true;
        if (this.conn.credentials!.rejected(this.principal, this.sent!, this.challenge) !== false) {
          this.resend();
          return;
        }
        this.table?.fail(this, refusedWith(this.conn.unavailable(describeStatus(this.status, this.text())), this.status));
        return;
      case MODE_ERROR:
        this.table?.fail(this, refusedWith(this.refused(this.text()), this.status));
        return;
      default:
        this.table?.fail(this, this.unexpected());
    }
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.settled) return;
    const error = this.conn.unavailable(describeNetError(err));
    this.table?.fail(this, failedToConnect(err) ? notDelivered(error) : error);
  }

  /** The request's event stream ended before its response (`parser` has ended). */
  protected streamEnded(_parser: SseParser): void {
    this.table?.fail(this, this.conn.protocolError(`the event stream of ${this.method} ended without its response`));
  }

  /** Timeout, abort or close: stop reading the answer. */
  protected override onAbandon(): void {
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(ABANDONED);
  }

  /** @internal an SSE event on this request's stream (or its resumption). */
  event(type: string, data: string): void {
    if (type !== 'message' || data.length === 0) return; // priming events carry only an id
    const value = parseEvent(this.conn, data);
    if (value !== INVALID) this.conn.deliver(value, this.tag);
  }

  protected text(): string {
    if (this.first === null) return '';
    if (this.more === null) return this.first.toString('utf8');
    return Buffer.concat(this.more).toString('utf8');
  }

  private keep(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.first === null) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
  }
}

/** A POST that only needs to be accepted (202 or any 2xx): a notification or a response to a server request. */
export abstract class AcceptedPost<C extends { unavailable(cause: string): GatehouseError }> implements Dispatcher.DispatchHandler {
  readonly promise: Promise<void>;
  protected readonly conn: C;
  protected status = 0;
  private resolve: () => void = noop;
  private reject: (err: Error) => void = noop;

  constructor(conn: C) {
    this.conn = conn;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The error for a 3xx-5xx answer. */
  protected abstract refused(): Error;

  onRequestStart(): void {}

  onResponseStart(_c: Controller, status: number): void {
    if (status >= 200) this.status = status;
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    if (this.status < 300) this.resolve();
    else this.reject(refusedWith(this.refused(), this.status));
  }

  onResponseError(_c: Controller, err: Error): void {
    this.reject(this.conn.unavailable(describeNetError(err)));
  }
}

/**
 * A long-lived event stream (GET, or the POST of `subscriptions/listen`): `live` once a 200 `text/event-stream`
 * answer starts; `stop()` aborts it. Subclasses say what its end means and what its events are.
 */
export abstract class EventStreamHandler implements Dispatcher.DispatchHandler {
  protected readonly parser: SseParser;
  protected controller: Controller | null = null;
  protected stopped = false;
  protected status = 0;
  protected live = false;

  constructor() {
    this.parser = new SseParser((type, data) => this.event(type, data));
  }

  protected abstract event(type: string, data: string): void;

  stop(): void {
    this.stopped = true;
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(ABANDONED);
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.stopped) controller.abort(ABANDONED);
  }

  onResponseStart(_c: Controller, status: number, headers: Headers): void {
    if (status < 200) return;
    this.status = status;
    const type = headers['content-type'];
    this.live = status === 200 && typeof type === 'string' && type.startsWith('text/event-stream');
  }
}

/** What `parseEvent` returns for data that is not JSON. */
export const INVALID: unique symbol = Symbol('invalid');

/** The JSON of an event's data, or `INVALID` (counted on `conn`). */
export function parseEvent(conn: { countInvalid(): void }, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    conn.countInvalid();
    return INVALID;
  }
}

/** The `WWW-Authenticate` challenge of an answer, joined when it came more than once. */
export function challengeOf(headers: Headers): string | undefined {
  const challenge = headers['www-authenticate'];
  return typeof challenge === 'string' ? challenge : Array.isArray(challenge) ? challenge.join(', ') : undefined;
}

/** `HTTP <status>`, with the JSON-RPC error message of the body or the start of the body itself. */
export function describeStatus(status: number, body: string): string {
  let detail = '';
  if (body.length > 0) {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: unknown } };
      if (parsed && typeof parsed.error?.message === 'string') detail = parsed.error.message;
    } catch {
      detail = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    }
  }
  return detail === '' ? `HTTP ${status}` : `HTTP ${status}: ${detail.trim()}`;
}

/** undici errors carry the socket-level cause in `code` (ECONNREFUSED, UND_ERR_SOCKET, ...). */
export function describeNetError(err: Error): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED') return `connection refused (${e.message})`;
  if (err instanceof AggregateError && err.errors.length > 0) return describeNetError(err.errors[0] as Error);
  return code !== undefined && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
}

/** A 403's `WWW-Authenticate` says `error="insufficient_scope"`. */
export function insufficientScope(headers: Headers): boolean {
  const h = headers['www-authenticate'];
  const text = typeof h === 'string' ? h : Array.isArray(h) ? h.join(', ') : '';
  return /error\s*=\s*"?insufficient_scope/i.test(text);
}

/** A connection's own credential, fresh (a stream may reopen long after the last request); the current one if
 *  fetching fails; none without `auth`. */
export function freshCredential(creds: CredentialProvider | null): HeaderList | Promise<HeaderList> {
  if (creds === null) return NO_HEADERS;
  try {
    const found = creds.headers(undefined);
    return found instanceof Promise ? found.catch(() => creds.current()) : found;
  } catch {
    return creds.current();
  }
}

export function noop(): void {}
