/**
 * The per-user credential vault (issue 3 item 3): per (principal, upstream), the OAuth token set the gateway obtained
 * for that user at that upstream. Implementations keep it encrypted at rest (sqlite/vault.ts: AES-256-GCM).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** What the gateway keeps for one user at one upstream. */
export interface VaultTokens {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  scope?: string;
  /** Milliseconds since the epoch; absent when the server gave no lifetime. */
  expires_at?: number;
}

export interface VaultEntry {
  principal: string;
  upstream: string;
  /** The id of the key the row is encrypted with (for key rotation). */
  keyId: string;
  updatedAt: number;
}

export interface VaultStore {
  get(principal: string, upstream: string): Promise<VaultTokens | null>;
  put(principal: string, upstream: string, tokens: VaultTokens): Promise<void>;
  /** True when a row was removed. */
  delete(principal: string, upstream: string): Promise<boolean>;
  /** Rows (never their tokens), optionally of one principal. */
  list(principal?: string): Promise<VaultEntry[]>;
  close(): Promise<void>;
}

/** The vault's data key: 32 bytes, and a short id derived from it (stored with each row). */
export interface VaultKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Parse the configured key (32 bytes, base64 or base64url); throws with a message that says what is expected. */
export function parseVaultKey(encoded: string): VaultKey {
  const key = Buffer.from(encoded.trim(), 'base64');
  if (key.length !== 32) throw new Error(`the vault key must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`); this one decodes to ${key.length} bytes`);
  return { key, id: createHash('sha256').update(key).digest('hex').slice(0, 8) };
}

/** One sealed value: AES-256-GCM with a random 12-byte IV per write; `aad` binds it to its row. */
export interface Sealed {
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

export function seal(key: VaultKey, aad: string, plaintext: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

export function open(key: VaultKey, aad: string, sealed: Sealed): string {
  const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
}
