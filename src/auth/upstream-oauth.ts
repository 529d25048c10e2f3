/**
 * Gatehouse as the OAuth 2.1 client of an HTTP upstream (MCP authorization spec, client side): discovery from the
 * upstream's 401 (RFC 9728, then RFC 8414 / OpenID discovery), client id from a metadata document, dynamic
 * registration or config, authorization code + PKCE, the RFC 8707 `resource`, refresh, and scope step-up on 403
 * `insufficient_scope`. The protocol work is the official SDK's `auth()`; this file keeps the
 * state (in memory: one token per upstream) and the policy (when to re-authorize, how often). `approval: user`
 * (a token per user, in the encrypted vault) is ./user-oauth.ts.
 */
import type { FetchLike, OAuthClientInformationContext, OAuthClientMetadata, OAuthClientProvider, OAuthDiscoveryState, StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { GatehouseError } from '../core/errors.ts';
import type { CredentialProvider, HeaderList } from './credentials/types.ts';
import { NO_HEADERS } from './credentials/types.ts';

/**
 * `auth: { type: oauth }` on an HTTP upstream: the authorization-code grant with PKCE. With no `clientId`, the
 * gateway uses `clientMetadataUrl` when the authorization server supports client-id metadata documents, else
 * registers itself (RFC 7591). (The client-credentials grant is `type: client-credentials`.)
 */
export const upstreamOAuthSchema = z.strictObject({
  type: z.literal('oauth'),
  /** How the authorization step is completed. `auto`: the gateway follows the authorization endpoint's redirect
   *  itself — for an authorization server that approves without a user (tests, headless accounts); one token for
   *  the upstream. `user`: each user authorizes once through a link the gateway hands out (error -32042), and
   *  their tokens are kept in the encrypted vault (./user-oauth.ts; needs the top-level `vault.key`). */
  approval: z.enum(['auto', 'user']).default('auto'),
  /** A pre-registered client; secrets through `${ENV}` interpolation. */
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  /** The authorization server (issuer) the pre-registered client belongs to: any other is refused (SEP-2352).
   *  Unset: the first one discovered is trusted and pinned. */
  issuer: z.url().optional(),
  /** HTTPS URL of this gateway's client-id metadata document (SEP-991), used when the server supports it. */
  clientMetadataUrl: z.url({ protocol: /^https$/ }).optional(),
  clientName: z.string().default('Gatehouse'),
  /** Scope to ask for; default per the spec: the 401's `scope`, else the metadata's `scopes_supported`, else none. */
  scope: z.string().optional(),
  /** The redirect URI registered and sent in authorization requests. Default: `auto`,
   *  http://localhost/gatehouse/oauth/callback (never fetched); `user`, `<auth.publicUrl or listen origin>/oauth/callback`. */
  redirectUrl: z.url().optional(),
  /** Re-authorizations for one unchanged 403 `insufficient_scope` challenge before giving up (spec: clients
   *  SHOULD limit them to avoid loops). */
  maxStepUps: z.number().int().min(0).max(5).default(2),
});

export type UpstreamOAuthConfig = z.output<typeof upstreamOAuthSchema>;

export interface UpstreamOAuthOptions {
  /** For discovery, registration, authorization and token requests (default: global fetch). */
  fetch?: FetchLike;
  logger?: Logger;
  /** Milliseconds since the epoch (tests move time). */
  now?: () => number;
}

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;
const DEFAULT_REDIRECT_URL = 'http://localhost/gatehouse/oauth/callback';

type Sdk = typeof import('@modelcontextprotocol/client');
let sdk: Promise<Sdk> | undefined;
/** The SDK client is loaded on the first authorization, not with the config schema (it costs ~250 ms). */
function loadSdk(): Promise<Sdk> {
  return (sdk ??= import('@modelcontextprotocol/client'));
}

/**
 * The OAuth client of one upstream: the transport's credential contract (./credentials/types.ts) on top, the
 * SDK's provider contract (all in memory) below. One token per upstream — the gateway's own grant; a token per
 * user is ./user-oauth.ts (`approval: user`).
 */
export class UpstreamOAuth implements Omit<CredentialProvider, 'type'>, OAuthClientProvider {
  readonly type = 'oauth';
  readonly upstream: string;
  readonly serverUrl: string;
  private readonly config: UpstreamOAuthConfig;
  private readonly fetchFn: FetchLike;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private list: HeaderList = NO_HEADERS;
  private client: StoredOAuthClientInformation | undefined;
  private stored: StoredOAuthTokens | undefined;
  private expiresAt = Infinity;
  private verifier = '';
  private expectedState = '';
  private discovery: OAuthDiscoveryState | undefined;
  private callback: { code: string; iss: string | undefined } | undefined;
  /** The scope asked for so far (grows with challenges and step-ups). */
  private scope: string | undefined;
  private resourceMetadataUrl: URL | undefined;
  /** A refusal seen by `rejected` (its challenge), acted on by the next `headers` call. */
  private pending: { challenge: string | undefined } | undefined;
  private running: Promise<HeaderList> | undefined;
  private lastStepUp = '';
  private stepUps = 0;

  constructor(upstream: string, serverUrl: string, config: UpstreamOAuthConfig, options: UpstreamOAuthOptions = {}) {
    this.upstream = upstream;
    this.serverUrl = serverUrl;
    this.config = config;
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.scope = config.scope;
    this.client = this.configuredClient();
  }

  // ---- the transport's contract ----

  /**
   * No header until the upstream has refused once: its 401 names the metadata to discover from (it may be only
   * there, RFC 9728 §5.1). Then the cached list while the token is fresh; a refresh in the background when it is
   * due; a promise while a token is being obtained, shared by every request meanwhile.
   */
  headers(): HeaderList | Promise<HeaderList> {
    if (this.running !== undefined) return this.running;
    const pending = this.pending;
    if (pending !== undefined) {
      this.pending = undefined;
      return this.run(pending.challenge, true);
    }
    if (this.stored?.refresh_token !== undefined && this.now() >= this.expiresAt - REFRESH_MARGIN_MS) {
      const run = this.run(undefined, false);
      if (this.now() >= this.expiresAt) return run;
      run.catch((err: Error) => this.logger?.warn({ upstream: this.upstream, err: err.message }, 'refreshing the upstream token failed; the current one is used until it expires'));
    }
    return this.list;
  }

  current(): HeaderList {
    return this.list;
  }

  /**
   * The upstream refused a request sent with `sent`: a 401, or a 403 whose challenge says
   * `error="insufficient_scope"` (spec: scope challenge handling). The next `headers` call gets a new token —
   * by refresh when that can do, else a new authorization — asking for the union of the scopes asked so far and
   * the challenged ones. The same unmet scope challenged again after `maxStepUps` re-authorizations is left
   * alone: the server will not grant it, and looping would only spam its authorization endpoint.
   */
  rejected(_principal: unknown, sent: HeaderList, challenge: string | undefined): void {
    if (sent !== this.list || this.running !== undefined) return; // a newer token is already there or coming
    this.pending = { challenge };
  }

  /** Forget every token and registration (the user revoked access, or the operator rotated the client). */
  reset(): void {
    this.invalidateCredentials('all');
  }

  // ---- the flow ----

  private run(challenge: string | undefined, refused: boolean): Promise<HeaderList> {
    const p = this.authorize(challenge, refused).finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }

  /**
   * One SDK `auth()` round (refresh, or a new authorization); with `approval: auto` the redirect leg is followed
   * here and a second round redeems the code. `refused`: the upstream refused the token with `challenge`.
   */
  private async authorize(challenge: string | undefined, refused: boolean): Promise<HeaderList> {
    try {
      const { auth, computeScopeUnion, extractWWWAuthenticateParams, isStrictScopeSuperset } = await loadSdk();
      let forceReauthorization = false;
      if (refused) {
        const params = challenge === undefined ? {} : extractWWWAuthenticateParams(new Response(null, { headers: { 'www-authenticate': challenge } }));
        if (params.resourceMetadataUrl !== undefined) this.resourceMetadataUrl = params.resourceMetadataUrl;
        if (params.error === 'insufficient_scope') {
          const union = computeScopeUnion(this.scope, this.stored?.scope, params.scope);
          const key = union ?? '';
          this.stepUps = key === this.lastStepUp ? this.stepUps + 1 : 1;
          this.lastStepUp = key;
          if (this.stepUps > this.config.maxStepUps) {
            this.logger?.warn({ upstream: this.upstream, scope: union }, 'upstream keeps refusing the scope it asked for; not re-authorizing again');
            return this.list;
          }
          this.scope = union;
          // A refresh cannot widen a grant (RFC 6749 §6): ask anew when the union is more than the token holds.
          forceReauthorization = isStrictScopeSuperset(union, this.stored?.scope);
        } else if (params.scope !== undefined) {
          this.scope = computeScopeUnion(this.scope, params.scope);
        }
      }
      const base = { serverUrl: this.serverUrl, scope: this.scope, resourceMetadataUrl: this.resourceMetadataUrl, fetchFn: this.fetchFn };
      this.callback = undefined;
      let result = await auth(this, { ...base, forceReauthorization });
      if (result === 'REDIRECT') {
        const callback = this.callback as { code: string; iss: string | undefined } | undefined;
        this.callback = undefined;
        if (callback === undefined) throw new Error('the authorization step did not complete');
        result = await auth(this, { ...base, authorizationCode: callback.code, iss: callback.iss });
      }
      if (result !== 'AUTHORIZED') throw new Error('the authorization step did not complete');
      return this.list;
    } catch (err) {
      if (GatehouseError.is(err)) throw err;
      throw new GatehouseError('GH_ERR_UPSTREAM_CREDENTIALS', [this.upstream, err instanceof Error ? err.message : String(err)], { upstream: this.upstream });
    }
  }

  private configuredClient(): StoredOAuthClientInformation | undefined {
    if (this.config.clientId === undefined) return undefined;
    return {
      client_id: this.config.clientId,
      ...(this.config.clientSecret !== undefined && { client_secret: this.config.clientSecret }),
      ...(this.config.issuer !== undefined && { issuer: this.config.issuer }),
    };
  }

  // ---- OAuthClientProvider (SDK contract), all in memory ----

  get redirectUrl(): string {
    return this.config.redirectUrl ?? DEFAULT_REDIRECT_URL;
  }

  get clientMetadataUrl(): string | undefined {
    return this.config.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.config.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(this.config.scope !== undefined && { scope: this.config.scope }),
    };
  }

  state(): string {
    this.expectedState = crypto.randomUUID();
    return this.expectedState;
  }

  clientInformation(ctx?: OAuthClientInformationContext): StoredOAuthClientInformation | undefined {
    const pinned = this.config.issuer;
    if (pinned !== undefined && ctx?.issuer !== undefined && pinned.replace(/\/$/, '') !== ctx.issuer.replace(/\/$/, '')) {
      // Left to the SDK, a mismatch would register a new client instead: refuse, the config names another server.
      throw new Error(`the upstream's authorization server is ${ctx.issuer}, but its configured client belongs to ${pinned}`);
    }
    // A configured client without `issuer` is pinned to the first authorization server found (the SDK would
    // stamp it the same way, with a warning on every first read).
    if (this.client !== undefined && this.client.issuer === undefined && ctx?.issuer !== undefined) this.client = { ...this.client, issuer: ctx.issuer };
    return this.client;
  }

  saveClientInformation(info: StoredOAuthClientInformation): void {
    this.client = info;
  }

  tokens(): StoredOAuthTokens | undefined {
    return this.stored;
  }

  saveTokens(tokens: StoredOAuthTokens): void {
    this.stored = tokens;
    this.expiresAt = typeof tokens.expires_in === 'number' ? this.now() + tokens.expires_in * 1000 : Infinity;
    this.list = Object.freeze(['authorization', `Bearer ${tokens.access_token}`]);
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.client = this.configuredClient();
    if (scope === 'all' || scope === 'tokens') {
      this.stored = undefined;
      this.expiresAt = Infinity;
      this.list = NO_HEADERS;
    }
    if (scope === 'all' || scope === 'verifier') this.verifier = '';
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  /**
   * `approval: auto`: follow the authorization endpoint ourselves and take the code from its redirect (never
   * fetching the redirect URI). The state must come back unchanged (CSRF, OAuth 2.1 §7.12).
   */
  async redirectToAuthorization(url: URL): Promise<void> {
    const res = await this.fetchFn(url, { redirect: 'manual' });
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) throw new Error(`the authorization endpoint answered HTTP ${res.status} without a redirect (approval: auto needs a server that approves by itself)`);
    const back = new URL(location, url);
    const error = back.searchParams.get('error');
    if (error !== null) throw new Error(`authorization refused: ${error}${back.searchParams.has('error_description') ? ` (${back.searchParams.get('error_description')})` : ''}`);
    const code = back.searchParams.get('code');
    if (code === null) throw new Error('the authorization redirect carries no code');
    if (back.searchParams.get('state') !== this.expectedState) throw new Error('the authorization redirect carries the wrong state');
    this.callback = { code, iss: back.searchParams.get('iss') ?? undefined };
  }
}
