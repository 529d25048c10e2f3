/**
 * The audit log's durable primary: JSON lines appended with group commit — the records that arrive while one batch is
 * being written wait and go out together as the next batch, one write() and (fsync `always`) one fdatasync each —
 * rotated by size and UTC day, and read back for startup recovery, the SQLite catch-up and queries.
 */
import { closeSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readSync, statSync, unlink } from 'node:fs';
import { close, fdatasync, fstat, fsync, ftruncate, open, write } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AuditQuery, AuditReadProblem, AuditRecord, AuditStore } from '../audit.ts';
import { matchesQuery, newestLast } from '../audit.ts';
import type { AuditFile, JsonlPosition } from './audit-files.ts';
import { auditFileName, listAuditFiles, listAuditFilesSync, readAuditFile, readAuditFileSync, utcDay } from './audit-files.ts';

export type { JsonlPosition } from './audit-files.ts';

const openAsync = promisify(open);
const writeAsync = promisify(write);
const datasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);
const truncateAsync = promisify(ftruncate);
const unlinkAsync = promisify(unlink);

/**
 * always: fdatasync each batch before its appends resolve (survives power loss); interval: write() before resolving
 * (survives SIGKILL: the bytes are in the kernel), fdatasync every `intervalMs`; never: write() only, the OS flushes.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface JsonlAuditOptions {
  /** Base path; files are named `<stem>.<YYYY-MM-DD>.<NNNN><ext>` beside it (audit-files.ts). */
  readonly path: string;
  readonly fsync?: FsyncPolicy;
  /** fsync `interval`: the most time a written record stays unsynced. Default 1000. */
  readonly intervalMs?: number;
  /** Start a new file when the next batch would take the current one past this size. Default 64 MiB. */
  readonly rotateBytes?: number;
  /** Keep at most this many files, deleting the oldest after a rotation; 0 keeps every file (the default). */
  readonly retainFiles?: number;
  /** Read only (the CLI): no torn-tail repair, `append` refuses. */
  readonly readOnly?: boolean;
  readonly now?: () => number;
  /** After each batch is durable (per policy) and its appends resolved: where it ended (feeds the SQLite index). */
  readonly onFlushed?: (records: readonly AuditRecord[], at: JsonlPosition) => void;
  /** A torn or unreadable line met while reading back. */
  readonly onProblem?: (problem: AuditReadProblem) => void;
  /** Something went wrong off the ack path (deleting an old file): logged, never thrown. */
  readonly onWarn?: (message: string, err?: unknown) => void;
}

export interface JsonlAuditStore extends AuditStore {
  /** Where the log ends now (null before the first file exists). */
  position(): JsonlPosition | null;
  /** The torn tail cut off the newest file at open (bytes of a write that never completed), or null. */
  readonly recovered: { readonly file: string; readonly tornBytes: number } | null;
  /** Every record after `from` (null: from the start), synchronously: startup catch-up. Returns the end reached. */
  scanSync(from: JsonlPosition | null, onRecord: (record: AuditRecord, at: JsonlPosition) => void): JsonlPosition | null;
  /** Every record after `from`, without blocking: the tail a lagging index has not seen yet. */
  scan(from: JsonlPosition | null, onRecord: (record: AuditRecord, at: JsonlPosition) => void): Promise<JsonlPosition | null>;
}

interface Pending {
  readonly record: AuditRecord;
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const MIB = 1024 * 1024;

/**
 * Open (creating its directory) the JSONL audit log at `options.path`. Synchronous: at startup it cuts a torn last line
 * off the newest file — a write the crash interrupted, whose append therefore never resolved.
 */
export function openJsonlAuditStore(options: JsonlAuditOptions): JsonlAuditStore {
  return new JsonlAuditLog(options);
}

class JsonlAuditLog implements JsonlAuditStore {
  readonly recovered: { readonly file: string; readonly tornBytes: number } | null = null;
  private readonly base: string;
  private readonly policy: FsyncPolicy;
  private readonly rotateBytes: number;
  private readonly retain: number;
  private readonly now: () => number;
  private readonly options: JsonlAuditOptions;
  private queue: Pending[] = [];
  private running = false;
  /** A failed write or fsync: the file's state is unknown, so every later append is refused until reopened. */
  private broken: Error | null = null;
  private closed = false;
  private fd = -1;
  private file: AuditFile | null;
  private size = 0;
  /** fsync `interval`: bytes (or a new directory entry) written since the last sync, and a sync was asked for. */
  private dirty = false;
  private syncDue = false;
  private readonly timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];

  constructor(options: JsonlAuditOptions) {
    this.options = options;
    this.base = resolve(options.path);
    this.policy = options.fsync ?? 'always';
    this.rotateBytes = options.rotateBytes ?? 64 * MIB;
    this.retain = options.retainFiles ?? 0;
    this.now = options.now ?? Date.now;
    const files = listAuditFilesSync(this.base);
    this.file = files.at(-1) ?? null;
    if (options.readOnly) return;
    mkdirSync(dirname(this.base), { recursive: true, mode: 0o700 });
    if (this.file) {
      const torn = cutTornTail(this.file.path);
      if (torn > 0) this.recovered = { file: this.file.name, tornBytes: torn };
    }
    if (this.policy === 'interval') {
      this.timer = setInterval(() => {
        if (!this.dirty) return;
        this.syncDue = true;
        this.kick();
      }, options.intervalMs ?? 1_000);
      this.timer.unref();
    }
  }

  append(record: AuditRecord): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed || this.options.readOnly) return Promise.reject(new Error(this.closed ? 'the audit log is closed' : 'the audit log is open read-only'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, line: `${JSON.stringify(record)}\n`, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // A microtask later, so appends made in the same turn join the first batch.
    queueMicrotask(() => void this.run());
  }

  /** The group-commit loop: whatever queued while a batch was out becomes the next batch. */
  private async run(): Promise<void> {
    while (this.broken === null && (this.queue.length > 0 || this.syncDue)) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (batch.length > 0) await this.writeBatch(batch);
        if (this.policy === 'interval' && this.syncDue && this.fd >= 0) {
          this.syncDue = false;
          this.dirty = false;
          await datasyncAsync(this.fd);
        }
      } catch (err) {
        this.broken = err instanceof Error ? err : new Error(String(err));
        for (const p of batch) p.reject(this.broken);
      }
    }
    if (this.broken !== null) for (const p of this.queue.splice(0)) p.reject(this.broken);
    this.running = false;
    for (const wake of this.idle.splice(0)) wake();
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let text = '';
    for (const p of batch) text += p.line;
    const bytes = Buffer.from(text);
    const rotated = await this.fileFor(bytes.length);
    let written = 0;
    try {
      while (written < bytes.length) written += (await writeAsync(this.fd, bytes, written, bytes.length - written, null)).bytesWritten;
      if (this.policy === 'always') await datasyncAsync(this.fd);
    } catch (err) {
      // Leave whole lines only, so a later reader sees no half record (best effort; the log is broken either way).
      await truncateAsync(this.fd, this.size).catch(() => {});
      throw err;
    }
    this.size += bytes.length;
    if (this.policy === 'interval') this.dirty = true;
    for (const p of batch) p.resolve();
    try {
      this.options.onFlushed?.(batch.map((p) => p.record), { file: this.file!.name, offset: this.size });
    } catch (err) {
      this.options.onWarn?.('audit: a listener of flushed batches failed', err);
    }
    if (rotated && this.retain > 0) void this.prune();
  }

  /** The file this batch goes to: the current one, or a new one for a new UTC day or past `rotateBytes`. */
  private async fileFor(bytes: number): Promise<boolean> {
    const current = this.file;
    // A clock stepping back must not start a file that sorts before the current one.
    const today = utcDay(this.now());
    const day = current !== null && current.day > today ? current.day : today;
    const full = (size: number) => size > 0 && size + bytes > this.rotateBytes;
    if (this.fd >= 0) {
      if (current!.day === day && !full(this.size)) return false;
      if (this.policy !== 'never') await datasyncAsync(this.fd);
      const fd = this.fd;
      this.fd = -1;
      await closeAsync(fd);
    } else if (current !== null && current.day === day) {
      // The first batch since opening: carry on in today's newest file while it has room.
      const fd = await openAsync(current.path, 'a', 0o600);
      const size = (await fstatAsync(fd)).size;
      if (!full(size)) {
        this.fd = fd;
        this.size = size;
        return false;
      }
      await closeAsync(fd);
    }
    const next = this.fileAt(day, current !== null && current.day === day ? current.seq + 1 : 0);
    this.fd = await openAsync(next.path, 'a', 0o600);
    this.size = (await fstatAsync(this.fd)).size;
    this.file = next;
    // A new file's directory entry must be durable too, or a power loss can drop the whole file.
    if (this.policy === 'always') await syncDir(dirname(this.base));
    else if (this.policy === 'interval') void syncDir(dirname(this.base)).catch(() => {});
    return true;
  }

  private fileAt(day: string, seq: number): AuditFile {
    const name = auditFileName(this.base, day, seq);
    return { path: join(dirname(this.base), name), name, day, seq };
  }

  private async prune(): Promise<void> {
    try {
      const files = await listAuditFiles(this.base);
      for (const f of files.slice(0, Math.max(0, files.length - this.retain))) {
        if (f.name !== this.file?.name) await unlinkAsync(f.path);
      }
    } catch (err) {
      this.options.onWarn?.('audit: could not delete an old audit file', err);
    }
  }

  position(): JsonlPosition | null {
    if (this.file === null) return null;
    return { file: this.file.name, offset: this.fd >= 0 ? this.size : fileSize(this.file.path) };
  }

  scanSync(from: JsonlPosition | null, onRecord: (record: AuditRecord, at: JsonlPosition) => void): JsonlPosition | null {
    let end = from;
    for (const f of filesFrom(listAuditFilesSync(this.base), from)) {
      const start = startIn(f, from);
      const offset = readAuditFileSync(f.path, start, (r, at) => onRecord(r, { file: f.name, offset: at }), this.options.onProblem);
      end = { file: f.name, offset };
    }
    return end;
  }

  async scan(from: JsonlPosition | null, onRecord: (record: AuditRecord, at: JsonlPosition) => void): Promise<JsonlPosition | null> {
    let end = from;
    for (const f of filesFrom(await listAuditFiles(this.base), from)) {
      const stop = this.fd >= 0 && f.name === this.file?.name ? this.size : undefined;
      const start = from !== null && f.name === from.file ? from.offset : 0;
      const offset = await readAuditFile(f.path, start, (r, at) => onRecord(r, { file: f.name, offset: at }), this.options.onProblem, stop);
      end = { file: f.name, offset };
    }
    return end;
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    // A file holds what was written on its day, and a record's time is never after its write: older days cannot match.
    const firstDay = q.since === undefined ? '' : utcDay(q.since);
    const from = (await listAuditFiles(this.base)).find((f) => f.day >= firstDay);
    if (from === undefined) return [];
    await this.scan({ file: from.name, offset: 0 }, (r) => {
      if (matchesQuery(r, q)) found.push(r);
    });
    return newestLast(found, q.limit);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.running) await new Promise<void>((wake) => this.idle.push(wake));
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      if (this.broken === null && this.policy !== 'never') await datasyncAsync(fd);
    } finally {
      await closeAsync(fd);
    }
  }
}

/** The files at or after `from`'s (all for null; a position in a deleted file goes on with the next one). */
function filesFrom(files: readonly AuditFile[], from: JsonlPosition | null): AuditFile[] {
  if (from === null) return [...files];
  const at = files.findIndex((f) => f.name === from.file);
  return at >= 0 ? files.slice(at) : files.filter((f) => f.name > from.file);
}

/** Where to start reading `f`: past `from` in its own file (from 0 when the file is shorter: it was cut and rewritten). */
function startIn(f: AuditFile, from: JsonlPosition | null): number {
  if (from === null || f.name !== from.file) return 0;
  return from.offset <= fileSize(f.path) ? from.offset : 0;
}

function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

async function syncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/** Cut the bytes after the last newline of `path` (a write cut short by a crash); returns how many were cut. */
function cutTornTail(path: string): number {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (let end = size; end > 0;) {
      const start = Math.max(0, end - buf.length);
      const n = readSync(fd, buf, 0, end - start, start);
      const nl = buf.subarray(0, n).lastIndexOf(10);
      if (nl !== -1) return cut(fd, size, start + nl + 1);
      end = start;
    }
    return cut(fd, size, 0);
  } finally {
    closeSync(fd);
  }
}

function cut(fd: number, size: number, keep: number): number {
  if (keep === size) return 0;
  ftruncateSync(fd, keep);
  fsyncSync(fd);
  return size - keep;
}
