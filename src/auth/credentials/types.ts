/**
 * The contract between an upstream connection and the credential it presents (see ../upstream-credentials.ts).
 */
import type { Principal } from '../principal.ts';

/** Flat header list `[name, value, name, value, …]` (undici's form). */
export type HeaderList = readonly string[];

export const NO_HEADERS: HeaderList = Object.freeze([]) as HeaderList;

export interface CredentialProvider {
  /** The `auth.type` it serves (static, client-credentials, token-exchange, passthrough, …). */
  readonly type: string;
  /**
   * Headers for one request made for `principal` (undefined: the connection's own messages — initialize,
   * discovery, catalog lists). A fresh cached array, the same object while the token lasts, or a promise when a
   * token has to be fetched first. Throws (or rejects with) a GatehouseError when no credential can be had.
   */
  headers(principal: Principal | undefined): HeaderList | Promise<HeaderList>;
  /** The connection's own headers without waiting (GET streams, DELETE, notifications): the last ones obtained. */
  current(): HeaderList;
  /**
   * The upstream answered 401 to a request sent with `sent` (an array `headers` returned). Forget that credential
   * so the next `headers` fetches a new one — once for all requests that saw the same 401 — and follow the
   * challenge's `resource_metadata` to the authorization server. Returns false when asking again cannot help
   * (a static credential, the caller's own token): the request then fails with the upstream's answer; anything
   * else (true, or nothing) sends the request once more.
   */
  rejected(principal: Principal | undefined, sent: HeaderList, challenge: string | undefined): boolean | void;
}
