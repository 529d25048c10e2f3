/**
 * API keys for services and CI: the key format (`gh_<id>_<secret>`), issuing a key into a store, and the verifier
 * that turns a presented key into a Principal. Only a SHA-256 of the secret is stored: the secret is 32 random bytes,
 * so a fast hash is enough (no password-style stretching needed), and it is compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyVerifier } from './identity.ts';
import type { Principal } from './principal.ts';
import { ApiKeyExistsError } from '../store/api-keys.ts';
import type { ApiKeyRecord, ApiKeyStore } from '../store/api-keys.ts';

export const API_KEY_PREFIX = 'gh_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_LENGTH = 10;
/** 32 bytes in unpadded base64url. */
const SECRET_LENGTH = 43;
const KEY_PATTERN = /^gh_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/;

/** True when `token` is shaped like a Gatehouse API key (and so is not an OAuth access token). */
export function isApiKeyToken(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** Split a key into its id and secret; null when it is not a well-formed key. */
export function parseApiKey(token: string): { id: string; secret: string } | null {
  if (token.length !== API_KEY_PREFIX.length + ID_LENGTH + 1 + SECRET_LENGTH) return null;
  const m = KEY_PATTERN.exec(token);
  return m ? { id: m[1], secret: m[2] } : null;
}

/** Hex SHA-256 of a key's secret: what the store keeps. */
export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function newId(): string {
  // 256 is a multiple of 32, so masking each byte keeps the characters uniform.
  let id = '';
  for (const b of randomBytes(ID_LENGTH)) id += ID_ALPHABET[b & 31];
  return id;
}

export interface IssueApiKeyOptions {
  owner: string;
  name?: string | null;
  scopes?: readonly string[];
  groups?: readonly string[];
  /** Epoch ms after which the key no longer works; null or absent = never expires. */
  expiresAt?: number | null;
  now?: number;
}

/** Create a key in `store`. `token` is the only time the full key exists: show it once, never log or store it. */
export async function issueApiKey(store: ApiKeyStore, options: IssueApiKeyOptions): Promise<{ token: string; record: ApiKeyRecord }> {
  if (!options.owner) throw new Error('an API key needs an owner');
  for (let attempt = 0; ; attempt++) {
    const id = newId();
    const secret = randomBytes(32).toString('base64url');
    try {
      const record = await store.create({
        id,
        owner: options.owner,
        name: options.name ?? null,
        scopes: [...new Set(options.scopes ?? [])],
        groups: [...new Set(options.groups ?? [])],
        secretHash: hashApiKeySecret(secret),
        createdAt: options.now ?? Date.now(),
        expiresAt: options.expiresAt ?? null,
      });
      return { token: `${API_KEY_PREFIX}${id}_${secret}`, record };
    } catch (err) {
      // 50-bit ids collide only by extraordinary luck; draw again a few times before giving up.
      if (!(err instanceof ApiKeyExistsError) || attempt >= 4) throw err;
    }
  }
}

/** Default for `cacheTtlMs`: a revocation takes effect in a running gateway within this many ms. */
export const API_KEY_CACHE_TTL_MS = 5_000;

export interface ApiKeyVerifierOptions {
  /**
   * How long a key found in the store is trusted from memory, in ms (default 5000). This bounds how late a
   * revocation made elsewhere (the CLI, another replica) takes effect. Unknown ids are never cached.
   */
  cacheTtlMs?: number;
  /** Cached keys kept at most (default 10,000); the oldest is dropped first. */
  maxCacheEntries?: number;
  /** A key's last-used time is written at most once per this many ms (default 60,000). */
  touchIntervalMs?: number;
  now?: () => number;
  /** Store failures (lookups answer null, touches are dropped); default: ignored. */
  onError?: (err: unknown) => void;
}

interface Entry {
  readonly hash: Buffer;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly principal: Principal;
  readonly until: number;
  lastTouch: number;
}

function toPrincipal(r: ApiKeyRecord): Principal {
  return Object.freeze({
    id: `key:${r.id}`,
    kind: 'api-key',
    subject: r.owner,
    issuer: null,
    scopes: Object.freeze([...r.scopes]),
    groups: Object.freeze([...r.groups]),
    claims: Object.freeze({ owner: r.owner, name: r.name }),
    apiKey: Object.freeze({ id: r.id, owner: r.owner }),
  });
}

/**
 * Verify presented keys against `store`. A hit costs a regex, one SHA-256 and a map lookup; the store is read at most
 * once per key per `cacheTtlMs` (concurrent misses share one read), and last-used times are written after the reply,
 * at most once per `touchIntervalMs`.
 */
export function createApiKeyVerifier(store: ApiKeyStore, options: ApiKeyVerifierOptions = {}): ApiKeyVerifier {
  const ttl = options.cacheTtlMs ?? API_KEY_CACHE_TTL_MS;
  const maxEntries = options.maxCacheEntries ?? 10_000;
  const touchInterval = options.touchIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => {});
  const cache = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry | null>>();

  async function load(id: string, at: number): Promise<Entry | null> {
    let record: ApiKeyRecord | null;
    try {
      record = await store.get(id);
    } catch (err) {
      onError(err);
      return null;
    }
    const previous = cache.get(id);
    cache.delete(id);
    if (!record) return null;
    const entry: Entry = {
      hash: Buffer.from(record.secretHash, 'hex'),
      expiresAt: record.expiresAt,
      revokedAt: record.revokedAt,
      principal: toPrincipal(record),
      until: at + ttl,
      lastTouch: Math.max(record.lastUsedAt ?? -Infinity, previous?.lastTouch ?? -Infinity),
    };
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(id, entry);
    return entry;
  }

  function lookup(id: string, at: number): Entry | null | Promise<Entry | null> {
    const hit = cache.get(id);
    if (hit && hit.until > at) return hit;
    let pending = loading.get(id);
    if (!pending) {
      pending = load(id, at).finally(() => loading.delete(id));
      loading.set(id, pending);
    }
    return pending;
  }

  function touch(id: string, entry: Entry, at: number): void {
    if (at - entry.lastTouch < touchInterval) return;
    entry.lastTouch = at;
    // Off the hot path: the write happens after this request's work, and its failure only loses a timestamp.
    setImmediate(() => store.touch(id, at).catch(onError));
  }

  return {
    async verify(token: string): Promise<Principal | null> {
      const parsed = typeof token === 'string' ? parseApiKey(token) : null;
      if (!parsed) return null;
      const at = now();
      const found = lookup(parsed.id, at);
      const entry = found instanceof Promise ? await found : found;
      if (!entry) return null;
      const presented = createHash('sha256').update(parsed.secret).digest();
      if (presented.length !== entry.hash.length || !timingSafeEqual(presented, entry.hash)) return null;
      if (entry.revokedAt !== null && entry.revokedAt <= at) return null;
      if (entry.expiresAt !== null && entry.expiresAt <= at) return null;
      touch(parsed.id, entry, at);
      return entry.principal;
    },
  };
}
