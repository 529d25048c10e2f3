/** Admin API changes in PostgreSQL: every replica lays the same changes over its config file. */
import type { AdminChange, AdminChangeStore, AdminKind } from '../admin-changes.ts';
import type { PostgresStore } from './database.ts';

export function createPostgresAdminChangeStore(db: PostgresStore): AdminChangeStore {
  return {
    async list() {
      const res = await db.pool.query<{ kind: AdminKind; name: string; definition: Record<string, unknown> | null; updated_by: string; updated_at: string }>(
        `SELECT kind, name, definition, updated_by, updated_at FROM ${db.schema}.admin_changes ORDER BY updated_at, kind, name`,
      );
      return res.rows.map((r): AdminChange => ({ kind: r.kind, name: r.name, definition: r.definition, updatedBy: r.updated_by, updatedAt: Number(r.updated_at) }));
    },
    async put(change) {
      await db.pool.query(
        `INSERT INTO ${db.schema}.admin_changes (kind, name, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, name) DO UPDATE SET definition = excluded.definition, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
        [change.kind, change.name, change.definition === null ? null : JSON.stringify(change.definition), change.updatedBy, change.updatedAt],
      );
    },
    async remove(kind, name) {
      await db.pool.query(`DELETE FROM ${db.schema}.admin_changes WHERE kind = $1 AND name = $2`, [kind, name]);
    },
    close() {
      return Promise.resolve(); // the pool belongs to the PostgresStore
    },
  };
}
