/**
 * `auth: { type: client-credentials }`: the gateway's own token for the upstream (OAuth 2.0 client-credentials
 * grant, RFC 6749 §4.4) from the upstream's authorization server — found through the upstream's protected-resource
 * metadata (RFC 9728) unless `tokenUrl` is given — with the `resource` parameter (RFC 8707) always sent. One token
 * for every caller, cached, refreshed before it expires and once after the upstream answers 401.
 */
import type { Logger } from 'pino';
import type { HeaderList, CredentialProvider } from './types.ts';
import { NO_HEADERS } from './types.ts';
import type { ClientCredentialsAuthConfig } from './config.ts';
import type { IssuedToken, TokenEndpoint } from './oauth.ts';
import { credentialsError, discoverTokenEndpoint, requestToken, resourceMetadataOf } from './oauth.ts';
import { TokenCell } from './token-cell.ts';

export class ClientCredentialsProvider implements CredentialProvider {
  readonly type = 'client-credentials';
  private readonly upstream: string;
  private readonly url: URL;
  private readonly config: ClientCredentialsAuthConfig;
  private readonly logger: Logger | undefined;
  private readonly cell = new TokenCell();
  private endpoint: Promise<TokenEndpoint> | null = null;
  /** The `resource_metadata` of the last 401 challenge, preferred over the well-known URIs. */
  private hint: string | undefined = undefined;
  /** Discovery failed before any challenge was seen: one request goes without a token to get the upstream's 401. */
  private probed = false;
  private readonly onBackgroundError: (err: Error) => void;

  constructor(upstream: string, url: string, config: ClientCredentialsAuthConfig, logger?: Logger) {
    this.upstream = upstream;
    this.url = new URL(url);
    this.config = config;
    this.logger = logger;
    this.onBackgroundError = (err) => this.logger?.warn({ upstream, err: err.message }, 'refreshing the upstream token failed; the current one is used until it expires');
  }

  headers(): HeaderList | Promise<HeaderList> {
    return this.cell.get(() => this.obtain(), this.onBackgroundError);
  }

  current(): HeaderList {
    return this.cell.headers ?? NO_HEADERS;
  }

  rejected(_principal: unknown, sent: HeaderList, challenge: string | undefined): boolean {
    let changed = false;
    const hint = resourceMetadataOf(challenge);
    if (hint !== undefined && hint !== this.hint && this.config.tokenUrl === undefined) {
      this.hint = hint;
      this.endpoint = null;
      changed = true;
    }
    if (this.cell.drop(sent)) {
      this.logger?.info({ upstream: this.upstream }, 'upstream refused its token (401); fetching a new one');
      changed = true;
    }
    // Another request's 401 may already have replaced the token: then the retry uses the new one.
    return changed || this.cell.headers !== sent;
  }

  private async obtain(): Promise<IssuedToken | null> {
    let endpoint: TokenEndpoint;
    try {
      endpoint = await (this.endpoint ??= this.findEndpoint());
    } catch (err) {
      this.endpoint = null;
      if (this.hint === undefined && !this.probed) {
        // No metadata at the well-known URIs: MCP servers may name it only in a 401's WWW-Authenticate.
        this.probed = true;
        return null;
      }
      throw credentialsError(this.upstream, `cannot find the token endpoint: ${(err as Error).message}`);
    }
    return requestToken(this.upstream, endpoint, this.config, {
      grant_type: 'client_credentials',
      scope: this.config.scope,
      resource: this.config.resource ?? endpoint.resource ?? canonical(this.url),
    });
  }

  private findEndpoint(): Promise<TokenEndpoint> {
    if (this.config.tokenUrl !== undefined) return Promise.resolve({ url: this.config.tokenUrl, authMethods: undefined, resource: undefined });
    return discoverTokenEndpoint(this.url, this.hint);
  }
}

function canonical(url: URL): string {
  const u = new URL(url);
  u.hash = '';
  return u.href;
}
