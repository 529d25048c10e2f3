/**
 * The API-key store's contract: keys for services and CI, kept only as a hash of their secret. Implementations:
 * memory/api-keys.ts (tests, ad-hoc runs) and sqlite/api-keys.ts (durable, shared with the `gatehouse keys` CLI).
 * Times are milliseconds since the epoch.
 */

/** What `create` takes: everything but the fields that change after creation. */
export interface NewApiKey {
  /** 10 lowercase base32 characters; unique. */
  readonly id: string;
  readonly owner: string;
  readonly name: string | null;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  /** Hex SHA-256 of the secret part of the key. The secret itself is never stored. */
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

export interface ApiKeyRecord extends NewApiKey {
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface ApiKeyStore {
  /** Add a key; rejects with ApiKeyExistsError when the id is taken. */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  get(id: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked and expired ones included, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /** Mark a key revoked (an already revoked key keeps its first revocation time); null when there is no such key. */
  revoke(id: string, at: number): Promise<ApiKeyRecord | null>;
  /** Record a use; a time earlier than the stored one is ignored. */
  touch(id: string, at: number): Promise<void>;
  close(): Promise<void>;
}

/** `create` was given an id that already exists (the caller draws a new one). */
export class ApiKeyExistsError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`an API key with id ${id} already exists`);
    this.name = 'ApiKeyExistsError';
    this.id = id;
  }
}
