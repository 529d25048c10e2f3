/**
 * The OAuth client side the credential providers share: finding an upstream's token endpoint (RFC 9728 protected
 * resource metadata, then RFC 8414 / OpenID authorization server metadata) and asking a token endpoint for a
 * token (RFC 6749 §4.4, RFC 8693). Off the hot path: runs only when a token is missing or due for refresh.
 */
import { GatehouseError } from '../../core/errors.ts';

/** Any one metadata or token request gives up after this long. */
const FETCH_TIMEOUT_MS = 10_000;
const MAX_DESCRIPTION = 200;

export interface TokenEndpoint {
  url: string;
  /** `token_endpoint_auth_methods_supported`, when the metadata says. */
  authMethods: readonly string[] | undefined;
  /** The protected resource's identifier from its metadata, when discovered that way. */
  resource: string | undefined;
}

export interface ClientAuth {
  clientId: string;
  clientSecret: string;
}

export interface IssuedToken {
  accessToken: string;
  /** Seconds, when the endpoint said. */
  expiresIn: number | undefined;
}

/** The `resource_metadata` URL of a `WWW-Authenticate: Bearer …` challenge (RFC 9728 §5.1), if any. */
export function resourceMetadataOf(challenge: string | undefined): string | undefined {
  if (challenge === undefined) return undefined;
  const m = /(?:^|[\s,])resource_metadata\s*=\s*(?:"([^"]*)"|([^\s,]+))/i.exec(challenge);
  return m === null ? undefined : (m[1] ?? m[2]);
}

/**
 * Find the token endpoint of the authorization server protecting `resourceUrl`: its protected-resource metadata
 * from `hint` (a 401's `resource_metadata`) or the well-known URI (path-inserted, then at the root), then the
 * first listed authorization server's metadata (RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended).
 */
export async function discoverTokenEndpoint(resourceUrl: URL, hint: string | undefined): Promise<TokenEndpoint> {
  const path = resourceUrl.pathname === '/' ? '' : resourceUrl.pathname.replace(/\/$/, '');
  const candidates = hint !== undefined ? [hint] : [...new Set([`${resourceUrl.origin}/.well-known/oauth-protected-resource${path}`, `${resourceUrl.origin}/.well-known/oauth-protected-resource`])];
  let prm: Record<string, unknown> | undefined;
  const tried: string[] = [];
  for (const url of candidates) {
    prm = await getJson(url, tried);
    if (prm !== undefined) break;
  }
  if (prm === undefined) throw new Error(`no protected-resource metadata (${tried.join('; ')})`);
  const resource = typeof prm.resource === 'string' ? prm.resource : undefined;
  // RFC 9728 §3.3: metadata describing another resource must not be used (it could send our secret elsewhere).
  if (resource !== undefined && !sameOrParent(resource, resourceUrl)) throw new Error(`the protected-resource metadata describes ${resource}, not ${resourceUrl.href}`);
  const servers = prm.authorization_servers;
  const issuer = Array.isArray(servers) && typeof servers[0] === 'string' ? servers[0] : undefined;
  if (issuer === undefined) throw new Error('the protected-resource metadata names no authorization server');
  const as = new URL(issuer);
  const asPath = as.pathname === '/' ? '' : as.pathname.replace(/\/$/, '');
  const asCandidates = asPath === ''
    ? [`${as.origin}/.well-known/oauth-authorization-server`, `${as.origin}/.well-known/openid-configuration`]
    : [`${as.origin}/.well-known/oauth-authorization-server${asPath}`, `${as.origin}/.well-known/openid-configuration${asPath}`, `${as.origin}${asPath}/.well-known/openid-configuration`];
  for (const url of asCandidates) {
    const meta = await getJson(url, tried);
    if (meta === undefined) continue;
    // RFC 8414 §3.3: the issuer in the metadata must be the one we asked about.
    if (meta.issuer !== issuer) throw new Error(`the authorization server metadata at ${url} names issuer ${String(meta.issuer)}, not ${issuer}`);
    if (typeof meta.token_endpoint !== 'string') throw new Error(`the authorization server metadata at ${url} has no token_endpoint`);
    const methods = meta.token_endpoint_auth_methods_supported;
    return { url: meta.token_endpoint, authMethods: Array.isArray(methods) ? methods.filter((m) => typeof m === 'string') : undefined, resource };
  }
  throw new Error(`no authorization server metadata for ${issuer} (${tried.join('; ')})`);
}

/**
 * POST a token request. The client authenticates with HTTP Basic (RFC 6749 §2.3.1) unless the server's metadata
 * lists only `client_secret_post`. Errors carry the OAuth `error` code and description, never a secret.
 */
export async function requestToken(upstream: string, endpoint: TokenEndpoint, client: ClientAuth, params: Record<string, string | undefined>): Promise<IssuedToken> {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) form.set(key, value);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const methods = endpoint.authMethods;
  if (methods !== undefined && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
    form.set('client_id', client.clientId);
    form.set('client_secret', client.clientSecret);
  } else {
    headers.authorization = `Basic ${Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`).toString('base64')}`;
  }
  let res: Response;
  try {
    res = await fetch(endpoint.url, { method: 'POST', headers, body: form.toString(), redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw credentialsError(upstream, `token endpoint ${endpoint.url} unreachable (${(err as Error).message})`);
  }
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {}
  if (!res.ok) {
    const code = typeof body.error === 'string' ? body.error : 'no OAuth error code';
    const description = typeof body.error_description === 'string' ? `: ${body.error_description.slice(0, MAX_DESCRIPTION)}` : '';
    throw credentialsError(upstream, `token endpoint answered HTTP ${res.status}, ${code}${description}`);
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') throw credentialsError(upstream, 'the token response has no access_token');
  // RFC 8693 §2.2.1: token_type N_A means the token is not an access token; only bearer tokens are presented.
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') throw credentialsError(upstream, `the token response has token_type ${String(body.token_type)}, not Bearer`);
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : undefined;
  return { accessToken: body.access_token, expiresIn };
}

export function credentialsError(upstream: string, cause: string): GatehouseError {
  return new GatehouseError('GH_ERR_UPSTREAM_CREDENTIALS', [upstream, cause], { upstream });
}

/** When a token issued now for `expiresIn` seconds should be refreshed (early) and when it stops being usable. */
export function tokenTimes(now: number, expiresIn: number | undefined): { refreshAt: number; expiresAt: number } {
  if (expiresIn === undefined) return { refreshAt: Infinity, expiresAt: Infinity };
  const lifetime = expiresIn * 1000;
  // Refresh a minute early, or at three quarters of a short lifetime; stop using it 5 s before it expires.
  return { refreshAt: now + lifetime - Math.min(60_000, lifetime / 4), expiresAt: now + lifetime - Math.min(5_000, lifetime / 10) };
}

async function getJson(url: string, tried: string[]): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) {
      await res.body?.cancel();
      tried.push(`${url}: HTTP ${res.status}`);
      return undefined;
    }
    const value: unknown = await res.json();
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    tried.push(`${url}: not a JSON object`);
  } catch (err) {
    tried.push(`${url}: ${(err as Error).message}`);
  }
  return undefined;
}

/** `resource` identifies `url` or a path above it (same origin). */
function sameOrParent(resource: string, url: URL): boolean {
  let r: URL;
  try {
    r = new URL(resource);
  } catch {
    return false;
  }
  if (r.origin !== url.origin) return false;
  const base = r.pathname.replace(/\/$/, '');
  return url.pathname === base || url.pathname.startsWith(`${base}/`) || base === '';
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}
