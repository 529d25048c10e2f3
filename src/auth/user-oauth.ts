/**
 * `auth: { type: oauth, approval: user }`: each user authorizes the gateway at the upstream once (authorization
 * code + PKCE, issue 3 item 3). A call for a user with no token answers -32042 (URL elicitation required, MCP
 * 2025-11-25) carrying the authorization link; the authorization server redirects the user's browser to
 * `<publicUrl>/oauth/callback`, where the gateway redeems the code and seals the tokens in the vault
 * (src/store/vault.ts). Later calls carry that user's token, refreshed before expiry; a user revokes with
 * `DELETE /oauth/tokens/<upstream>`. The protocol work is the official SDK's (discovery, startAuthorization,
 * exchangeAuthorization, refreshAuthorization).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthorizationServerMetadata, FetchLike, OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { VaultStore, VaultTokens } from '../store/vault.ts';
import type { CredentialProvider, HeaderList } from './credentials/types.ts';
import { NO_HEADERS } from './credentials/types.ts';
import { ANONYMOUS } from './principal.ts';
import type { Principal } from './principal.ts';
import type { UpstreamOAuthConfig } from './upstream-oauth.ts';

export const CALLBACK_PATH = '/oauth/callback';
export const TOKENS_PATH = '/oauth/tokens/';
export const AUTHORIZE_PATH = '/oauth/authorize/';

/** Refresh this long before the access token expires (or at 3/4 of a shorter lifetime). */
const REFRESH_MARGIN_MS = 60_000;
/** An authorization link is good for this long (the `state` handle is forgotten after). */
const STATE_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

export interface UserOAuthOptions {
  vault: VaultStore;
  /** The gateway's public origin, e.g. https://mcp.example.com (the redirect URI is `<origin>/oauth/callback`). */
  publicOrigin: () => string;
  fetch?: FetchLike;
  logger?: Logger;
  now?: () => number;
}

interface Pending {
  principal: string;
  upstream: string;
  verifier: string;
  redirectUrl: string;
  expires: number;
}

interface Cached {
  tokens: VaultTokens;
  list: HeaderList;
  /** Refused by the upstream (401): refresh or ask again on next use. */
  stale: boolean;
}

type Sdk = typeof import('@modelcontextprotocol/client');
let sdk: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdk ??= import('@modelcontextprotocol/client'));

/** The gateway's side of every `approval: user` upstream: pending authorizations, the callback, revocation. */
export class UserOAuth {
  readonly vault: VaultStore;
  private readonly options: UserOAuthOptions;
  private readonly providers = new Map<string, UserOAuthProvider>();
  private readonly pending = new Map<string, Pending>();

  constructor(options: UserOAuthOptions) {
    this.options = options;
    this.vault = options.vault;
  }

  get now(): () => number {
    return this.options.now ?? Date.now;
  }

  /** The gateway's public origin, without a trailing slash. */
  publicOrigin(): string {
    return this.options.publicOrigin().replace(/\/$/, '');
  }

  /** The PKCE verifier of a pending authorization, known once the link is built. */
  setVerifier(state: string, verifier: string): void {
    const entry = this.pending.get(state);
    if (entry !== undefined) entry.verifier = verifier;
  }

  /** The credential provider of `upstream`: one per upstream, shared by its connections (one token cache). */
  provider(upstream: string, serverUrl: string, config: UpstreamOAuthConfig): UserOAuthProvider {
    let p = this.providers.get(upstream);
    if (p === undefined || p.serverUrl !== serverUrl || p.config !== config) {
      p = new UserOAuthProvider(this, upstream, serverUrl, config, this.options);
      this.providers.set(upstream, p);
    }
    return p;
  }

  /** Remember an authorization in progress; returns the `state` handle. */
  begin(entry: Omit<Pending, 'expires'>): string {
    const now = this.now();
    if (this.pending.size >= MAX_PENDING) {
      for (const [k, v] of this.pending) if (v.expires <= now) this.pending.delete(k);
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    }
    const state = randomBytes(24).toString('base64url');
    this.pending.set(state, { ...entry, expires: now + STATE_TTL_MS });
    return state;
  }

  /** Redeem the code of a callback; resolves with the upstream it authorized. */
  async complete(state: string, code: string, iss: string | undefined): Promise<{ upstream: string; principal: string }> {
    const entry = this.pending.get(state);
    this.pending.delete(state);
    if (entry === undefined || entry.expires <= this.now()) throw new Error('this authorization link is unknown or expired; call the tool again for a new one');
    const provider = this.providers.get(entry.upstream);
    if (provider === undefined) throw new Error(`upstream ${entry.upstream} is no longer configured`);
    await provider.redeem(entry, code, iss);
    return { upstream: entry.upstream, principal: entry.principal };
  }

  /** Forget a user's tokens at an upstream (row and cache). */
  async revoke(principal: string, upstream: string): Promise<boolean> {
    this.providers.get(upstream)?.forget(principal);
    return this.vault.delete(principal, upstream);
  }

  /**
   * `GET /oauth/callback?code&state[&iss]` (the browser, back from the authorization server),
   * `GET /oauth/authorize/<upstream>` and `DELETE /oauth/tokens/<upstream>` (the authenticated user). Null when
   * the path is none of them.
   */
  route(req: IncomingMessage, res: ServerResponse, path: string, authenticate: (req: IncomingMessage) => Promise<Principal>): Promise<void> | null {
    if (path === CALLBACK_PATH) return this.callback(req, res);
    if (path.startsWith(AUTHORIZE_PATH)) return this.authorizeRoute(req, res, decodeURIComponent(path.slice(AUTHORIZE_PATH.length)), authenticate);
    if (path.startsWith(TOKENS_PATH)) return this.revokeRoute(req, res, decodeURIComponent(path.slice(TOKENS_PATH.length)), authenticate);
    return null;
  }

  private async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['use GET']);
    const q = new URL(req.url ?? '/', 'http://gateway').searchParams;
    const state = q.get('state') ?? '';
    const error = q.get('error');
    let status = 200;
    let message: string;
    if (error !== null) {
      this.pending.delete(state);
      status = 400;
      message = `The authorization server refused: ${error}.`;
    } else {
      try {
        const { upstream } = await this.complete(state, q.get('code') ?? '', q.get('iss') ?? undefined);
        message = `Your account at ${upstream} is connected. You can return to your client.`;
      } catch (err) {
        status = 400;
        message = `Authorization failed: ${(err as Error).message}.`;
      }
    }
    const body = `<!doctype html><meta charset="utf-8"><title>Gatehouse</title><p>${escapeHtml(message)}</p>\n`;
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end(body);
  }

  /**
   * `GET /oauth/authorize/<upstream>` (the authenticated user): a new authorization link as JSON, for an upstream
   * whose tools cannot be listed before someone authorizes (so no call can hand out the link).
   */
  private async authorizeRoute(req: IncomingMessage, res: ServerResponse, upstream: string, authenticate: (req: IncomingMessage) => Promise<Principal>): Promise<void> {
    if (req.method !== 'GET') throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['use GET']);
    const principal = await authenticate(req);
    const provider = this.providers.get(upstream);
    if (provider === undefined) throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`No upstream named "${upstream}" with auth.approval "user"`]);
    const err = await provider.authorizationRequired(principal.id);
    const [elicitation] = (err.data as { elicitations: { url: string; elicitationId: string }[] }).elicitations;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ upstream, url: elicitation.url, elicitationId: elicitation.elicitationId }));
  }

  /** Upstreams waiting for a first user's authorization before they can be listed. */
  awaiting(upstream: string): boolean {
    return this.providers.get(upstream)?.awaiting === true;
  }

  private async revokeRoute(req: IncomingMessage, res: ServerResponse, upstream: string, authenticate: (req: IncomingMessage) => Promise<Principal>): Promise<void> {
    if (req.method !== 'DELETE') throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['use DELETE']);
    const principal = await authenticate(req);
    const removed = await this.revoke(principal.id, upstream);
    res.writeHead(removed ? 204 : 404, { 'cache-control': 'no-store' }).end();
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One `approval: user` upstream: the caller's token from a memory cache, else the vault, else an authorization link. */
export class UserOAuthProvider implements CredentialProvider {
  readonly type = 'oauth';
  readonly upstream: string;
  readonly serverUrl: string;
  readonly config: UpstreamOAuthConfig;
  private readonly owner: UserOAuth;
  private readonly fetchFn: FetchLike;
  private readonly logger: Logger | undefined;
  private readonly cache = new Map<string, Cached>();
  /** Per principal, the load / refresh in progress (shared by concurrent calls). */
  private readonly running = new Map<string, Promise<HeaderList>>();
  private server: Promise<{ asUrl: string; metadata: AuthorizationServerMetadata | undefined; resource: string; client: OAuthClientInformationMixed }> | undefined;

  constructor(owner: UserOAuth, upstream: string, serverUrl: string, config: UpstreamOAuthConfig, options: UserOAuthOptions) {
    this.owner = owner;
    this.upstream = upstream;
    this.serverUrl = serverUrl;
    this.config = config;
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.logger = options.logger;
  }

  /**
   * The caller's bearer header: the cached list while fresh (one Map.get), a promise when it must be read from the
   * vault or refreshed, a rejection with GH_ERR_UPSTREAM_AUTHORIZATION_REQUIRED (the link) when there is none.
   * The catalog connection's own messages (no principal): see `catalogHeaders`. Anonymous callers are refused:
   * they would all share one account.
   */
  headers(principal: Principal | undefined): HeaderList | Promise<HeaderList> {
    if (principal === undefined) return this.catalogHeaders();
    if (principal.id === ANONYMOUS.id) throw new GatehouseError('GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN', [this.upstream], { upstream: this.upstream });
    return this.tokenOf(principal.id, true);
  }

  /** `ask`: with no token, reject with the authorization link; else resolve with no header. */
  private tokenOf(id: string, ask: boolean): HeaderList | Promise<HeaderList> {
    const hit = this.cache.get(id);
    if (hit !== undefined && !hit.stale && !this.due(hit.tokens)) return hit.list;
    const key = ask ? id : `\0${id}`;
    let run = this.running.get(key);
    if (run === undefined) {
      run = this.obtain(id, hit, ask).finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    return run;
  }

  /**
   * The catalog connection acts for nobody: it lists with the token of some user who authorized (the first row
   * found; kept while it works), else with none — enough for an upstream that lists anonymously. An upstream that
   * refuses that is reported as `needs authorization` until a user authorizes.
   */
  private catalogHeaders(): HeaderList | Promise<HeaderList> {
    const owner = this.catalogOwner;
    if (owner !== undefined) {
      const hit = this.cache.get(owner);
      if (hit !== undefined && !hit.stale && !this.due(hit.tokens)) return hit.list;
    }
    return (async () => {
      const ids = owner === undefined ? [] : [owner];
      for (const row of await this.owner.vault.list()) if (row.upstream === this.upstream && row.principal !== owner) ids.push(row.principal);
      for (const id of ids) {
        const list = await this.tokenOf(id, false);
        if (list.length > 0) {
          this.catalogOwner = id;
          this.awaiting = false;
          return list;
        }
      }
      this.catalogOwner = undefined;
      return NO_HEADERS;
    })();
  }

  /** The catalog connection was refused and no user has authorized yet (reported in /readyz). */
  awaiting = false;
  private catalogOwner: string | undefined;

  /** The catalog connection's notifications, GET stream, DELETE: the token it last listed with. */
  current(): HeaderList {
    const owner = this.catalogOwner;
    return owner === undefined ? NO_HEADERS : this.cache.get(owner)?.list ?? NO_HEADERS;
  }

  rejected(principal: Principal | undefined, sent: HeaderList): boolean {
    if (principal === undefined) {
      // The catalog connection's anonymous attempt was refused: nothing to retry with until a user authorizes.
      if (sent.length === 0) {
        this.awaiting = true;
        return false;
      }
      const owner = this.catalogOwner;
      if (owner === undefined) return false;
      principal = { id: owner } as Principal;
    }
    const hit = this.cache.get(principal.id);
    if (hit === undefined || hit.list !== sent) return true; // a newer token is already there
    hit.stale = true;
    return true;
  }

  forget(principal: string): void {
    this.cache.delete(principal);
  }

  /**
   * The provider of one per-user connection (pool sharing `per-user`): its own messages — initialize, the GET
   * stream, DELETE — carry the owner's token too. The cache stays the upstream's (one per user, shared).
   */
  forOwner(owner: string): CredentialProvider {
    // Only `id` is read from a principal here.
    const who = { id: owner } as Principal;
    let last: HeaderList = NO_HEADERS;
    const remember = (h: HeaderList): HeaderList => (last = h);
    return {
      type: 'oauth',
      headers: (principal) => {
        const found = this.headers(principal ?? who);
        return found instanceof Promise ? found.then(remember) : remember(found);
      },
      current: () => last,
      rejected: (principal, sent) => this.rejected(principal ?? who, sent),
    };
  }

  private due(t: VaultTokens): boolean {
    if (t.expires_at === undefined) return false;
    return this.owner.now() >= t.expires_at - REFRESH_MARGIN_MS;
  }

  private async obtain(principal: string, hit: Cached | undefined, ask: boolean): Promise<HeaderList> {
    try {
      let tokens = hit?.tokens ?? (await this.owner.vault.get(principal, this.upstream)) ?? undefined;
      if (tokens !== undefined && (hit?.stale === true || this.due(tokens))) {
        tokens = await this.refresh(principal, tokens);
      }
      if (tokens === undefined) {
        this.cache.delete(principal);
        if (!ask) return NO_HEADERS;
        throw await this.authorizationRequired(principal);
      }
      const cached: Cached = { tokens, list: Object.freeze(['authorization', `Bearer ${tokens.access_token}`]), stale: false };
      this.cache.set(principal, cached);
      return cached.list;
    } catch (err) {
      if (GatehouseError.is(err)) throw err;
      throw new GatehouseError('GH_ERR_UPSTREAM_CREDENTIALS', [this.upstream, err instanceof Error ? err.message : String(err)], { upstream: this.upstream });
    }
  }

  /** Refresh (RFC 6749 §6); without a refresh token, or when refused, the row goes and the user is asked again. */
  private async refresh(principal: string, tokens: VaultTokens): Promise<VaultTokens | undefined> {
    const expired = tokens.expires_at !== undefined && this.owner.now() >= tokens.expires_at;
    if (tokens.refresh_token !== undefined) {
      try {
        const { refreshAuthorization } = await loadSdk();
        const s = await this.discover();
        const fresh = await refreshAuthorization(s.asUrl, { metadata: s.metadata, clientInformation: s.client, refreshToken: tokens.refresh_token, resource: s.resource, fetchFn: this.fetchFn });
        const next = this.toVault(fresh, tokens.refresh_token);
        await this.owner.vault.put(principal, this.upstream, next);
        return next;
      } catch (err) {
        this.logger?.warn({ upstream: this.upstream, err: (err as Error).message }, 'refreshing a user token failed; asking the user again');
      }
    } else if (!expired && this.cache.get(principal)?.stale !== true) {
      return tokens; // no refresh token: used until it expires
    }
    await this.owner.revoke(principal, this.upstream);
    return undefined;
  }

  private toVault(t: OAuthTokens, previousRefresh?: string): VaultTokens {
    const out: VaultTokens = { access_token: t.access_token, token_type: t.token_type ?? 'Bearer' };
    const refresh = t.refresh_token ?? previousRefresh;
    if (refresh !== undefined) out.refresh_token = refresh;
    if (t.scope !== undefined) out.scope = t.scope;
    if (typeof t.expires_in === 'number') out.expires_at = this.owner.now() + t.expires_in * 1000;
    return out;
  }

  /** The upstream's authorization server, found once (RFC 9728 -> RFC 8414), and the gateway's client there. */
  private discover(): Promise<{ asUrl: string; metadata: AuthorizationServerMetadata | undefined; resource: string; client: OAuthClientInformationMixed }> {
    this.server ??= (async () => {
      const { discoverOAuthServerInfo, registerClient } = await loadSdk();
      const info = await discoverOAuthServerInfo(this.serverUrl, { fetchFn: this.fetchFn });
      const issuer = info.authorizationServerMetadata?.issuer ?? info.authorizationServerUrl;
      if (this.config.issuer !== undefined && this.config.issuer.replace(/\/$/, '') !== issuer.replace(/\/$/, '')) {
        throw new Error(`the upstream's authorization server is ${issuer}, but its configured client belongs to ${this.config.issuer}`);
      }
      const resource = info.resourceMetadata?.resource ?? this.serverUrl.replace(/#.*$/, '');
      let client: OAuthClientInformationMixed;
      if (this.config.clientId !== undefined) {
        client = { client_id: this.config.clientId, ...(this.config.clientSecret !== undefined && { client_secret: this.config.clientSecret }) };
      } else {
        client = await registerClient(info.authorizationServerUrl, {
          metadata: info.authorizationServerMetadata,
          clientMetadata: { client_name: this.config.clientName, redirect_uris: [this.redirectUrl()], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
          fetchFn: this.fetchFn,
        });
      }
      return { asUrl: info.authorizationServerUrl, metadata: info.authorizationServerMetadata, resource, client };
    })();
    this.server.catch(() => {
      this.server = undefined; // try discovery again on the next call
    });
    return this.server;
  }

  private redirectUrl(): string {
    return this.config.redirectUrl ?? `${this.owner.publicOrigin()}${CALLBACK_PATH}`;
  }

  /** The -32042 error whose data carries the authorization link (MCP 2025-11-25, URL-mode elicitation). */
  async authorizationRequired(principal: string): Promise<GatehouseError> {
    const { startAuthorization } = await loadSdk();
    const s = await this.discover();
    const redirectUrl = this.redirectUrl();
    // The state handle is chosen first (it must go into the URL); the verifier is filled in once the SDK made it.
    const entry = { principal, upstream: this.upstream, verifier: '', redirectUrl };
    const state = this.owner.begin(entry);
    const { authorizationUrl, codeVerifier } = await startAuthorization(s.asUrl, { metadata: s.metadata, clientInformation: s.client, redirectUrl, scope: this.config.scope, state, resource: s.resource });
    this.owner.setVerifier(state, codeVerifier);
    const message = `Connect your account at ${this.upstream} to use its tools`;
    return new GatehouseError('GH_ERR_UPSTREAM_AUTHORIZATION_REQUIRED', [this.upstream], {
      upstream: this.upstream,
      elicitations: [{ mode: 'url', elicitationId: randomUUID(), url: authorizationUrl.toString(), message }],
    });
  }

  /** The callback's second half: the code for tokens, sealed in the vault. */
  async redeem(entry: { principal: string; verifier: string; redirectUrl: string }, code: string, iss: string | undefined): Promise<void> {
    const { exchangeAuthorization } = await loadSdk();
    const s = await this.discover();
    const tokens = await exchangeAuthorization(s.asUrl, { metadata: s.metadata, clientInformation: s.client, authorizationCode: code, iss, codeVerifier: entry.verifier, redirectUri: entry.redirectUrl, resource: s.resource, fetchFn: this.fetchFn });
    await this.owner.vault.put(entry.principal, this.upstream, this.toVault(tokens));
    this.cache.delete(entry.principal);
  }
}
