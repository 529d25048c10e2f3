/**
 * The `auth` section of the config: how clients authenticate to the gateway (OAuth 2.1 resource server, API keys).
 * Absent or `enabled: false` means anonymous access.
 */
import { z } from 'zod';

const DURATION = 'a duration like 500ms, 30s, 5m or 1h';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

// Not config/schema.ts's `duration`: that module imports this one, and the cycle would break whichever loads first.
const duration = z.union([
  z.number({ error: DURATION }).nonnegative({ error: DURATION }),
  z.string({ error: DURATION }).regex(/^\d+(\.\d+)?(ms|s|m|h)?$/, DURATION),
], { error: DURATION }).transform((v) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v)!;
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'ms') as keyof typeof UNITS]);
});

const bool = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/**
 * Asymmetric JWS algorithms only: a symmetric (HS*) key would have to be shared with every resource server, and
 * accepting HS* next to RS* is the classic key-confusion hole. `none` is never accepted.
 */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const issuerSchema = z.strictObject({
  /** The authorization server's issuer identifier, exactly as it appears in the tokens' `iss`. */
  issuer: z.url({ error: 'the issuer URL, e.g. https://login.example.com/realms/acme' }),
  /** Accept these `aud` values instead of the gateway's canonical resource URI (e.g. an IdP that cannot do RFC 8707). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** Accepted signing algorithms (asymmetric only). */
  algorithms: z.array(z.enum(JWT_ALGORITHMS, { error: `one of ${JWT_ALGORITHMS.join(', ')} (symmetric HS* and none are refused)` })).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  /** Skip discovery and fetch keys from here. */
  jwksUri: z.url().optional(),
  /** A token with an unknown `kid` refetches the JWKS at most once per this interval. */
  jwksCooldown: duration.default(30_000),
  /** RFC 7662 introspection, for opaque (non-JWT) access tokens. */
  introspection: z.strictObject({
    url: z.url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
  }).optional(),
});

export const authConfigSchema = z.strictObject({
  enabled: bool().default(false),
  /** The gateway's public origin (`https://mcp.example.com`); the resource URI is this + server.path (+ /<virtual server>). Default: http://<host>:<port>. */
  publicUrl: z.url({ error: 'the public URL of the gateway, e.g. https://mcp.example.com' }).optional(),
  /** Trusted authorization servers; a token is checked against the one named by its `iss`. */
  issuers: z.array(issuerSchema).default([]),
  /** Scopes every OAuth token must carry (403 insufficient_scope otherwise). */
  scopes: z.array(z.string().min(1)).default([]),
  /** `scopes_supported` in the protected-resource metadata (default: `scopes`). */
  scopesSupported: z.array(z.string().min(1)).optional(),
  /** `resource_name` in the protected-resource metadata. */
  resourceName: z.string().default('Gatehouse MCP gateway'),
  /** Tolerance for exp / nbf / iat. */
  clockSkew: duration.default(30_000),
  /** A request with no credentials at all is served as the anonymous principal (bad credentials still get 401). */
  allowAnonymous: bool().default(false),
}).prefault({});

export type AuthConfig = z.output<typeof authConfigSchema>;
export type IssuerConfig = z.output<typeof issuerSchema>;
