/**
 * API keys in the gateway's SQLite file (config `store.path`): durable, and shared between a running gateway and the
 * `gatehouse keys` CLI. node:sqlite is synchronous; each call is one indexed statement (microseconds).
 */
import type { DatabaseSync } from 'node:sqlite';
import { ApiKeyExistsError } from '../api-keys.ts';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../api-keys.ts';
import { migrate, openDatabase } from './database.ts';

/** Append only: migrations[i] takes the api-keys tables from version i to i + 1. */
const MIGRATIONS = [
  `CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    scopes_json TEXT NOT NULL,
    groups_json TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
  ) STRICT`,
];

interface Row {
  id: string;
  owner: string;
  name: string | null;
  scopes_json: string;
  groups_json: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    scopes: JSON.parse(row.scopes_json) as string[],
    groups: JSON.parse(row.groups_json) as string[],
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** Open the store in the SQLite file at `path` (created with its directory; ':memory:' for a throwaway one). */
export function openSqliteApiKeyStore(path: string): ApiKeyStore {
  const db: DatabaseSync = openDatabase(path);
  try {
    migrate(db, 'api-keys', MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  const insert = db.prepare(`INSERT INTO api_keys (id, owner, name, scopes_json, groups_json, secret_hash, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const byId = db.prepare('SELECT * FROM api_keys WHERE id = ?');
  const all = db.prepare('SELECT * FROM api_keys ORDER BY created_at, id');
  const revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');
  const get = (id: string): ApiKeyRecord | null => {
    const row = byId.get(id) as Row | undefined;
    return row ? toRecord(row) : null;
  };
  // Each method runs its statement synchronously and reports through the promise, so callers see one shape of failure.
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  return {
    create: (key: NewApiKey) => run(() => {
      try {
        insert.run(key.id, key.owner, key.name, JSON.stringify(key.scopes), JSON.stringify(key.groups), key.secretHash, key.createdAt, key.expiresAt);
      } catch (err) {
        // 1555 = SQLITE_CONSTRAINT_PRIMARYKEY
        if ((err as { errcode?: number }).errcode === 1555) throw new ApiKeyExistsError(key.id);
        throw err;
      }
      return get(key.id)!;
    }),
    get: (id) => run(() => get(id)),
    list: () => run(() => (all.all() as unknown as Row[]).map(toRecord)),
    revoke: (id, at) => run(() => {
      revoke.run(at, id);
      return get(id);
    }),
    touch: (id, at) => run(() => {
      touch.run(at, id, at);
    }),
    close: () => run(() => {
      if (db.isOpen) db.close();
    }),
  };
}
