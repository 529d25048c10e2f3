/**
 * Sealed session ids: the `Mcp-Session-Id` carries, encrypted and authenticated (AES-256-GCM), what any replica
 * needs to serve the session — the principal it is bound to, the virtual server, the protocol revision, the client's
 * info and capabilities, when it was issued. A replica that does not hold the session opens the id and serves it;
 * upstream sessions it lacks are opened on first use. No shared store, no key derivation per request: keys are
 * imported once, a seal or open is one AEAD operation (microseconds).
 *
 * Format: `g1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>` — visible ASCII only, as the transport spec requires,
 * bounded in size. The key id and the format version are also the AEAD's additional data, so neither can be swapped.
 * Rotation: the first key seals, every listed key opens; drop a key once `maxAge` has passed since it stopped sealing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ClientInfo } from './session.ts';

export interface SessionKey {
  /** Short, visible; names the key in every id it sealed. */
  readonly id: string;
  /** 32 bytes. */
  readonly secret: Buffer;
}

export interface SealedState {
  /** Random, unique per session (the session's identity; two sessions never share a token). */
  nonce: string;
  principal: string;
  virtualServer: string;
  revision: string;
  clientInfo: ClientInfo;
  clientCapabilities: Record<string, unknown>;
  /** Seconds since the epoch. */
  issuedAt: number;
}

const PREFIX = 'g1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Ids longer than this are not ours (and are refused before any work). */
export const MAX_SESSION_ID_LENGTH = 4096;
/** Client info and capabilities beyond this many bytes of JSON are cut to their top-level keys. */
const MAX_CLIENT_BYTES = 2048;

export class SessionSealer {
  private readonly keys: readonly SessionKey[];
  private readonly byId: ReadonlyMap<string, SessionKey>;
  private readonly maxAgeSeconds: number;

  /** `keys[0]` seals; all of them open. `maxAgeMs` bounds how long an id is accepted after it was issued. */
  constructor(keys: readonly SessionKey[], maxAgeMs: number) {
    if (keys.length === 0) throw new Error('sessions need at least one sealing key');
    for (const k of keys) {
      if (k.secret.length !== 32) throw new Error(`session key ${k.id}: the secret must be 32 bytes, got ${k.secret.length}`);
      if (!/^[A-Za-z0-9_-]{1,16}$/.test(k.id)) throw new Error(`session key id "${k.id}": 1-16 letters, digits, "_" or "-"`);
    }
    this.keys = keys;
    this.byId = new Map(keys.map((k) => [k.id, k]));
    this.maxAgeSeconds = maxAgeMs / 1000;
  }

  /** A sealer with a key of its own: ids open only in this process (no replicas configured). */
  static ephemeral(maxAgeMs: number): SessionSealer {
    return new SessionSealer([{ id: 'local', secret: randomBytes(32) }], maxAgeMs);
  }

  seal(state: Omit<SealedState, 'nonce' | 'issuedAt'>, now = Date.now()): string {
    const key = this.keys[0];
    const payload: SealedState = { nonce: randomBytes(12).toString('base64url'), issuedAt: Math.floor(now / 1000), ...bounded(state) };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.secret, iv);
    cipher.setAAD(Buffer.from(`${PREFIX}.${key.id}`));
    const body = Buffer.concat([iv, cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}.${key.id}.${body.toString('base64url')}`;
  }

  /** The state sealed in `token`, or null when it is not ours, was tampered with, or has expired. */
  open(token: string, now = Date.now()): SealedState | null {
    if (token.length > MAX_SESSION_ID_LENGTH) return null;
    const first = token.indexOf('.');
    const second = token.indexOf('.', first + 1);
    if (first < 0 || second < 0 || token.slice(0, first) !== PREFIX) return null;
    const key = this.byId.get(token.slice(first + 1, second));
    if (key === undefined) return null;
    const body = Buffer.from(token.slice(second + 1), 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES + 2) return null;
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.secret, body.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${PREFIX}.${key.id}`));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      plain = decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES), undefined, 'utf8') + decipher.final('utf8');
    } catch {
      return null; // forged or tampered
    }
    let state: SealedState;
    try {
      state = JSON.parse(plain) as SealedState;
    } catch {
      return null;
    }
    const age = now / 1000 - state.issuedAt;
    if (!(age >= -60 && age <= this.maxAgeSeconds)) return null;
    return state;
  }
}

/** Keep the sealed client info and capabilities small: oversized ones keep only their top-level keys. */
function bounded(state: Omit<SealedState, 'nonce' | 'issuedAt'>): Omit<SealedState, 'nonce' | 'issuedAt'> {
  let { clientInfo, clientCapabilities } = state;
  if (JSON.stringify(clientInfo).length > MAX_CLIENT_BYTES / 2) clientInfo = { name: String(clientInfo.name).slice(0, 100), version: String(clientInfo.version).slice(0, 50) };
  if (JSON.stringify(clientCapabilities).length > MAX_CLIENT_BYTES) clientCapabilities = Object.fromEntries(Object.keys(clientCapabilities).slice(0, 32).map((k) => [k.slice(0, 64), {}]));
  return { ...state, clientInfo, clientCapabilities };
}
