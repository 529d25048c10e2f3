/**
 * The user's credential for this tab: an IdP access token from "Sign in with …" (authorization code + PKCE S256,
 * RFC 7636, run in the browser) or a pasted API key, kept in sessionStorage so it dies with the tab. The gateway
 * checks the token's audience, so the request names the MCP endpoint as its resource (RFC 8707).
 */

export type Credential = { token: string; method: 'oauth' | 'key'; expiresAt?: number };

export interface LoginConfig {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  scopes: string[];
}

const CREDENTIAL = 'gatehouse.credential';
const PENDING = 'gatehouse.login';

/** The storage used: sessionStorage in the browser; tests hand in their own. */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function loadCredential(store: KeyValue, now = Date.now()): Credential | null {
  try {
    const c = JSON.parse(store.getItem(CREDENTIAL) ?? 'null') as Credential | null;
    if (c === null || typeof c.token !== 'string' || c.token === '') return null;
    if (c.expiresAt !== undefined && c.expiresAt <= now) {
      store.removeItem(CREDENTIAL);
      return null;
    }
    return c;
  } catch {
    return null;
  }
}

export function saveCredential(store: KeyValue, c: Credential | null): void {
  if (c === null) store.removeItem(CREDENTIAL);
  else store.setItem(CREDENTIAL, JSON.stringify(c));
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export async function challengeOf(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

interface Pending {
  state: string;
  verifier: string;
  redirectUri: string;
  resource: string;
  tokenEndpoint: string;
  clientId: string;
  /** Where to go back to after signing in (a path inside the portal). */
  returnTo: string;
}

/** The authorization request's URL; what the callback needs is kept in `store`. */
export async function startLogin(store: KeyValue, login: LoginConfig, opts: { redirectUri: string; resource: string; returnTo: string }): Promise<URL> {
  const verifier = random(48);
  const state = random(16);
  const pending: Pending = { state, verifier, redirectUri: opts.redirectUri, resource: opts.resource, tokenEndpoint: login.tokenEndpoint, clientId: login.clientId, returnTo: opts.returnTo };
  store.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(login.authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', login.clientId);
  url.searchParams.set('redirect_uri', opts.redirectUri);
  url.searchParams.set('scope', login.scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', await challengeOf(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('resource', opts.resource);
  return url;
}

/** The callback: check `state`, trade the code for a token at the token endpoint; where to go next. */
export async function finishLogin(store: KeyValue, query: URLSearchParams, fetcher: typeof fetch = (...a) => fetch(...a)): Promise<{ credential: Credential; returnTo: string }> {
  const pending = JSON.parse(store.getItem(PENDING) ?? 'null') as Pending | null;
  store.removeItem(PENDING);
  const error = query.get('error');
  if (error !== null) throw new Error(`The identity provider refused: ${query.get('error_description') ?? error}`);
  if (pending === null) throw new Error('No sign-in was started in this tab; start again.');
  if (query.get('state') !== pending.state) throw new Error('The answer does not belong to the sign-in this tab started (state mismatch); start again.');
  const code = query.get('code');
  if (code === null) throw new Error('The identity provider sent no code.');
  const res = await fetcher(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, client_id: pending.clientId, code_verifier: pending.verifier, resource: pending.resource }).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || typeof body.access_token !== 'string') throw new Error(`The token request failed: ${body.error_description ?? body.error ?? `HTTP ${res.status}`}`);
  const credential: Credential = { token: body.access_token, method: 'oauth', ...(typeof body.expires_in === 'number' && { expiresAt: Date.now() + body.expires_in * 1000 }) };
  return { credential, returnTo: pending.returnTo };
}
