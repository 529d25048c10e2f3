/**
 * `auth: { type: token-exchange }`: a user-bound token for the upstream, obtained by exchanging the caller's
 * validated access token at the organisation's IdP (OAuth 2.0 Token Exchange, RFC 8693). Cached per caller until
 * shortly before it expires. The connection's own messages (initialize, catalog lists) act for nobody and carry
 * no token.
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { Principal } from '../principal.ts';
import type { CredentialProvider, HeaderList } from './types.ts';
import { NO_HEADERS } from './types.ts';
import type { TokenExchangeAuthConfig } from './config.ts';
import type { TokenEndpoint } from './oauth.ts';
import { requestToken } from './oauth.ts';
import { subjectTokenOf } from './subject-token.ts';
import { TokenCell } from './token-cell.ts';

/** Cached callers per upstream; beyond this, expired entries go first, then the oldest. */
const MAX_CACHED = 10_000;
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export class TokenExchangeProvider implements CredentialProvider {
  readonly type = 'token-exchange';
  private readonly upstream: string;
  private readonly config: TokenExchangeAuthConfig;
  private readonly endpoint: TokenEndpoint;
  private readonly resource: string;
  private readonly cells = new Map<string, TokenCell>();
  private readonly onBackgroundError: (err: Error) => void;

  constructor(upstream: string, url: string, config: TokenExchangeAuthConfig, logger?: Logger) {
    this.upstream = upstream;
    this.config = config;
    this.endpoint = { url: config.tokenUrl, authMethods: undefined, resource: undefined };
    const u = new URL(config.resource ?? url);
    u.hash = '';
    this.resource = u.href;
    this.onBackgroundError = (err) => logger?.warn({ upstream, err: err.message }, 'refreshing an exchanged upstream token failed; the current one is used until it expires');
  }

  headers(principal: Principal | undefined): HeaderList | Promise<HeaderList> {
    if (principal === undefined) return NO_HEADERS;
    let cell = this.cells.get(principal.id);
    if (cell === undefined) {
      if (subjectTokenOf(principal) === undefined) throw new GatehouseError('GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN', [this.upstream], { upstream: this.upstream });
      cell = new TokenCell();
      this.evict();
      this.cells.set(principal.id, cell);
    }
    return cell.get(() => this.exchange(principal), this.onBackgroundError);
  }

  current(): HeaderList {
    return NO_HEADERS;
  }

  rejected(principal: Principal | undefined, sent: HeaderList): boolean {
    return principal !== undefined && this.cells.get(principal.id)?.drop(sent) === true;
  }

  private exchange(principal: Principal) {
    const subject = subjectTokenOf(principal);
    if (subject === undefined) return Promise.reject(new GatehouseError('GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN', [this.upstream], { upstream: this.upstream }));
    return requestToken(this.upstream, this.endpoint, this.config, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject.token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience: this.config.audience,
      resource: this.resource,
      scope: this.config.scope,
    });
  }

  private evict(): void {
    if (this.cells.size < MAX_CACHED) return;
    const now = Date.now();
    for (const [key, cell] of this.cells) if (cell.expiresAt <= now) this.cells.delete(key);
    for (const key of this.cells.keys()) {
      if (this.cells.size < MAX_CACHED) break;
      this.cells.delete(key);
    }
  }
}
