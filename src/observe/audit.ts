/**
 * The audit log (issue 4): one record per served call or denial. `append` resolves once the record is durable per the
 * fsync policy, and the router answers the client only then — so an answered call is never missing from the log.
 * The JSONL files are the source of truth; the SQLite index is fed after each durable batch and caught up at open.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { AuditDecision, AuditFinding, AuditOutcome, AuditQuery, AuditReadProblem, AuditRecord, AuditStore } from '../store/audit.ts';
import { matchesQuery, newestLast } from '../store/audit.ts';
import { createMemoryAuditStore } from '../store/memory/audit.ts';
import { openJsonlAuditStore } from '../store/jsonl/audit.ts';
import type { JsonlAuditOptions, JsonlAuditStore, JsonlPosition } from '../store/jsonl/audit.ts';
import { openSqliteAuditStore } from '../store/sqlite/audit.ts';
import type { SqliteAuditStore } from '../store/sqlite/audit.ts';
import type { AuditConfig } from './audit-config.ts';

/** What the router knows about a finished call; the log turns it into an AuditRecord (preview, hash, id, time). */
export interface AuditEntry {
  readonly principal: string;
  readonly session: string | null;
  readonly virtualServer: string;
  readonly upstream: string | null;
  readonly method: string;
  readonly target: string | null;
  readonly requestId: string | number | null;
  /** The arguments as the client sent them, unredacted: hashed as they are, previewed after `redact`. */
  readonly arguments?: unknown;
  /** Allowed unless a stage refused. */
  readonly decision?: AuditDecision;
  readonly findings?: readonly AuditFinding[];
  /** When the call arrived, in milliseconds since the epoch. */
  readonly startedAt: number;
  readonly latencyMs: number;
  readonly outcome: AuditOutcome;
  readonly errorCode?: string | null;
  readonly error?: string | null;
}

export interface AuditLogOptions {
  /** The durable JSONL log (the source of truth). Without it, `store` (or memory) is the only backend. */
  readonly jsonl?: Omit<JsonlAuditOptions, 'onFlushed' | 'onProblem' | 'onWarn' | 'readOnly'> | null;
  /** Index the records in this SQLite file (with `jsonl`: fed and caught up from it; without: the only backend). */
  readonly sqlitePath?: string | null;
  /** A backend of its own instead (tests). */
  readonly store?: AuditStore;
  /** Read only (the CLI): no repair, no catch-up writes; queries merge the index with the JSONL it has not seen. */
  readonly readOnly?: boolean;
  /** Applied to the arguments before they are previewed (src/guard/redact.ts); identity by default. */
  readonly redact?: (value: unknown) => unknown;
  /** Longest preview in characters (default 512). */
  readonly previewChars?: number;
  /** HMAC key of the argument hash; plain SHA-256 without one. */
  readonly hashKey?: string;
  /** Methods recorded (`wants`); default tools/call, prompts/get, resources/read. */
  readonly methods?: readonly string[];
  readonly now?: () => number;
  /** Off the ack path: an index write that failed, an old file that could not be deleted, a torn tail cut at open. */
  readonly onWarn?: (message: string, detail?: unknown) => void;
  /** A torn or unreadable JSONL line met while reading back. */
  readonly onProblem?: (problem: AuditReadProblem) => void;
  /** A JSONL batch became durable with `records` records (group-commit metrics). */
  readonly onBatch?: (records: number) => void;
}

/** What opening the log found and repaired. */
export interface AuditRecovery {
  /** Bytes of an interrupted write cut off the newest JSONL file (never an acknowledged record). */
  readonly tornBytes: number;
  readonly tornFile: string | null;
  /** Records the SQLite index lacked and took from the JSONL. */
  readonly caughtUp: number;
}

const INDEX_BATCH = 1_000;
/**
 * The index trails the JSONL by up to this long: one SQLite commit per 25 ms instead of one per JSONL batch (at
 * concurrency 1, one per call) gave about 5x the appends/s in bench/audit/append.ts. Queries add the unseen tail.
 */
const INDEX_DELAY_MS = 25;

export class AuditLog {
  readonly recovery: AuditRecovery;
  private readonly primary: AuditStore;
  private readonly jsonl: JsonlAuditStore | null = null;
  private readonly index: SqliteAuditStore | null = null;
  /** The JSONL's key in the index's checkpoint table. */
  private readonly source: string;
  private readonly methods: ReadonlySet<string>;
  private readonly options: AuditLogOptions;
  private pendingIndex: AuditRecord[] = [];
  private pendingAt: JsonlPosition | null = null;
  private indexScheduled: NodeJS.Timeout | null = null;

  /** Where the JSONL goes: `config.jsonl.path`, else `audit/audit.jsonl` beside the store file. */
  static jsonlPath(config: AuditConfig, storePath: string): string {
    return config.jsonl.path ?? join(dirname(storePath), 'audit', 'audit.jsonl');
  }

  /** Open the log `config` describes, indexing into the store file `storePath` when `config.sqlite` is on. */
  static open(config: AuditConfig, options: Omit<AuditLogOptions, 'jsonl' | 'sqlitePath' | 'store' | 'methods' | 'previewChars' | 'hashKey'> & { storePath: string }): AuditLog {
    const { storePath, ...rest } = options;
    const { fsync, intervalMs, rotateBytes, retainFiles } = config.jsonl;
    return new AuditLog({
      ...rest,
      jsonl: { path: AuditLog.jsonlPath(config, storePath), fsync, intervalMs, rotateBytes, retainFiles },
      sqlitePath: config.sqlite ? storePath : null,
      methods: config.methods,
      previewChars: config.previewChars,
      hashKey: config.hashKey,
    });
  }

  constructor(options: AuditLogOptions) {
    this.options = options;
    this.methods = new Set(options.methods ?? ['tools/call', 'prompts/get', 'resources/read']);
    this.source = options.jsonl ? `jsonl:${resolve(options.jsonl.path)}` : '';
    if (options.store) {
      this.primary = options.store;
      this.recovery = { tornBytes: 0, tornFile: null, caughtUp: 0 };
      return;
    }
    const index = options.sqlitePath ? openSqliteAuditStore(options.sqlitePath) : null;
    if (!options.jsonl) {
      this.primary = index ?? createMemoryAuditStore();
      this.recovery = { tornBytes: 0, tornFile: null, caughtUp: 0 };
      return;
    }
    try {
      this.jsonl = openJsonlAuditStore({
        ...options.jsonl,
        readOnly: options.readOnly,
        onFlushed: index || options.onBatch ? (records, at) => {
          options.onBatch?.(records.length);
          if (index) this.indexLater(records, at);
        } : undefined,
        onProblem: options.onProblem,
        onWarn: options.onWarn,
      });
      this.index = index;
      const caughtUp = index && !options.readOnly ? this.catchUp(index, this.jsonl) : 0;
      this.recovery = { tornBytes: this.jsonl.recovered?.tornBytes ?? 0, tornFile: this.jsonl.recovered?.file ?? null, caughtUp };
    } catch (err) {
      void index?.close();
      throw err;
    }
    this.primary = this.jsonl;
    if (this.recovery.tornBytes > 0) options.onWarn?.('audit: cut the torn last line of an interrupted write (its call was never answered)', { file: this.recovery.tornFile, bytes: this.recovery.tornBytes });
  }

  /** Whether calls of `method` are recorded. */
  wants(method: string): boolean {
    return this.methods.has(method);
  }

  /** Record a finished call; resolves with the record once it is durable (rejects when it could not be written). */
  async append(entry: AuditEntry): Promise<AuditRecord> {
    const record = this.toRecord(entry);
    await this.primary.append(record);
    return record;
  }

  /** The records matching `q`, oldest first. */
  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const { index, jsonl } = this;
    if (index === null || jsonl === null) return this.primary.query(q);
    // The index may lag the JSONL (fed asynchronously, or the gateway was killed): add what it has not seen.
    const [indexed, tail] = await Promise.all([index.query(q), this.tailQuery(index, jsonl, q)]);
    const seen = new Set(indexed.map((r) => r.id));
    return newestLast([...indexed, ...tail.filter((r) => !seen.has(r.id))], q.limit);
  }

  /** Flush what is pending (the JSONL first, then the index) and close every backend. */
  async close(): Promise<void> {
    try {
      await this.primary.close();
    } finally {
      if (this.indexScheduled) clearTimeout(this.indexScheduled);
      this.indexScheduled = null;
      this.flushIndex();
      await this.index?.close();
    }
  }

  private toRecord(e: AuditEntry): AuditRecord {
    const args = e.arguments;
    return {
      time: new Date(e.startedAt).toISOString(),
      id: recordId(e.startedAt),
      principal: e.principal,
      session: e.session,
      virtualServer: e.virtualServer,
      upstream: e.upstream,
      method: e.method,
      target: e.target,
      requestId: e.requestId,
      argsPreview: args === undefined ? null : this.preview(args),
      argsHash: args === undefined ? null : hashArguments(args, this.options.hashKey),
      decision: e.decision ?? { allowed: true, stage: null, rule: null },
      findings: e.findings ?? [],
      latencyMs: Math.round(e.latencyMs * 1000) / 1000,
      outcome: e.outcome,
      errorCode: e.errorCode ?? null,
      error: e.error ?? null,
    };
  }

  private preview(args: unknown): string {
    let text: string;
    try {
      const redact = this.options.redact;
      text = JSON.stringify(redact ? redact(args) : args) ?? 'null';
    } catch (err) {
      // Never fall back to the unredacted arguments.
      this.options.onWarn?.('audit: redacting the arguments failed; the preview is left out', err);
      return '[redaction failed]';
    }
    return clip(text, this.options.previewChars ?? 512);
  }

  private catchUp(index: SqliteAuditStore, jsonl: JsonlAuditStore): number {
    let batch: AuditRecord[] = [];
    let count = 0;
    const end = jsonl.scanSync(index.checkpointSync(this.source), (record, at) => {
      batch.push(record);
      if (batch.length >= INDEX_BATCH) {
        index.indexSync(batch, this.source, at);
        count += batch.length;
        batch = [];
      }
    });
    index.indexSync(batch, this.source, end);
    return count + batch.length;
  }

  /** After a durable batch: index it a little later, in bulk, so the SQLite work never delays an acknowledgement. */
  private indexLater(records: readonly AuditRecord[], at: JsonlPosition): void {
    for (const r of records) this.pendingIndex.push(r);
    this.pendingAt = at;
    if (this.indexScheduled !== null) return;
    this.indexScheduled = setTimeout(() => {
      this.indexScheduled = null;
      this.flushIndex();
    }, INDEX_DELAY_MS);
    this.indexScheduled.unref();
  }

  private flushIndex(): void {
    if (this.index === null || (this.pendingIndex.length === 0 && this.pendingAt === null)) return;
    const records = this.pendingIndex;
    const at = this.pendingAt;
    this.pendingIndex = [];
    this.pendingAt = null;
    try {
      this.index.indexSync(records, this.source, at);
    } catch (err) {
      // The JSONL has the records; the next open catches the index up from its checkpoint.
      this.options.onWarn?.('audit: writing the SQLite index failed; it is caught up from the JSONL at the next start', err);
    }
  }

  private async tailQuery(index: SqliteAuditStore, jsonl: JsonlAuditStore, q: AuditQuery): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    await jsonl.scan(index.checkpointSync(this.source), (r) => {
      if (matchesQuery(r, q)) out.push(r);
    });
    return out;
  }
}

/** Time-ordered and unique: 12 hex digits of milliseconds, then 48 random bits. */
function recordId(ms: number): string {
  return `${Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0')}-${randomUUID().slice(24)}`;
}

/** Cut `text` to `max` characters with an ellipsis, never between the halves of a surrogate pair. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Hex SHA-256 (HMAC-SHA-256 under `key`) of the canonical JSON of `args`. */
export function hashArguments(args: unknown, key?: string): string {
  const h = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  return h.update(canonicalJson(args)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const parts: string[] = [];
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}
