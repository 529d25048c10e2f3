/**
 * Pins and approvals in PostgreSQL (pinning.store: postgres): every replica pins against the same table, so a
 * definition approved on one is approved on all (the approving replica announces it over Redis; without Redis the
 * others notice within pinning.checkInterval through the change sequence).
 */
import { createHash } from 'node:crypto';
import type { DefinitionKind, DefinitionRef, Pending, PendingReason, Pin, PinStore } from '../pins.ts';
import { pendingId } from '../pins.ts';
import type { PostgresStore } from './database.ts';

interface PinRow {
  upstream: string;
  kind: string;
  key: string;
  hash: string;
  definition: unknown;
  approved_at: string;
  approved_by: string;
}

interface PendingRow {
  id: string;
  upstream: string;
  kind: string;
  key: string;
  hash: string;
  definition: unknown;
  reason: string;
  previous_hash: string | null;
  first_seen: string;
  rejected_at: string | null;
  rejected_by: string | null;
  findings: unknown[];
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const toPin = (r: PinRow): Pin => ({ upstream: r.upstream, kind: r.kind as DefinitionKind, key: r.key, hash: r.hash, definition: r.definition, approvedAt: Number(r.approved_at), approvedBy: r.approved_by });

const toPending = (r: PendingRow): Pending => ({
  id: r.id,
  upstream: r.upstream,
  kind: r.kind as DefinitionKind,
  key: r.key,
  hash: r.hash,
  definition: r.definition,
  reason: r.reason as PendingReason,
  previousHash: r.previous_hash,
  firstSeen: Number(r.first_seen),
  rejectedAt: r.rejected_at === null ? null : Number(r.rejected_at),
  rejectedBy: r.rejected_by,
  findings: r.findings,
});

export function createPostgresPinStore(db: PostgresStore): PinStore {
  const t = db.schema;
  const UPSERT_PIN = `INSERT INTO ${t}.pins (upstream, kind, key, hash, definition, approved_at, approved_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (upstream, kind, key) DO UPDATE SET hash = excluded.hash, definition = excluded.definition, approved_at = excluded.approved_at, approved_by = excluded.approved_by`;
  const pinValues = (p: Pin) => [p.upstream, p.kind, p.key, p.hash, JSON.stringify(p.definition), p.approvedAt, p.approvedBy];
  /** Every write moves the change sequence: what changeStamp reads. */
  const changed = `SELECT nextval('${t}.pins_changes')`;
  const inTransaction = async <T>(fn: (q: (sql: string, values?: unknown[]) => Promise<{ rows: unknown[] }>) => Promise<T>): Promise<T> => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn((sql, values) => client.query(sql, values));
      await client.query(changed);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  };
  const getPending = async (id: string): Promise<Pending | null> => {
    const res = await db.pool.query<PendingRow>(`SELECT * FROM ${t}.pins_pending WHERE id = $1`, [id]);
    return res.rows[0] === undefined ? null : toPending(res.rows[0]);
  };
  const clearSql = `DELETE FROM ${t}.pins_pending WHERE upstream = $1 AND kind = $2 AND key = $3`;
  const refValues = (r: DefinitionRef) => [r.upstream, r.kind, r.key];

  return {
    async pinsOf(upstream) {
      return (await db.pool.query<PinRow>(`SELECT * FROM ${t}.pins WHERE upstream = $1 ORDER BY kind, key`, [upstream])).rows.map(toPin);
    },
    async pin(pin) {
      await inTransaction((q) => q(UPSERT_PIN, pinValues(pin)));
    },
    async pinAll(pins) {
      if (pins.length === 0) return;
      await inTransaction(async (q) => {
        for (const p of pins) await q(UPSERT_PIN, pinValues(p));
      });
    },
    async addPending(p) {
      const id = pendingId(p, p.hash, sha);
      await inTransaction((q) => q(
        `INSERT INTO ${t}.pins_pending (id, upstream, kind, key, hash, definition, reason, previous_hash, first_seen, findings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
        [id, p.upstream, p.kind, p.key, p.hash, JSON.stringify(p.definition), p.reason, p.previousHash, p.firstSeen, JSON.stringify(p.findings)],
      ));
      return (await getPending(id))!;
    },
    async pending(options = {}) {
      const rows = (await db.pool.query<PendingRow>(`SELECT * FROM ${t}.pins_pending ORDER BY first_seen, id`)).rows.map(toPending);
      return rows.filter((p) => (options.upstream === undefined || p.upstream === options.upstream) && (options.includeRejected || p.rejectedAt === null));
    },
    getPending,
    async clearPending(ref) {
      await inTransaction((q) => q(clearSql, refValues(ref)));
    },
    async approve(id, by, now = Date.now()) {
      return inTransaction(async (q) => {
        const res = await q(`SELECT * FROM ${t}.pins_pending WHERE id = $1 FOR UPDATE`, [id]);
        const row = res.rows[0] as PendingRow | undefined;
        if (row === undefined) return null;
        const p = toPending(row);
        const pin: Pin = { upstream: p.upstream, kind: p.kind, key: p.key, hash: p.hash, definition: p.definition, approvedAt: now, approvedBy: by };
        await q(UPSERT_PIN, pinValues(pin));
        await q(clearSql, refValues(p));
        return pin;
      });
    },
    async reject(id, by, now = Date.now()) {
      await inTransaction((q) => q(`UPDATE ${t}.pins_pending SET rejected_at = $1, rejected_by = $2 WHERE id = $3 AND rejected_at IS NULL`, [now, by, id]));
      return getPending(id);
    },
    async changeStamp() {
      // last_value of a sequence: moves on every write by any replica, read without taking a value.
      const res = await db.pool.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${t}.pins_changes`);
      const row = res.rows[0];
      return row.is_called ? Number(row.last_value) : 0;
    },
    close() {
      return Promise.resolve(); // the pool belongs to the PostgresStore
    },
  };
}
