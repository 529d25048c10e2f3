/**
 * Audit records in the gateway's SQLite file (config `store.path`), indexed by time, principal, tool and upstream for
 * `gatehouse audit` queries. With the JSONL log on, this is an index fed after each durable batch and caught up from
 * the JSONL at startup: `audit_checkpoint` says how far into the JSONL it has seen.
 */
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { AuditQuery, AuditRecord, AuditStore } from '../audit.ts';
import type { JsonlPosition } from '../jsonl/audit-files.ts';
import { migrate, openDatabase } from './database.ts';

/** Append only: migrations[i] takes the audit tables from version i to i + 1. */
const MIGRATIONS = [
  `CREATE TABLE audit_records (
    id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    principal TEXT NOT NULL,
    session TEXT,
    virtual_server TEXT NOT NULL,
    upstream TEXT,
    method TEXT NOT NULL,
    target TEXT,
    request_id_json TEXT,
    args_preview TEXT,
    args_hash TEXT,
    decision_json TEXT NOT NULL,
    findings_json TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT,
    error TEXT
  ) STRICT;
  CREATE INDEX audit_records_time ON audit_records (time_ms);
  CREATE INDEX audit_records_principal ON audit_records (principal, time_ms);
  CREATE INDEX audit_records_target ON audit_records (target, time_ms);
  CREATE INDEX audit_records_upstream ON audit_records (upstream, time_ms);
  CREATE TABLE audit_checkpoint (source TEXT PRIMARY KEY, file TEXT NOT NULL, offset INTEGER NOT NULL) STRICT;`,
];

interface Row {
  id: string;
  time: string;
  principal: string;
  session: string | null;
  virtual_server: string;
  upstream: string | null;
  method: string;
  target: string | null;
  request_id_json: string | null;
  args_preview: string | null;
  args_hash: string | null;
  decision_json: string;
  findings_json: string;
  latency_ms: number;
  outcome: string;
  error_code: string | null;
  error: string | null;
}

function toRecord(row: Row): AuditRecord {
  return {
    time: row.time,
    id: row.id,
    principal: row.principal,
    session: row.session,
    virtualServer: row.virtual_server,
    upstream: row.upstream,
    method: row.method,
    target: row.target,
    requestId: row.request_id_json === null ? null : (JSON.parse(row.request_id_json) as string | number),
    argsPreview: row.args_preview,
    argsHash: row.args_hash,
    decision: JSON.parse(row.decision_json) as AuditRecord['decision'],
    findings: JSON.parse(row.findings_json) as AuditRecord['findings'],
    latencyMs: row.latency_ms,
    outcome: row.outcome as AuditRecord['outcome'],
    errorCode: row.error_code,
    error: row.error,
  };
}

export interface SqliteAuditStore extends AuditStore {
  /**
   * Add records (ids already present are skipped, so replaying the JSONL is harmless) and, when given, record that the
   * JSONL `source` has been seen up to `at` — in one transaction. Synchronous: node:sqlite is, and startup needs it.
   */
  indexSync(records: readonly AuditRecord[], source: string, at: JsonlPosition | null): void;
  /** How far into the JSONL log `source` this index has seen (null: nothing yet). */
  checkpointSync(source: string): JsonlPosition | null;
}

/** Open the audit tables in the SQLite file at `path` (created with its directory; ':memory:' for a throwaway one). */
export function openSqliteAuditStore(path: string): SqliteAuditStore {
  const db: DatabaseSync = openDatabase(path);
  try {
    migrate(db, 'audit', MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  const insert = db.prepare(`INSERT OR IGNORE INTO audit_records (id, time, time_ms, principal, session, virtual_server, upstream, method, target,
    request_id_json, args_preview, args_hash, decision_json, findings_json, latency_ms, outcome, error_code, error)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const setCheckpoint = db.prepare(`INSERT INTO audit_checkpoint (source, file, offset) VALUES (?, ?, ?)
    ON CONFLICT (source) DO UPDATE SET file = excluded.file, offset = excluded.offset`);
  const getCheckpoint = db.prepare('SELECT file, offset FROM audit_checkpoint WHERE source = ?');
  const put = (r: AuditRecord) => {
    insert.run(r.id, r.time, Date.parse(r.time), r.principal, r.session, r.virtualServer, r.upstream, r.method, r.target,
      r.requestId === null ? null : JSON.stringify(r.requestId), r.argsPreview, r.argsHash, JSON.stringify(r.decision), JSON.stringify(r.findings),
      r.latencyMs, r.outcome, r.errorCode, r.error);
  };
  const indexSync = (records: readonly AuditRecord[], source: string, at: JsonlPosition | null) => {
    // One transaction per batch: one commit instead of one per record.
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of records) put(r);
      if (at !== null) setCheckpoint.run(source, at.file, at.offset);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  return {
    indexSync,
    checkpointSync(source) {
      const row = getCheckpoint.get(source) as { file: string; offset: number } | undefined;
      return row === undefined ? null : { file: row.file, offset: row.offset };
    },
    // Standalone (no JSONL): a commit in WAL with synchronous = NORMAL survives a killed process, not a power loss.
    append: (record) => run(() => put(record)),
    query: (q: AuditQuery) => run(() => select(db, q)),
    close: () => run(() => {
      if (db.isOpen) db.close();
    }),
  };
}

function select(db: DatabaseSync, q: AuditQuery): AuditRecord[] {
  const where: string[] = [];
  const args: SQLInputValue[] = [];
  const add = (clause: string, value: SQLInputValue | undefined) => {
    if (value === undefined) return;
    where.push(clause);
    args.push(value);
  };
  add('time_ms >= ?', q.since);
  add('time_ms <= ?', q.until);
  add('principal = ?', q.principal);
  add('target = ?', q.tool);
  add('upstream = ?', q.upstream);
  add('outcome = ?', q.outcome);
  const filter = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  if (q.limit === undefined) {
    return (db.prepare(`SELECT * FROM audit_records ${filter} ORDER BY time, id`).all(...args) as unknown as Row[]).map(toRecord);
  }
  // The most recent `limit`, handed back oldest first.
  const rows = db.prepare(`SELECT * FROM audit_records ${filter} ORDER BY time_ms DESC, time DESC, id DESC LIMIT ?`).all(...args, q.limit) as unknown as Row[];
  return rows.reverse().map(toRecord);
}
