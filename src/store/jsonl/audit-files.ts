/**
 * The audit log's files on disk: how they are named, found and read back. A base path `dir/audit.jsonl` is written
 * as `dir/audit.<YYYY-MM-DD>.<NNNN>.jsonl` (UTC day of the first write, then a sequence number within the day).
 */
import { createReadStream, readdirSync } from 'node:fs';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { AuditReadProblem, AuditRecord } from '../audit.ts';

/** One file of the log. Files sort by (day, seq); names never change once written. */
export interface AuditFile {
  readonly path: string;
  readonly name: string;
  readonly day: string;
  readonly seq: number;
}

/** A place in the log: the end of the last line read or written, in one file (by name). */
export interface JsonlPosition {
  readonly file: string;
  readonly offset: number;
}

/** The file name for `day` and `seq` under `basePath`. */
export function auditFileName(basePath: string, day: string, seq: number): string {
  const ext = extname(basePath);
  return `${basename(basePath, ext)}.${day}.${String(seq).padStart(4, '0')}${ext}`;
}

/** The UTC day of `ms` as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function pattern(basePath: string): RegExp {
  const ext = extname(basePath);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(basename(basePath, ext))}\\.(\\d{4}-\\d{2}-\\d{2})\\.(\\d{4,})${esc(ext)}$`);
}

function toFiles(basePath: string, names: readonly string[]): AuditFile[] {
  const re = pattern(basePath);
  const dir = dirname(basePath);
  const files: AuditFile[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (m) files.push({ path: join(dir, name), name, day: m[1], seq: Number(m[2]) });
  }
  return files.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.seq - b.seq));
}

/** The log's files, oldest first (startup and the CLI: synchronous). */
export function listAuditFilesSync(basePath: string): AuditFile[] {
  try {
    return toFiles(basePath, readdirSync(dirname(basePath)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The log's files, oldest first. */
export async function listAuditFiles(basePath: string): Promise<AuditFile[]> {
  try {
    return toFiles(basePath, await readdir(dirname(basePath)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Called per complete record read, with the file offset just past its line. */
export type OnRecord = (record: AuditRecord, end: number) => void;

/**
 * Splits bytes into lines and parses each as a record. A line that does not parse is reported as `invalid` and
 * skipped; bytes after the last newline are reported as `torn` (a write cut short) and not returned.
 */
class LineReader {
  private rest: Buffer = Buffer.alloc(0);
  private pos: number;
  private line = 0;
  private readonly file: string;
  private readonly onRecord: OnRecord;
  private readonly onProblem: ((p: AuditReadProblem) => void) | undefined;

  constructor(file: string, start: number, onRecord: OnRecord, onProblem?: (p: AuditReadProblem) => void) {
    this.file = file;
    this.pos = start;
    this.onRecord = onRecord;
    this.onProblem = onProblem;
  }

  push(chunk: Buffer): void {
    const buf = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      this.line++;
      const lineStart = from;
      const text = buf.toString('utf8', lineStart, nl);
      from = nl + 1;
      if (text.trim() === '') continue;
      let record: AuditRecord | null = null;
      try {
        record = JSON.parse(text) as AuditRecord;
      } catch {}
      if (record !== null && typeof record === 'object' && typeof record.id === 'string' && typeof record.time === 'string') this.onRecord(record, this.pos + from);
      else this.onProblem?.({ file: this.file, line: this.line, bytes: from - lineStart, reason: 'invalid' });
    }
    this.pos += from;
    this.rest = buf.subarray(from);
  }

  /** The offset just past the last complete line. */
  end(): number {
    if (this.rest.length > 0) this.onProblem?.({ file: this.file, line: this.line + 1, bytes: this.rest.length, reason: 'torn' });
    return this.pos;
  }
}

const CHUNK = 1 << 20;

/** Read `file` from byte `start` (startup recovery and catch-up); returns the offset past the last complete line. */
export function readAuditFileSync(file: string, start: number, onRecord: OnRecord, onProblem?: (p: AuditReadProblem) => void): number {
  const reader = new LineReader(file, start, onRecord, onProblem);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let at = start; at < size;) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, size - at), at);
      if (n === 0) break;
      reader.push(Buffer.from(buf.subarray(0, n)));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return reader.end();
}

/** Read `file` from byte `start` up to `stop` (exclusive; default the end) without blocking the event loop. */
export async function readAuditFile(file: string, start: number, onRecord: OnRecord, onProblem?: (p: AuditReadProblem) => void, stop?: number): Promise<number> {
  const reader = new LineReader(file, start, onRecord, onProblem);
  if (stop !== undefined && stop <= start) return start;
  const stream = createReadStream(file, { start, end: stop === undefined ? undefined : stop - 1, highWaterMark: CHUNK });
  for await (const chunk of stream) reader.push(chunk as Buffer);
  return reader.end();
}
