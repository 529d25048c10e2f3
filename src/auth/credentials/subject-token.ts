/**
 * The caller's validated access token, for the two credential kinds that act for the caller (token-exchange,
 * passthrough). A Principal never carries its token (src/auth/principal.ts), so the identity stage that validated
 * it binds it here, keyed by that very Principal object: the token lives as long as the principal and is
 * reachable only by code that holds both this module and the principal. It is never logged and never copied
 * into headers except by `auth: passthrough`.
 */
import type { Principal } from '../principal.ts';

/** A validated token and the claims it was validated with (its audience decides passthrough). */
export interface SubjectToken {
  readonly token: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

const bound = new WeakMap<Principal, SubjectToken>();

/** Called by the identity stage after it validated `token` and built `principal` from it. */
export function bindSubjectToken(principal: Principal, token: string): void {
  bound.set(principal, { token, claims: principal.claims });
}

/** The validated token `principal` was built from, if any (none for anonymous and API-key principals). */
export function subjectTokenOf(principal: Principal): SubjectToken | undefined {
  return bound.get(principal);
}

/**
 * A session keeps the principal of its initialize request; when a later request of the session authenticates as
 * the same principal with a newer token, the front carries that token over so calls act with the current one.
 */
export function carrySubjectToken(from: Principal, to: Principal): void {
  const token = bound.get(from);
  if (token !== undefined && from !== to) bound.set(to, token);
}
