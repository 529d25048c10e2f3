/**
 * OAuth 2.1 access-token validation for the resource server: a JWT is checked against the JWKS of the issuer its
 * `iss` names (discovered from the issuer's metadata, cached, refetched on an unknown `kid` at a bounded rate by
 * jose's remote key set); an opaque token goes to RFC 7662 introspection when an issuer has it configured.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../core/errors.ts';
import type { IssuerConfig } from './config.ts';
import type { Principal } from './principal.ts';

/** How long a failed discovery is remembered before the next request tries again (protects the IdP). */
const DISCOVERY_RETRY_MS = 5_000;
const FETCH_TIMEOUT_MS = 5_000;
/** Verified tokens are remembered this long at most (and never past `exp`), so a hot client costs a Map lookup. */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 1_000;

export interface OAuthVerifierOptions {
  /** Tolerance for exp/nbf, in milliseconds. */
  clockSkew: number;
  now?: () => number;
}

interface IssuerState {
  readonly config: IssuerConfig;
  keys: Promise<JWTVerifyGetKey> | null;
  failedAt: number;
}

interface Cached {
  readonly principal: Principal;
  readonly until: number;
}

/** Validates bearer tokens for one gateway (all its resource URIs) against the configured issuers. */
export class OAuthVerifier {
  private readonly issuers = new Map<string, IssuerState>();
  private readonly introspectors: IssuerState[] = [];
  private readonly clockSkew: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, Cached>();

  constructor(issuers: readonly IssuerConfig[], options: OAuthVerifierOptions) {
    for (const config of issuers) {
      const state: IssuerState = { config, keys: null, failedAt: 0 };
      this.issuers.set(config.issuer, state);
      if (config.introspection) this.introspectors.push(state);
    }
    this.clockSkew = options.clockSkew;
    this.now = options.now ?? Date.now;
  }

  /**
   * The principal a token speaks for, when it was issued for `resource` (RFC 8707) by a trusted issuer; otherwise a
   * GatehouseError: GH_ERR_AUTH_INVALID_TOKEN (401) or GH_ERR_AUTH_UNAVAILABLE (503, the IdP could not be reached).
   */
  async verify(token: string, resource: string): Promise<Principal> {
    const key = `${resource} ${token}`;
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit !== undefined) {
      if (hit.until > now) return hit.principal;
      this.cache.delete(key);
    }
    const { principal, exp } = isJws(token) ? await this.verifyJwt(token, resource) : await this.introspect(token, resource);
    this.remember(key, principal, exp === undefined ? now + CACHE_TTL_MS : Math.min(now + CACHE_TTL_MS, exp * 1000));
    return principal;
  }

  private remember(key: string, principal: Principal, until: number): void {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { principal, until });
  }

  private async verifyJwt(token: string, resource: string): Promise<{ principal: Principal; exp: number | undefined }> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw invalid('the token is not a well-formed JWT');
    }
    const state = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (!state) throw invalid('the token was not issued by a trusted authorization server');
    const keys = await this.keysOf(state);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: state.config.issuer,
        audience: state.config.audience ?? resource,
        algorithms: state.config.algorithms,
        clockTolerance: this.clockSkew / 1000,
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      throw mapJoseError(err, state.config.issuer);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalid('the token has no subject');
    return { principal: principalFromClaims(payload, state.config.issuer), exp: payload.exp };
  }

  /** The issuer's key set: discovered once (RFC 8414, then OpenID discovery), then jose refreshes it itself. */
  private keysOf(state: IssuerState): Promise<JWTVerifyGetKey> {
    if (state.keys !== null) return state.keys;
    if (this.now() - state.failedAt < DISCOVERY_RETRY_MS) return Promise.reject(new GatehouseError('GH_ERR_AUTH_UNAVAILABLE', [state.config.issuer]));
    const { config } = state;
    state.keys = (async () => {
      const uri = config.jwksUri ?? (await discoverJwksUri(config.issuer));
      return createRemoteJWKSet(new URL(uri), { cooldownDuration: config.jwksCooldown, timeoutDuration: FETCH_TIMEOUT_MS });
    })();
    state.keys.catch(() => {
      state.keys = null;
      state.failedAt = this.now();
    });
    return state.keys;
  }

  /** RFC 7662: ask each issuer with an introspection endpoint, in order, whether the token is active. */
  private async introspect(token: string, resource: string): Promise<{ principal: Principal; exp: number | undefined }> {
    if (this.introspectors.length === 0) throw invalid('the token is not a JWT and no introspection endpoint is configured');
    for (const state of this.introspectors) {
      const { url, clientId, clientSecret } = state.config.introspection!;
      let body: Record<string, unknown>;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            // RFC 6749 §2.3.1: client id and secret are form-encoded before the Basic encoding.
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = (await res.json()) as Record<string, unknown>;
      } catch {
        throw new GatehouseError('GH_ERR_AUTH_UNAVAILABLE', [state.config.issuer]);
      }
      if (body.active !== true) continue;
      const issuer = state.config.issuer;
      if (body.iss !== undefined && body.iss !== issuer) continue;
      const exp = typeof body.exp === 'number' ? body.exp : undefined;
      if (exp !== undefined && exp * 1000 + this.clockSkew < this.now()) throw invalid('the token has expired');
      const expected = state.config.audience ?? resource;
      if (body.aud !== undefined && !intersects(body.aud, expected)) throw invalid('the token was issued for another resource (audience mismatch)');
      // A client_credentials token may have no `sub`: the client is the subject then (RFC 7662 §2.2 `client_id`).
      const sub = nonEmpty(body.sub) ?? nonEmpty(body.client_id);
      if (sub === undefined) throw invalid('the token has no subject');
      return { principal: principalFromClaims({ ...body, sub }, issuer), exp };
    }
    throw invalid('the token is not active');
  }
}

/** `oauth:<iss>#<sub>`, scopes from `scope` (space-separated) or `scp`, groups from `groups` or `roles`. */
export function principalFromClaims(claims: Record<string, unknown>, issuer: string): Principal {
  const subject = String(claims.sub);
  return Object.freeze({
    id: `oauth:${issuer}#${subject}`,
    kind: 'oauth',
    subject,
    issuer,
    scopes: Object.freeze(listClaim(claims.scope ?? claims.scp)),
    groups: Object.freeze([...listClaim(claims.groups), ...listClaim(claims.roles)]),
    claims: Object.freeze({ ...claims }),
    apiKey: null,
  });
}

function listClaim(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  return [];
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function intersects(aud: unknown, expected: string | readonly string[]): boolean {
  const have = Array.isArray(aud) ? aud : [aud];
  const want = typeof expected === 'string' ? [expected] : expected;
  return have.some((a) => want.includes(a as string));
}

/** A compact JWS has three base64url parts; anything else is opaque. */
function isJws(token: string): boolean {
  const a = token.indexOf('.');
  if (a <= 0) return false;
  const b = token.indexOf('.', a + 1);
  return b > a && token.indexOf('.', b + 1) < 0;
}

function invalid(reason: string): GatehouseError {
  return new GatehouseError('GH_ERR_AUTH_INVALID_TOKEN', [reason]);
}

function mapJoseError(err: unknown, issuer: string): GatehouseError {
  if (err instanceof joseErrors.JWTExpired) return invalid('the token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return invalid('the token was issued for another resource (audience mismatch)');
    if (err.claim === 'nbf' || err.claim === 'iat') return invalid('the token is not valid yet');
    return invalid(`claim "${err.claim}" check failed`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('the signing algorithm is not allowed');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid('no key of the issuer matches the token (unknown kid)');
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return invalid('the token does not say which key signed it (kid)');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('signature verification failed');
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JOSENotSupported) return invalid('the token is malformed');
  // Timeouts, network errors, an unusable JWKS response: the IdP is the problem, not the token.
  return new GatehouseError('GH_ERR_AUTH_UNAVAILABLE', [issuer]);
}

/** The issuer's jwks_uri, from its metadata (see discoverMetadata). */
export async function discoverJwksUri(issuer: string): Promise<string> {
  const meta = await discoverMetadata(issuer, (m) => typeof m.jwks_uri === 'string');
  if (meta === null) throw new GatehouseError('GH_ERR_AUTH_UNAVAILABLE', [issuer]);
  return meta.jwks_uri as string;
}

/**
 * An authorization server's metadata: RFC 8414 §3.1 (path inserted after the well-known prefix), then OpenID Connect
 * Discovery (path appended). Only metadata naming this issuer (RFC 8414 §3.3) and passing `usable` is taken; null when
 * no location has any.
 */
export async function discoverMetadata(issuer: string, usable: (meta: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | null> {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/$/, '');
  const candidates = new Set([
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}/.well-known/openid-configuration${path}`,
    `${u.origin}${path}/.well-known/openid-configuration`,
  ]);
  for (const url of candidates) {
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) continue;
      const meta = (await res.json()) as Record<string, unknown>;
      // RFC 8414 §3.3: metadata naming another issuer must not be used.
      if (meta.issuer !== issuer || !usable(meta)) continue;
      return meta;
    } catch {
      // try the next location
    }
  }
  return null;
}
