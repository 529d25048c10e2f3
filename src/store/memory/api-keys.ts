/**
 * API keys in process memory: for tests and for gateways that take keys from nowhere durable. Lost on exit.
 */
import { ApiKeyExistsError } from '../api-keys.ts';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../api-keys.ts';

export function createMemoryApiKeyStore(): ApiKeyStore {
  const keys = new Map<string, ApiKeyRecord>();
  const copy = (r: ApiKeyRecord): ApiKeyRecord => ({ ...r, scopes: [...r.scopes], groups: [...r.groups] });
  return {
    create(key: NewApiKey) {
      if (keys.has(key.id)) return Promise.reject(new ApiKeyExistsError(key.id));
      const record: ApiKeyRecord = { ...key, scopes: [...key.scopes], groups: [...key.groups], revokedAt: null, lastUsedAt: null };
      keys.set(key.id, record);
      return Promise.resolve(copy(record));
    },
    get(id) {
      const r = keys.get(id);
      return Promise.resolve(r ? copy(r) : null);
    },
    list() {
      return Promise.resolve([...keys.values()].sort((a, b) => a.createdAt - b.createdAt).map(copy));
    },
    revoke(id, at) {
      const r = keys.get(id);
      if (!r) return Promise.resolve(null);
      const next = r.revokedAt === null ? { ...r, revokedAt: at } : r;
      keys.set(id, next);
      return Promise.resolve(copy(next));
    },
    touch(id, at) {
      const r = keys.get(id);
      if (r && (r.lastUsedAt === null || r.lastUsedAt < at)) keys.set(id, { ...r, lastUsedAt: at });
      return Promise.resolve();
    },
    close() {
      return Promise.resolve();
    },
  };
}
