/**
 * Opening the gateway's SQLite file (config `store.path`) and migrating the tables of one component in it. Each
 * component (api-keys, vault, …) owns its tables and a row in `schema_version`, so they migrate independently.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Open (creating it and its directory) the SQLite file at `path`, in WAL mode so the CLI can write while a gateway reads. */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path);
  try {
    // A second process (gatehouse keys …) may hold the write lock for a moment: wait rather than fail.
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Bring `component`'s tables to the latest version: `migrations[i]` takes version i to i + 1. Append new migrations;
 * never edit a released one. Runs in one write transaction, so two processes starting together migrate once.
 */
export function migrate(db: DatabaseSync, component: string, migrations: readonly string[]): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const row = db.prepare('SELECT version FROM schema_version WHERE component = ?').get(component) as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > migrations.length) {
      throw new Error(`${component} tables are at schema version ${current}, newer than this gatehouse knows (${migrations.length}); upgrade gatehouse`);
    }
    for (let v = current; v < migrations.length; v++) db.exec(migrations[v]);
    if (current !== migrations.length) {
      db.prepare('INSERT INTO schema_version (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version')
        .run(component, migrations.length);
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
