/**
 * A real OpenID Connect / OAuth 2.1 authorization server (oidc-provider) on 127.0.0.1 with an OS-chosen port, for the
 * resource-server tests: client_credentials and authorization_code + PKCE, resource indicators (RFC 8707) that
 * issue JWT access tokens with the requested resource as `aud`, logins and consent granted without any UI, and key
 * rotation (a new signing key, served by a fresh provider instance on the same address).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import Provider from 'oidc-provider';

export const SERVICE_CLIENT = { id: 'service', secret: 'service-secret-0123456789abcdef0123456789' };
/** A second service: another principal. */
export const OTHER_CLIENT = { id: 'other-service', secret: 'other-secret-0123456789abcdef0123456789' };
/** A client whose access tokens are opaque (checked by introspection). */
export const OPAQUE_CLIENT = { id: 'opaque', secret: 'opaque-secret-0123456789abcdef0123456789' };
/** A client whose access tokens live one second (expiry tests). */
export const SHORT_CLIENT = { id: 'short-lived', secret: 'short-secret-0123456789abcdef0123456789' };
/** A public client (token_endpoint_auth_method none, PKCE) for the authorization-code flow. */
export const PUBLIC_CLIENT = { id: 'mcp-client', redirectUri: 'http://127.0.0.1:1/callback' };

export const SCOPES = ['mcp:tools', 'mcp:admin', 'mcp:other'];

export interface OidcServer {
  /** The issuer, e.g. http://127.0.0.1:PORT */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** The kid of the key tokens are signed with now. */
  readonly kid: string;
  /** A client_credentials access token for `resource` (its `aud`). */
  clientCredentials(resource: string, scope?: string, client?: { id: string; secret: string }): Promise<string>;
  /** Sign with a new key from now on; the JWKS then holds only the new key. */
  rotateKeys(): Promise<void>;
  /** The account a login through the authorization endpoint is for. */
  account: string;
  close(): Promise<void>;
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `k-${Math.random().toString(36).slice(2, 10)}`, alg: 'RS256', use: 'sig' };
}

export async function startOidc(): Promise<OidcServer> {
  let provider: Provider | null = null;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(provider!, req, res, state.account).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(err.stack);
      });
      return;
    }
    handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let key = await signingKey();
  const build = () => {
    provider = new Provider(issuer, configuration(key));
    handler = provider.callback();
  };
  build();

  const state: OidcServer = {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    get kid() {
      return key.kid!;
    },
    account: 'alice',
    async clientCredentials(resource, scope = 'mcp:tools', client = SERVICE_CLIENT) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async rotateKeys() {
      key = await signingKey();
      build();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return state;
}

function configuration(key: JWK): ConstructorParameters<typeof Provider>[1] {
  return {
    clients: [
      { client_id: SERVICE_CLIENT.id, client_secret: SERVICE_CLIENT.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      { client_id: OTHER_CLIENT.id, client_secret: OTHER_CLIENT.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      { client_id: OPAQUE_CLIENT.id, client_secret: OPAQUE_CLIENT.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      { client_id: SHORT_CLIENT.id, client_secret: SHORT_CLIENT.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      {
        client_id: PUBLIC_CLIENT.id,
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [PUBLIC_CLIENT.redirectUri],
      },
    ],
    jwks: { keys: [key] },
    cookies: { keys: ['gatehouse-test-cookie-key'] },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    scopes: ['openid', 'offline_access', ...SCOPES],
    findAccount: (_ctx, sub) => Promise.resolve({ accountId: sub, claims: () => Promise.resolve({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => Promise.resolve(true) },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => Promise.resolve(true),
        getResourceServerInfo: (_ctx, resource, client) => Promise.resolve({
          scope: SCOPES.join(' '),
          audience: resource,
          accessTokenTTL: client.clientId === SHORT_CLIENT.id ? 1 : 3600,
          accessTokenFormat: client.clientId === OPAQUE_CLIENT.id ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  };
}

/** The login and consent pages, answered without a user: log `account` in and grant whatever was asked. */
async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse, account: string): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/**
 * A browser stand-in: follow the authorization endpoint's redirects (with cookies) until the provider redirects to the
 * client's redirect URI, and return that URL's query (code, state, iss).
 */
export async function followAuthorization(authorizationUrl: URL, redirectUri: string): Promise<URLSearchParams> {
  const jar = new Map<string, string>();
  let url = authorizationUrl.toString();
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(redirectUri)) return new URL(url).searchParams;
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const value = pair.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(pair.slice(0, i));
      else jar.set(pair.slice(0, i), value);
    }
    const location = res.headers.get('location');
    await res.arrayBuffer();
    if (location === null) throw new Error(`authorization stopped at ${url} with HTTP ${res.status}`);
    url = new URL(location, url).toString();
  }
  throw new Error('too many redirects in the authorization flow');
}
