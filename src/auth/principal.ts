/**
 * Who a request speaks for. The identity stage turns a request into a Principal (from an OAuth access token, an
 * API key, or nobody); sessions are bound to it, policy and rate limits key on it, per-user upstream processes and
 * credentials are chosen by its `id`. A principal never carries the client's token.
 */

export interface Principal {
  /** Stable key: `anonymous`, `oauth:<issuer>#<subject>` or `key:<key id>`. */
  readonly id: string;
  readonly kind: 'anonymous' | 'oauth' | 'api-key';
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  /** Every claim of a validated token (or the key's attributes), for policy rules. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly apiKey: { readonly id: string; readonly owner: string } | null;
}

export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  kind: 'anonymous',
  subject: null,
  issuer: null,
  scopes: [],
  groups: [],
  claims: {},
  apiKey: null,
});
