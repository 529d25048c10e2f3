/**
 * The audit log in PostgreSQL: every replica appends to one table. Appends arriving together share one multi-row
 * INSERT (group commit); a call's record is acknowledged once its transaction committed, so a killed gateway loses no
 * acknowledged record. Queries use the time, principal and target indexes.
 */
import type { AuditQuery, AuditRecord, AuditStore } from '../audit.ts';
import type { PostgresStore } from './database.ts';

interface Waiting {
  record: AuditRecord;
  resolve(): void;
  reject(err: Error): void;
}

/** Rows per INSERT at most (PostgreSQL's limit is 65535 parameters; 7 per row). */
const MAX_BATCH = 1_000;

export function createPostgresAuditStore(db: PostgresStore): AuditStore {
  const queue: Waiting[] = [];
  let writing: Promise<void> | null = null;
  let closed = false;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      const values: unknown[] = [];
      const rows = batch.map((w, i) => {
        const r = w.record;
        values.push(r.id, r.time, r.principal, r.virtualServer, r.upstream, r.method, r.target, r.outcome, JSON.stringify(r));
        const b = i * 9;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
      });
      try {
        await db.pool.query(`INSERT INTO ${db.schema}.audit_records (id, time, principal, virtual_server, upstream, method, target, outcome, record) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`, values);
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
      }
    }
  }

  function schedule(): void {
    if (writing !== null) return;
    writing = flush().finally(() => {
      writing = null;
      if (queue.length > 0) schedule();
    });
  }

  return {
    append(record) {
      if (closed) return Promise.reject(new Error('the audit store is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ record, resolve, reject });
        schedule();
      });
    },
    async query(q: AuditQuery) {
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        values.push(v);
        where.push(sql.replace('?', `$${values.length}`));
      };
      if (q.since !== undefined) add('time >= ?', new Date(q.since).toISOString());
      if (q.until !== undefined) add('time <= ?', new Date(q.until).toISOString());
      if (q.principal !== undefined) add('principal = ?', q.principal);
      if (q.tool !== undefined) add('target = ?', q.tool);
      if (q.upstream !== undefined) add('upstream = ?', q.upstream);
      if (q.outcome !== undefined) add('outcome = ?', q.outcome);
      const limit = q.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(q.limit))}`;
      // The most recent `limit`, returned oldest first.
      const sql = `SELECT record FROM (SELECT record, seq FROM ${db.schema}.audit_records${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC${limit}) r ORDER BY seq`;
      const res = await db.pool.query<{ record: AuditRecord }>(sql, values);
      return res.rows.map((r) => r.record);
    },
    async close() {
      closed = true;
      while (writing !== null) await writing;
    },
  };
}
