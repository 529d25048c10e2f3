/**
 * An incremental `text/event-stream` parser (HTML Living Standard, "Server-sent events", interpreting an event
 * stream): feed it chunks as they arrive, in any split, and it calls back once per complete event. It keeps
 * the last event id and the server's `retry` hint for reconnection.
 */

/** Called once per dispatched event; `type` is 'message' when the event named none. */
export type SseEventHandler = (type: string, data: string, lastEventId: string) => void;

const STREAM = { stream: true } as const;
const LF = 10;
const COLON = 58;

export class SseParser {
  /** The last event id seen (kept across events, sent back as Last-Event-ID when reconnecting). */
  lastEventId = '';
  /** Reconnection time the server asked for with `retry:` (ms), or -1. */
  retry = -1;
  private readonly onEvent: SseEventHandler;
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private type = '';
  private data = '';
  private hasData = false;
  private skipLF = false;
  private started = false;

  constructor(onEvent: SseEventHandler) {
    this.onEvent = onEvent;
  }

  /** Feed raw bytes (UTF-8, split anywhere). */
  push(chunk: Uint8Array): void {
    this.feed(this.decoder.decode(chunk, STREAM));
  }

  /** Feed decoded text. */
  feed(text: string): void {
    if (text.length === 0) return;
    const s = this.buffer.length === 0 ? text : this.buffer + text;
    let pos = 0;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) pos = 1;
    }
    if (this.skipLF) {
      this.skipLF = false;
      if (s.charCodeAt(pos) === LF) pos++;
    }
    // Next CR / LF positions, found once per string and reused: -1 stays -1 (no quadratic rescans).
    let lf = s.indexOf('\n', pos);
    let cr = s.indexOf('\r', pos);
    for (;;) {
      if (lf !== -1 && lf < pos) lf = s.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = s.indexOf('\r', pos);
      let end: number;
      if (lf === -1) end = cr;
      else if (cr === -1) end = lf;
      else end = lf < cr ? lf : cr;
      if (end === -1) break;
      this.line(s, pos, end);
      pos = end + 1;
      if (end === cr) {
        if (pos < s.length) {
          if (s.charCodeAt(pos) === LF) pos++;
        } else {
          this.skipLF = true;
        }
      }
    }
    this.buffer = pos === 0 ? s : pos >= s.length ? '' : s.slice(pos);
  }

  /** The stream ended: an event without its terminating blank line is discarded, as the standard says. */
  end(): void {
    this.decoder.decode();
    this.buffer = '';
    this.type = '';
    this.data = '';
    this.hasData = false;
    this.skipLF = false;
  }

  private line(s: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    if (s.charCodeAt(start) === COLON) return; // comment (keep-alive)
    let colon = s.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    let valueStart = colon + 1;
    if (valueStart < end && s.charCodeAt(valueStart) === 32) valueStart++;
    const nameLength = colon - start;
    if (nameLength === 4 && s.startsWith('data', start)) {
      const value = colon === end ? '' : s.slice(valueStart, end);
      this.data = this.hasData ? this.data + '\n' + value : value;
      this.hasData = true;
    } else if (nameLength === 5 && s.startsWith('event', start)) {
      this.type = colon === end ? '' : s.slice(valueStart, end);
    } else if (nameLength === 2 && s.startsWith('id', start)) {
      const value = colon === end ? '' : s.slice(valueStart, end);
      if (!value.includes('\0')) this.lastEventId = value;
    } else if (nameLength === 5 && s.startsWith('retry', start)) {
      const value = colon === end ? '' : s.slice(valueStart, end);
      if (/^\d+$/.test(value)) this.retry = Number(value);
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      this.type = '';
      return;
    }
    const type = this.type === '' ? 'message' : this.type;
    const data = this.data;
    this.type = '';
    this.data = '';
    this.hasData = false;
    this.onEvent(type, data, this.lastEventId);
  }
}
