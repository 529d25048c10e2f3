/**
 * The `auth` key of an HTTP upstream: which credential the gateway presents to it. Absent means none at all —
 * the client's own token never goes upstream (issue 3, "no token passthrough"). Secrets come in through the
 * loader's `${ENV}` / `${file:…}` interpolation, so the YAML never holds them.
 */
import { z } from 'zod';
import { upstreamOAuthSchema } from '../upstream-oauth.ts';

/** Headers the transport owns; a credential may not set them. */
const RESERVED = new Set(['content-type', 'accept', 'content-length', 'host', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Header names are checked here rather than as record keys, so the error names the key itself. */
const credentialHeaders = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const key of Object.keys(headers)) {
    if (!TOKEN.test(key)) ctx.addIssue({ code: 'custom', input: key, path: [key], message: 'an HTTP header name' });
    else if (RESERVED.has(key.toLowerCase())) ctx.addIssue({ code: 'custom', input: key, path: [key], message: 'a header the transport does not set itself (not content-type, accept, mcp-*, …)' });
  }
});
const secret = z.string().min(1);

export const staticAuthSchema = z.strictObject({
  type: z.literal('static'),
  /** Sent on every request, e.g. `authorization: "Bearer ${API_TOKEN}"`. */
  headers: credentialHeaders,
});

export const clientCredentialsAuthSchema = z.strictObject({
  type: z.literal('client-credentials'),
  clientId: secret,
  clientSecret: secret,
  /** Space-separated scopes to ask for. */
  scope: z.string().optional(),
  /** The token endpoint; when absent it is discovered from the upstream's protected-resource metadata (RFC 9728). */
  tokenUrl: z.url().optional(),
  /** The `resource` parameter (RFC 8707); default: the metadata's `resource`, else the upstream URL. */
  resource: z.url().optional(),
});

export const tokenExchangeAuthSchema = z.strictObject({
  type: z.literal('token-exchange'),
  /** The organisation's IdP token endpoint (RFC 8693). */
  tokenUrl: z.url(),
  clientId: secret,
  clientSecret: secret,
  audience: z.string().optional(),
  /** Default: the upstream URL. */
  resource: z.url().optional(),
  scope: z.string().optional(),
});

export const passthroughAuthSchema = z.strictObject({
  type: z.literal('passthrough'),
  /** The client's token is forwarded only when its `aud` claim names this. */
  audience: z.string().min(1),
});

/** `type: oauth` (authorization code + PKCE, run by the gateway) is defined beside its client, src/auth/upstream-oauth.ts. */
export const upstreamAuthSchema = z.discriminatedUnion('type', [staticAuthSchema, clientCredentialsAuthSchema, tokenExchangeAuthSchema, passthroughAuthSchema, upstreamOAuthSchema]);

/**
 * `auth` on a stdio upstream: refused with the way to do it. A child process has no HTTP request to carry a
 * header; its secrets go through `env`.
 */
export const stdioAuthSchema = z.never({ error: 'no auth key: a stdio upstream takes its secrets through env (env: { API_TOKEN: "${API_TOKEN}" })' }).optional();

export type UpstreamAuthConfig = z.output<typeof upstreamAuthSchema>;
export type StaticAuthConfig = z.output<typeof staticAuthSchema>;
export type ClientCredentialsAuthConfig = z.output<typeof clientCredentialsAuthSchema>;
export type TokenExchangeAuthConfig = z.output<typeof tokenExchangeAuthSchema>;
export type PassthroughAuthConfig = z.output<typeof passthroughAuthSchema>;
