/**
 * The identity stage's contract: turn an HTTP request into a Principal, or refuse it with a GatehouseError whose
 * status is 401 (no or invalid credentials) or 403 (insufficient scope) and whose headers carry the
 * `WWW-Authenticate` challenge. An identity may also serve routes of its own (protected-resource metadata).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseError } from '../core/errors.ts';
import type { Principal } from './principal.ts';
import { ANONYMOUS } from './principal.ts';

export interface AuthTarget {
  /** '' for the default endpoint. */
  readonly virtualServer: string;
}

export interface Identity {
  authenticate(req: IncomingMessage, target: AuthTarget): Promise<Principal>;
  /** Serve a route of the identity's own (e.g. /.well-known/oauth-protected-resource); true when handled. */
  route?(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** The 401 (with its WWW-Authenticate challenge) for a request that must bring credentials, e.g. to the admin API. */
  credentialsRequired?(target: AuthTarget): GatehouseError;
  close?(): Promise<void>;
}

/** Checks an API key (`gh_<id>_<secret>`, src/auth/api-keys.ts); null for any failure, which the identity makes a 401. */
export interface ApiKeyVerifier {
  verify(token: string): Promise<Principal | null>;
}

/** No authentication configured: everyone is the anonymous principal. */
export const anonymousIdentity: Identity = {
  authenticate: () => Promise.resolve(ANONYMOUS),
};
