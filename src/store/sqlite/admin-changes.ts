/** Admin API changes in the gateway's SQLite file (component `admin`): one row per kind and name. */
import type { DatabaseSync } from 'node:sqlite';
import type { AdminChange, AdminChangeStore, AdminKind } from '../admin-changes.ts';
import { migrate, openDatabase } from './database.ts';

/** Append only: migrations[i] takes the admin tables from version i to i + 1. */
const MIGRATIONS = [
  `CREATE TABLE admin_changes (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    definition_json TEXT,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
  ) STRICT`,
];

interface Row {
  kind: AdminKind;
  name: string;
  definition_json: string | null;
  updated_by: string;
  updated_at: number;
}

export function openSqliteAdminChangeStore(path: string): AdminChangeStore {
  const db: DatabaseSync = openDatabase(path);
  try {
    migrate(db, 'admin', MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  const all = db.prepare('SELECT kind, name, definition_json, updated_by, updated_at FROM admin_changes ORDER BY updated_at, rowid');
  const upsert = db.prepare(`INSERT INTO admin_changes (kind, name, definition_json, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (kind, name) DO UPDATE SET definition_json = excluded.definition_json, updated_by = excluded.updated_by, updated_at = excluded.updated_at`);
  const del = db.prepare('DELETE FROM admin_changes WHERE kind = ? AND name = ?');
  return {
    list() {
      return Promise.resolve((all.all() as unknown as Row[]).map((r) => ({
        kind: r.kind,
        name: r.name,
        definition: r.definition_json === null ? null : JSON.parse(r.definition_json) as Record<string, unknown>,
        updatedBy: r.updated_by,
        updatedAt: r.updated_at,
      })));
    },
    put(change: AdminChange) {
      upsert.run(change.kind, change.name, change.definition === null ? null : JSON.stringify(change.definition), change.updatedBy, change.updatedAt);
      return Promise.resolve();
    },
    remove(kind: AdminKind, name: string) {
      del.run(kind, name);
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}
