/**
 * Secrets in definitions the admin API shows: upstream credentials (client secrets, passwords, tokens), header values
 * and environment variables are masked. A definition PUT back with the mask in place keeps the stored value, so an
 * admin can edit what they read without retyping secrets they never saw.
 */

export const MASK = '[redacted]';

/** Keys whose values are secrets wherever they appear. */
const SECRET_KEY = /secret|password|passphrase|token|apikey|api_key|privatekey|private_key|credential/i;
/** Maps whose every value may be a secret (an Authorization header, an API key in the environment). */
const SECRET_MAP = new Set(['headers', 'env']);

export function redactSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v));
  if (value === null || typeof value !== 'object') return typeof value === 'string' && SECRET_KEY.test(key) ? MASK : value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_MAP.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, MASK]));
    } else out[k] = redactSecrets(v, k);
  }
  return out;
}

/** `sent` with every MASK replaced by the value at the same place in `current` (or removed when there is none). */
export function restoreRedacted(sent: unknown, current: unknown): unknown {
  if (sent === MASK) return current;
  if (Array.isArray(sent)) return sent.map((v, i) => restoreRedacted(v, Array.isArray(current) ? current[i] : undefined));
  if (sent === null || typeof sent !== 'object') return sent;
  const base = current !== null && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sent)) {
    const restored = restoreRedacted(v, base[k]);
    if (restored !== undefined) out[k] = restored;
  }
  return out;
}
