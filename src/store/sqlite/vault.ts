/**
 * The credential vault in the gateway's SQLite file (config `store.path`, component `vault`): one row per
 * (principal, upstream), the token set sealed with AES-256-GCM (../vault.ts) under the configured key. Nothing of a
 * token is in clear on disk; the row's key id says which key sealed it, so a rotation can re-seal later.
 */
import type { DatabaseSync } from 'node:sqlite';
import { open, seal } from '../vault.ts';
import type { VaultEntry, VaultKey, VaultStore, VaultTokens } from '../vault.ts';
import { migrate, openDatabase } from './database.ts';

/** Append only: migrations[i] takes the vault tables from version i to i + 1. */
const MIGRATIONS = [
  `CREATE TABLE vault_tokens (
    principal TEXT NOT NULL,
    upstream TEXT NOT NULL,
    key_id TEXT NOT NULL,
    iv BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    tag BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (principal, upstream)
  ) STRICT`,
];

interface Row {
  principal: string;
  upstream: string;
  key_id: string;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  updated_at: number;
}

/** A sealed row names its owner in the AAD: a row copied onto another (principal, upstream) does not open. */
const aadOf = (principal: string, upstream: string): string => `gatehouse-vault\0${principal}\0${upstream}`;

/**
 * Open the vault in the SQLite file at `path` (':memory:' for a throwaway one), sealing with `key`. Without a key
 * (the admin CLI: list, revoke) rows can be listed and deleted but not read or written.
 */
export function openSqliteVaultStore(path: string, key: VaultKey | null, now: () => number = Date.now): VaultStore {
  const needKey = (): VaultKey => {
    if (key === null) throw new Error('the vault was opened without its key');
    return key;
  };
  const db: DatabaseSync = openDatabase(path);
  try {
    migrate(db, 'vault', MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  const upsert = db.prepare(`INSERT INTO vault_tokens (principal, upstream, key_id, iv, ciphertext, tag, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (principal, upstream) DO UPDATE SET key_id = excluded.key_id, iv = excluded.iv, ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at`);
  const one = db.prepare('SELECT * FROM vault_tokens WHERE principal = ? AND upstream = ?');
  const remove = db.prepare('DELETE FROM vault_tokens WHERE principal = ? AND upstream = ?');
  const all = db.prepare('SELECT principal, upstream, key_id, updated_at FROM vault_tokens ORDER BY principal, upstream');
  const byPrincipal = db.prepare('SELECT principal, upstream, key_id, updated_at FROM vault_tokens WHERE principal = ? ORDER BY upstream');
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  const entry = (r: Pick<Row, 'principal' | 'upstream' | 'key_id' | 'updated_at'>): VaultEntry => ({ principal: r.principal, upstream: r.upstream, keyId: r.key_id, updatedAt: r.updated_at });
  return {
    get: (principal, upstream) => run(() => {
      const row = one.get(principal, upstream) as Row | undefined;
      if (row === undefined) return null;
      // Another key sealed it (rotated away): unreadable, so as good as absent — the user authorizes again.
      const k = needKey();
      if (row.key_id !== k.id) return null;
      return JSON.parse(open(k, aadOf(principal, upstream), row)) as VaultTokens;
    }),
    put: (principal, upstream, tokens) => run(() => {
      const k = needKey();
      const s = seal(k, aadOf(principal, upstream), JSON.stringify(tokens));
      upsert.run(principal, upstream, k.id, s.iv, s.ciphertext, s.tag, now());
    }),
    delete: (principal, upstream) => run(() => Number(remove.run(principal, upstream).changes) > 0),
    list: (principal) => run(() => ((principal === undefined ? all.all() : byPrincipal.all(principal)) as unknown as Row[]).map(entry)),
    close: () => run(() => {
      if (db.isOpen) db.close();
    }),
  };
}
