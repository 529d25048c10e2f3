/**
 * `auth: { type: passthrough, audience }`: the explicit, audited opt-in to forward the caller's own bearer
 * token. Only a token the identity stage validated is forwarded, and only when its `aud` claim names the
 * configured audience (a token minted for the gateway alone is never replayed elsewhere: MCP security best
 * practices, "token passthrough"). Every use is logged at info, without the token.
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.ts';
import type { Principal } from '../principal.ts';
import type { CredentialProvider, HeaderList } from './types.ts';
import { NO_HEADERS } from './types.ts';
import type { PassthroughAuthConfig } from './config.ts';
import { subjectTokenOf } from './subject-token.ts';
import type { SubjectToken } from './subject-token.ts';

export class PassthroughProvider implements CredentialProvider {
  readonly type = 'passthrough';
  private readonly upstream: string;
  private readonly audience: string;
  private readonly logger: Logger | undefined;
  /** Headers built once per validated token. */
  private readonly built = new WeakMap<SubjectToken, HeaderList>();

  constructor(upstream: string, config: PassthroughAuthConfig, logger?: Logger) {
    this.upstream = upstream;
    this.audience = config.audience;
    this.logger = logger;
  }

  headers(principal: Principal | undefined): HeaderList {
    // The connection's own messages (initialize, catalog lists) act for nobody: no token.
    if (principal === undefined) return NO_HEADERS;
    const subject = subjectTokenOf(principal);
    if (subject === undefined) throw new GatehouseError('GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN', [this.upstream], { upstream: this.upstream });
    let list = this.built.get(subject);
    if (list === undefined) {
      // The audience of the token being forwarded, as validated with it.
      const aud = subject.claims.aud;
      const ok = typeof aud === 'string' ? aud === this.audience : Array.isArray(aud) && aud.includes(this.audience);
      if (!ok) {
        this.logger?.warn({ upstream: this.upstream, principal: principal.id, audience: this.audience }, 'passthrough refused: the token does not name the upstream in its audience');
        throw new GatehouseError('GH_ERR_UPSTREAM_TOKEN_AUDIENCE', [this.upstream, this.audience], { upstream: this.upstream });
      }
      list = Object.freeze(['authorization', `Bearer ${subject.token}`]);
      this.built.set(subject, list);
    }
    // Audited by design (issue 3): each forwarded token is a line in the log, naming who and where, never the token.
    this.logger?.info({ upstream: this.upstream, principal: principal.id }, 'passthrough: forwarding the caller\'s token to the upstream');
    return list;
  }

  current(): HeaderList {
    return NO_HEADERS;
  }

  /** The caller's own token refused: nothing else to offer. */
  rejected(): boolean {
    return false;
  }
}
