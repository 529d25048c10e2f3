/**
 * Pins and approvals in the gateway's SQLite file (config `store.path`, component `pins`), shared with the
 * `gatehouse approvals` CLI: the CLI approves, a running gateway sees `data_version` move and re-checks its catalog.
 */
import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { DefinitionKind, DefinitionRef, Pending, PendingReason, Pin, PinStore } from '../pins.ts';
import { pendingId } from '../pins.ts';
import { migrate, openDatabase } from './database.ts';

/** Append only: migrations[i] takes the pins tables from version i to i + 1. */
const MIGRATIONS = [
  `CREATE TABLE pins (
    upstream TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    hash TEXT NOT NULL,
    definition TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    PRIMARY KEY (upstream, kind, key)
  ) STRICT`,
  `CREATE TABLE pins_pending (
    id TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    hash TEXT NOT NULL,
    definition TEXT NOT NULL,
    reason TEXT NOT NULL,
    previous_hash TEXT,
    first_seen INTEGER NOT NULL,
    rejected_at INTEGER,
    rejected_by TEXT,
    findings TEXT NOT NULL
  ) STRICT`,
  'CREATE INDEX pins_pending_definition ON pins_pending (upstream, kind, key)',
];

interface PinRow {
  upstream: string;
  kind: string;
  key: string;
  hash: string;
  definition: string;
  approved_at: number;
  approved_by: string;
}

interface PendingRow {
  id: string;
  upstream: string;
  kind: string;
  key: string;
  hash: string;
  definition: string;
  reason: string;
  previous_hash: string | null;
  first_seen: number;
  rejected_at: number | null;
  rejected_by: string | null;
  findings: string;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const toPin = (r: PinRow): Pin => ({
  upstream: r.upstream,
  kind: r.kind as DefinitionKind,
  key: r.key,
  hash: r.hash,
  definition: JSON.parse(r.definition),
  approvedAt: r.approved_at,
  approvedBy: r.approved_by,
});

const toPending = (r: PendingRow): Pending => ({
  id: r.id,
  upstream: r.upstream,
  kind: r.kind as DefinitionKind,
  key: r.key,
  hash: r.hash,
  definition: JSON.parse(r.definition),
  reason: r.reason as PendingReason,
  previousHash: r.previous_hash,
  firstSeen: r.first_seen,
  rejectedAt: r.rejected_at,
  rejectedBy: r.rejected_by,
  findings: JSON.parse(r.findings) as unknown[],
});

/** Open the pin store in the SQLite file at `path` (':memory:' for a throwaway one). */
export function openSqlitePinStore(path: string): PinStore {
  const db: DatabaseSync = openDatabase(path);
  try {
    migrate(db, 'pins', MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  const pinsOf = db.prepare('SELECT * FROM pins WHERE upstream = ? ORDER BY kind, key');
  const upsertPin = db.prepare(`INSERT INTO pins (upstream, kind, key, hash, definition, approved_at, approved_by) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (upstream, kind, key) DO UPDATE SET hash = excluded.hash, definition = excluded.definition, approved_at = excluded.approved_at, approved_by = excluded.approved_by`);
  const insertPending = db.prepare(`INSERT INTO pins_pending (id, upstream, kind, key, hash, definition, reason, previous_hash, first_seen, findings)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const onePending = db.prepare('SELECT * FROM pins_pending WHERE id = ?');
  const allPending = db.prepare('SELECT * FROM pins_pending ORDER BY first_seen, id');
  const clear = db.prepare('DELETE FROM pins_pending WHERE upstream = ? AND kind = ? AND key = ?');
  const rejectRow = db.prepare('UPDATE pins_pending SET rejected_at = ?, rejected_by = ? WHERE id = ? AND rejected_at IS NULL');
  const dataVersion = db.prepare('PRAGMA data_version');

  // node:sqlite is synchronous; the interface is a promise so a network store slots in (src/store/README.md).
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const transaction = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };
  const writePin = (p: Pin) => upsertPin.run(p.upstream, p.kind, p.key, p.hash, JSON.stringify(p.definition), p.approvedAt, p.approvedBy);
  const clearRef = (r: DefinitionRef) => clear.run(r.upstream, r.kind, r.key);

  return {
    pinsOf: (upstream) => run(() => (pinsOf.all(upstream) as unknown as PinRow[]).map(toPin)),
    pin: (pin) => run(() => void writePin(pin)),
    pinAll: (pins) => run(() => (pins.length === 0 ? undefined : transaction(() => void pins.forEach(writePin)))),
    addPending: (p) =>
      run(() => {
        const id = pendingId(p, p.hash, sha);
        insertPending.run(id, p.upstream, p.kind, p.key, p.hash, JSON.stringify(p.definition), p.reason, p.previousHash, p.firstSeen, JSON.stringify(p.findings));
        return toPending(onePending.get(id) as unknown as PendingRow);
      }),
    pending: (options = {}) =>
      run(() =>
        (allPending.all() as unknown as PendingRow[])
          .map(toPending)
          .filter((p) => (options.upstream === undefined || p.upstream === options.upstream) && (options.includeRejected || p.rejectedAt === null)),
      ),
    getPending: (id) =>
      run(() => {
        const row = onePending.get(id) as unknown as PendingRow | undefined;
        return row ? toPending(row) : null;
      }),
    clearPending: (ref) => run(() => void clearRef(ref)),
    approve: (id, by, now = Date.now()) =>
      run(() =>
        transaction(() => {
          const row = onePending.get(id) as unknown as PendingRow | undefined;
          if (!row) return null;
          const p = toPending(row);
          const pin: Pin = { upstream: p.upstream, kind: p.kind, key: p.key, hash: p.hash, definition: p.definition, approvedAt: now, approvedBy: by };
          writePin(pin);
          clearRef(p);
          return pin;
        }),
      ),
    reject: (id, by, now = Date.now()) =>
      run(() => {
        rejectRow.run(now, by, id);
        const row = onePending.get(id) as unknown as PendingRow | undefined;
        return row ? toPending(row) : null;
      }),
    changeStamp: () => run(() => (dataVersion.get() as { data_version: number }).data_version),
    close: () => run(() => db.close()),
  };
}
