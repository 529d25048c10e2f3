/**
 * What an upstream is shown as credentials: per upstream, the `auth` key of its config picks one provider
 * (static headers, OAuth client-credentials, RFC 8693 token exchange, or an audited passthrough). Without `auth`
 * there is none, and nothing of the client's own credentials ever goes upstream: the transports build their
 * headers from config alone. A connection asks its provider for headers on every request; the answer is a cached
 * array while a token is fresh (the hot path: one lookup), a promise only when a token must be fetched.
 */
import type { Logger } from 'pino';
import type { UpstreamAuthConfig } from './credentials/config.ts';
import { ClientCredentialsProvider } from './credentials/client-credentials.ts';
import { PassthroughProvider } from './credentials/passthrough.ts';
import { StaticProvider } from './credentials/static.ts';
import { TokenExchangeProvider } from './credentials/token-exchange.ts';
import { UpstreamOAuth } from './upstream-oauth.ts';
import type { UserOAuth } from './user-oauth.ts';
import { GatehouseError } from '../core/errors.ts';
import type { CredentialProvider } from './credentials/types.ts';

export { bindSubjectToken, carrySubjectToken } from './credentials/subject-token.ts';
export { NO_HEADERS } from './credentials/types.ts';
export type { CredentialProvider, HeaderList } from './credentials/types.ts';
export type { UpstreamAuthConfig } from './credentials/config.ts';

/**
 * The provider an upstream's `auth` names; null without `auth`. `userOAuth`: the gateway's per-user vault, needed by
 * `type: oauth, approval: user` (the config refuses that without `vault.key`); `owner`: the principal id a per-user
 * connection belongs to.
 */
export function createCredentialProvider(upstream: string, url: string, auth: UpstreamAuthConfig | undefined, logger?: Logger, userOAuth?: UserOAuth, owner?: string): CredentialProvider | null {
  switch (auth?.type) {
    case undefined:
      return null;
    case 'static':
      return new StaticProvider(auth);
    case 'client-credentials':
      return new ClientCredentialsProvider(upstream, url, auth, logger);
    case 'token-exchange':
      return new TokenExchangeProvider(upstream, url, auth, logger);
    case 'passthrough':
      return new PassthroughProvider(upstream, auth, logger);
    case 'oauth':
      if (auth.approval === 'user') {
        if (userOAuth === undefined) throw new GatehouseError('GH_ERR_CONFIG_INVALID', [`upstream ${upstream}: auth.approval "user" needs the credential vault (top-level vault.key)`]);
        const provider = userOAuth.provider(upstream, url, auth);
        return owner === undefined ? provider : provider.forOwner(owner);
      }
      return new UpstreamOAuth(upstream, url, auth, { logger });
  }
}
