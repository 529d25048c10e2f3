/**
 * The gateway's identity: with `auth.enabled`, an OAuth 2.1 resource server (MCP authorization spec 2025-06-18 /
 * 2025-11-25) that also takes API keys (a `gh_` bearer token or an `X-API-Key` header); otherwise everyone is
 * anonymous. Refusals carry the `WWW-Authenticate` challenge that points clients at the protected-resource metadata.
 */
import { bindSubjectToken } from './credentials/subject-token.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import type { AuthConfig } from './config.ts';
import { anonymousIdentity } from './identity.ts';
import type { ApiKeyVerifier, AuthTarget, Identity } from './identity.ts';
import { metadataTarget, metadataUrl, protectedResourceMetadata, resourceUri } from './metadata.ts';
import type { ResourceLocation } from './metadata.ts';
import { OAuthVerifier } from './oauth.ts';
import { ANONYMOUS } from './principal.ts';
import type { Principal } from './principal.ts';

export interface IdentityDeps {
  /** Verifies `gh_…` API keys (src/auth/api-keys.ts); without it API keys are refused. */
  readonly apiKeys?: ApiKeyVerifier;
  /**
   * The origin the gateway listens on (`http://127.0.0.1:8080`), read when needed because port 0 is only known
   * after listening; the resource URI's origin when `auth.publicUrl` is not set.
   */
  readonly listenOrigin?: () => string | undefined;
}

/** The identity for a config: anonymous unless `auth.enabled`. */
export function createIdentity(config: GatehouseConfig, deps: IdentityDeps = {}): Identity {
  if (!config.auth.enabled) return anonymousIdentity;
  return new ResourceServerIdentity(config, deps);
}

/** What one endpoint's challenges need, computed once per endpoint. */
interface Endpoint {
  readonly resource: string;
  readonly metadataUrl: string;
}

const API_KEY_PREFIX = 'gh_';
const TOKEN_IN_QUERY = /[?&]access_token=/;

class ResourceServerIdentity implements Identity {
  private readonly auth: AuthConfig;
  private readonly config: GatehouseConfig;
  private readonly deps: IdentityDeps;
  private readonly oauth: OAuthVerifier | null;
  private readonly required: readonly string[];
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(config: GatehouseConfig, deps: IdentityDeps) {
    this.config = config;
    this.auth = config.auth;
    this.deps = deps;
    this.oauth = this.auth.issuers.length === 0 ? null : new OAuthVerifier(this.auth.issuers, { clockSkew: this.auth.clockSkew });
    this.required = this.auth.scopes;
  }

  async authenticate(req: IncomingMessage, target: AuthTarget): Promise<Principal> {
    // MCP authorization spec: access tokens MUST NOT be sent in the URI query string (OAuth 2.1 §5.1.2 is stricter than RFC 6750 §2.3).
    if (req.url !== undefined && TOKEN_IN_QUERY.test(req.url)) throw new GatehouseError('GH_ERR_AUTH_TOKEN_IN_QUERY');
    const authorization = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    if (typeof apiKey === 'string' && apiKey !== '') return this.apiKey(apiKey, target);
    const token = authorization === undefined ? undefined : bearerToken(authorization);
    if (token === undefined) {
      if (authorization === undefined && this.auth.allowAnonymous) return ANONYMOUS;
      throw this.challenge(new GatehouseError('GH_ERR_AUTH_REQUIRED'), target.virtualServer, null);
    }
    if (token.startsWith(API_KEY_PREFIX)) return this.apiKey(token, target);
    if (this.oauth === null) throw this.challenge(new GatehouseError('GH_ERR_AUTH_INVALID_TOKEN', ['no authorization server is configured']), target.virtualServer, 'invalid_token');
    const endpoint = this.endpoint(target.virtualServer);
    let principal: Principal;
    try {
      principal = await this.oauth.verify(token, endpoint.resource);
      // Kept beside the principal (never on it) for upstreams configured for token exchange or passthrough.
      bindSubjectToken(principal, token);
    } catch (err) {
      if (GatehouseError.is(err) && err.code === 'GH_ERR_AUTH_INVALID_TOKEN') throw this.challenge(err, target.virtualServer, 'invalid_token');
      throw err;
    }
    for (const scope of this.required) {
      if (!principal.scopes.includes(scope)) {
        throw this.challenge(new GatehouseError('GH_ERR_AUTH_INSUFFICIENT_SCOPE', [this.required.join(' ')]), target.virtualServer, 'insufficient_scope');
      }
    }
    return principal;
  }

  route(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const location = this.location();
    const vs = metadataTarget(path, location);
    if (vs === undefined || (vs !== '' && !Object.hasOwn(this.config.virtualServers, vs))) return false;
    // Browser-based clients fetch the metadata cross-origin.
    const headers = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, headers).end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, OPTIONS' }).end();
      return true;
    }
    const body = JSON.stringify(protectedResourceMetadata(this.auth, this.endpoint(vs).resource));
    res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  credentialsRequired(target: AuthTarget): GatehouseError {
    return this.challenge(new GatehouseError('GH_ERR_AUTH_REQUIRED'), target.virtualServer, null);
  }

  private async apiKey(key: string, target: AuthTarget): Promise<Principal> {
    const principal = this.deps.apiKeys ? await this.deps.apiKeys.verify(key) : null;
    if (principal === null) throw this.challenge(new GatehouseError('GH_ERR_AUTH_INVALID_TOKEN', ['the API key is invalid, expired or revoked']), target.virtualServer, 'invalid_token');
    return principal;
  }

  /** RFC 6750 §3 / RFC 9728 §5.1: `Bearer resource_metadata="…", scope="…"[, error="…"]`. */
  private challenge(err: GatehouseError, virtualServer: string, error: 'invalid_token' | 'insufficient_scope' | null): GatehouseError {
    let value = `Bearer resource_metadata="${this.endpoint(virtualServer).metadataUrl}"`;
    if (this.required.length > 0) value += `, scope="${this.required.join(' ')}"`;
    if (error !== null) value += `, error="${error}"`;
    err.headers = { 'www-authenticate': value };
    return err;
  }

  private location(): ResourceLocation {
    const configured = this.auth.publicUrl ?? this.deps.listenOrigin?.() ?? `http://${this.config.server.host}:${this.config.server.port}`;
    return { publicUrl: configured.replace(/\/+$/, ''), path: this.config.server.path };
  }

  private endpoint(virtualServer: string): Endpoint {
    let e = this.endpoints.get(virtualServer);
    if (e === undefined) {
      const location = this.location();
      e = { resource: resourceUri(location, virtualServer), metadataUrl: metadataUrl(location, virtualServer) };
      // Before listening on port 0 the origin is not final: do not remember it.
      if (!location.publicUrl.endsWith(':0')) this.endpoints.set(virtualServer, e);
    }
    return e;
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
function bearerToken(header: string): string | undefined {
  if (header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}
