/**
 * The gateway as an OAuth 2.1 resource server (MCP authorization spec 2025-06-18 / 2025-11-25), against a real
 * authorization server (oidc-provider on 127.0.0.1): token validation (audience, issuer, expiry, signature, `alg`,
 * key rotation, scope), the 401/403 challenges, protected-resource metadata (RFC 9728), sessions bound to their
 * principal, and the official SDK client's authorization-code + PKCE flow discovering everything from a 401.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { SignJWT } from 'jose';
import type { OAuthClientProvider, OAuthDiscoveryState, StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client';
import { everythingStdio, INIT, post } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { startGateway } from './helpers/gateway.ts';
import { followAuthorization, OPAQUE_CLIENT, OTHER_CLIENT, SERVICE_CLIENT, PUBLIC_CLIENT, SHORT_CLIENT, startOidc } from './helpers/oidc.ts';
import type { OidcServer } from './helpers/oidc.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('OAuth resource server', () => {
  let idp: OidcServer;
  let stranger: OidcServer;
  let gw: RunningGateway;
  let prm: string;

  before(async () => {
    [idp, stranger] = await Promise.all([startOidc(), startOidc()]);
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      virtualServers: { ops: {} },
      auth: {
        enabled: true,
        issuers: [{
          issuer: idp.issuer,
          jwksCooldown: '50ms',
          introspection: { url: `${idp.issuer}/token/introspection`, clientId: SERVICE_CLIENT.id, clientSecret: SERVICE_CLIENT.secret },
        }],
        scopes: ['mcp:tools'],
        scopesSupported: ['mcp:tools', 'mcp:admin'],
        clockSkew: '0s',
      },
    });
    prm = `${gw.base}/.well-known/oauth-protected-resource/mcp`;
  });

  after(async () => {
    await gw?.close();
    await Promise.all([idp?.close(), stranger?.close()]);
  });

  /** POST initialize with these headers; the status and the challenge. */
  async function tryInit(headers: Record<string, string>, url = gw.url) {
    const r = await post(url, INIT(), headers);
    return { status: r.status, challenge: r.headers.get('www-authenticate'), json: r.json };
  }

  function assertInvalid(r: { status: number; challenge: string | null; json: any }, reason: RegExp) {
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer resource_metadata="${prm}", scope="mcp:tools", error="invalid_token"`);
    assert.equal(r.json.error.data.code, 'GH_ERR_AUTH_INVALID_TOKEN');
    assert.match(r.json.error.message, reason);
  }

  it('answers a request without a token with 401 and a challenge naming the metadata', async () => {
    const r = await tryInit({});
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer resource_metadata="${prm}", scope="mcp:tools"`);
    assert.equal(r.json.error.data.code, 'GH_ERR_AUTH_REQUIRED');
    const basic = await tryInit({ authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(basic.status, 401);
  });

  it('serves protected-resource metadata at the root and path-specific well-known URLs', async () => {
    const expected = {
      resource: gw.url,
      authorization_servers: [idp.issuer],
      scopes_supported: ['mcp:tools', 'mcp:admin'],
      bearer_methods_supported: ['header'],
      resource_name: 'Gatehouse MCP gateway',
    };
    for (const url of [`${gw.base}/.well-known/oauth-protected-resource`, prm]) {
      const res = await fetch(url);
      assert.equal(res.status, 200, url);
      assert.deepEqual(await res.json(), expected);
    }
    const vs = await fetch(`${gw.base}/.well-known/oauth-protected-resource/mcp/ops`);
    assert.deepEqual(await vs.json(), { ...expected, resource: `${gw.url}/ops` });
    assert.equal((await fetch(`${gw.base}/.well-known/oauth-protected-resource/mcp/nope`)).status, 404);
    const challenge = (await tryInit({}, `${gw.url}/ops`)).challenge;
    assert.match(challenge!, new RegExp(`resource_metadata="${gw.base}/.well-known/oauth-protected-resource/mcp/ops"`));
  });

  it('accepts a client_credentials token issued for the gateway, through initialize and tools/call', async () => {
    const token = await idp.clientCredentials(gw.url);
    const init = await post(gw.url, INIT(), bearer(token));
    assert.equal(init.status, 200, init.text);
    const session = init.headers.get('mcp-session-id')!;
    const h = { ...bearer(token), 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    assert.equal((await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status, 202);
    const call = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } }, h);
    assert.equal(call.status, 200);
    assert.match(JSON.stringify(call.json.result), /hello/);
  });

  it('refuses a token issued for another resource (audience)', async () => {
    assertInvalid(await tryInit(bearer(await idp.clientCredentials('https://other.example.com/mcp'))), /audience/);
    // A virtual server is its own resource: a token for the default endpoint does not open it.
    const main = await idp.clientCredentials(gw.url);
    const r = await tryInit(bearer(main), `${gw.url}/ops`);
    assert.equal(r.status, 401);
    assert.match(r.challenge!, /oauth-protected-resource\/mcp\/ops".*error="invalid_token"/);
    assert.equal((await tryInit(bearer(await idp.clientCredentials(`${gw.url}/ops`)), `${gw.url}/ops`)).status, 200);
  });

  it('refuses a token from an issuer it does not trust', async () => {
    assertInvalid(await tryInit(bearer(await stranger.clientCredentials(gw.url))), /trusted authorization server/);
  });

  it('refuses an expired token', async () => {
    const token = await idp.clientCredentials(gw.url, 'mcp:tools', SHORT_CLIENT);
    assert.equal((await tryInit(bearer(token))).status, 200, 'accepted while valid (and remembered only until exp)');
    await sleep(2_100); // a real token expires by real time passing: wait out its 1 s lifetime and the clock skew
    assertInvalid(await tryInit(bearer(token)), /expired/);
  });

  it('refuses a token with a tampered signature or payload', async () => {
    const [h, p, s] = (await idp.clientCredentials(gw.url)).split('.');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    assertInvalid(await tryInit(bearer(`${h}.${p}.${flipped}`)), /signature/);
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    assertInvalid(await tryInit(bearer(`${h}.${forged}.${s}`)), /signature/);
    assertInvalid(await tryInit(bearer('not-a-jwt')), /not active/);
  });

  it('refuses alg: none and symmetric algorithms (no HS/RS confusion)', async () => {
    const [, p] = (await idp.clientCredentials(gw.url)).split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    assertInvalid(await tryInit(bearer(`${none}.${p}.`)), /algorithm/);
    // HS256 keyed with the issuer's public JWKS document, the classic confusion attack.
    const jwks = await (await fetch(`${idp.issuer}/jwks`)).text();
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: idp.kid }).sign(new TextEncoder().encode(jwks));
    assertInvalid(await tryInit(bearer(hs)), /algorithm/);
  });

  it('accepts a token signed with a newly rotated key after refetching the JWKS', async () => {
    const before = idp.kid;
    assert.equal((await tryInit(bearer(await idp.clientCredentials(gw.url)))).status, 200);
    await idp.rotateKeys();
    assert.notEqual(idp.kid, before);
    await sleep(100); // past the JWKS cooldown configured above
    const token = await idp.clientCredentials(gw.url);
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid, idp.kid);
    assert.equal((await tryInit(bearer(token))).status, 200);
  });

  it('answers a token without the required scope with 403 insufficient_scope', async () => {
    const r = await tryInit(bearer(await idp.clientCredentials(gw.url, 'mcp:other')));
    assert.equal(r.status, 403);
    assert.equal(r.challenge, `Bearer resource_metadata="${prm}", scope="mcp:tools", error="insufficient_scope"`);
    assert.equal(r.json.error.data.code, 'GH_ERR_AUTH_INSUFFICIENT_SCOPE');
  });

  it('checks an opaque token by introspection (RFC 7662), audience included', async () => {
    const token = await idp.clientCredentials(gw.url, 'mcp:tools', OPAQUE_CLIENT);
    assert.equal(token.split('.').length, 1, 'an opaque token');
    assert.equal((await tryInit(bearer(token))).status, 200);
    assertInvalid(await tryInit(bearer(await idp.clientCredentials('https://other.example.com/mcp', 'mcp:tools', OPAQUE_CLIENT))), /audience/);
  });

  it('refuses an access token in the query string', async () => {
    const token = await idp.clientCredentials(gw.url);
    const r = await post(`${gw.url}?access_token=${token}`, INIT());
    assert.equal(r.status, 400);
    assert.equal(r.json.error.data.code, 'GH_ERR_AUTH_TOKEN_IN_QUERY');
  });

  it('binds a session to the principal that created it', async () => {
    const a = await idp.clientCredentials(gw.url);
    const b = await idp.clientCredentials(gw.url, 'mcp:tools', OTHER_CLIENT);
    const init = await post(gw.url, INIT(), bearer(a));
    const session = init.headers.get('mcp-session-id')!;
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const h = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const hijack = await post(gw.url, list, { ...h, ...bearer(b) });
    assert.equal(hijack.status, 404);
    assert.equal(hijack.json.error.data.code, 'GH_ERR_SESSION_NOT_FOUND');
    const anonymous = await post(gw.url, list, h);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate')!, /^Bearer resource_metadata=/);
    const owner = await post(gw.url, list, { ...h, ...bearer(a) });
    assert.equal(owner.status, 200);
    assert.ok(owner.json.result.tools.length > 0);
  });

  it('lets the SDK client discover everything from a 401 and connect through authorization code + PKCE', async () => {
    let tokens: StoredOAuthTokens | undefined;
    let verifier = '';
    let callback: URLSearchParams | undefined;
    let discovery: OAuthDiscoveryState | undefined;
    const provider: OAuthClientProvider = {
      get redirectUrl() {
        return PUBLIC_CLIENT.redirectUri;
      },
      get clientMetadata() {
        return { client_name: 'gatehouse test', redirect_uris: [PUBLIC_CLIENT.redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' };
      },
      clientInformation: (): StoredOAuthClientInformation => ({ client_id: PUBLIC_CLIENT.id }),
      tokens: () => tokens,
      saveTokens: (t) => {
        tokens = t;
      },
      redirectToAuthorization: async (url) => {
        callback = await followAuthorization(url, PUBLIC_CLIENT.redirectUri);
      },
      saveCodeVerifier: (v) => {
        verifier = v;
      },
      codeVerifier: () => verifier,
      saveDiscoveryState: (d) => {
        discovery = d;
      },
      discoveryState: () => discovery,
    };
    const client = new Client({ name: 'oauth-test', version: '1.0.0' });
    const first = new StreamableHTTPClientTransport(new URL(gw.url), { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    assert.ok(callback?.get('code'), 'the authorization endpoint redirected back with a code');
    await first.finishAuth(callback!);
    assert.ok(tokens?.access_token);
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.aud, gw.url);
    assert.equal(claims.sub, idp.account);

    const transport = new StreamableHTTPClientTransport(new URL(gw.url), { authProvider: provider });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'via pkce' } });
    assert.match(JSON.stringify(result.content), /via pkce/);
    await client.close();
  });
});

describe('gatehouse start --auth-issuer', () => {
  it('turns the resource server on without a config file', async () => {
    const idp = await startOidc();
    const ev = everythingStdio();
    const cli = new URL('../src/cli/main.ts', import.meta.url).pathname;
    const upstream = `everything=${[ev.command, ...ev.args].map((a) => JSON.stringify(a)).join(' ')}`;
    const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--log-level', 'silent', '--upstream', upstream, '--auth-issuer', idp.issuer, '--auth-scope', 'mcp:tools'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: mkdtempSync(join(tmpdir(), 'gatehouse-cli-')) });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = /^gatehouse listening on (\S+)/.exec(line);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const origin = new URL(url).origin;
      const refused = await post(url, INIT());
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('www-authenticate'), `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
      const prm = (await (await fetch(`${origin}/.well-known/oauth-protected-resource`)).json()) as { resource: string; authorization_servers: string[] };
      assert.deepEqual([prm.resource, prm.authorization_servers], [url, [idp.issuer]]);
      assert.equal((await post(url, INIT(), bearer(await idp.clientCredentials(url)))).status, 200);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      await idp.close();
    }
  });
});
