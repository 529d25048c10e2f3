// UpstreamOAuth against a small real authorization server on 127.0.0.1: what the conformance suite does not
// cover — refresh before expiry, stale refusals, the step-up cap, and how a failed authorization surfaces.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { GatehouseError } from '../core/errors.ts';
import { NO_HEADERS } from './credentials/types.ts';
import { UpstreamOAuth, upstreamOAuthSchema } from './upstream-oauth.ts';

let base = '';
const seen = { authorize: [] as URLSearchParams[], token: [] as URLSearchParams[], register: 0 };
let refuseAuthorization = false;
let expiresIn = 3600;
let issued = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url!, base);
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  let body = '';
  req.setEncoding('utf8').on('data', (c: string) => (body += c));
  req.on('end', () => {
    switch (url.pathname) {
      case '/.well-known/oauth-protected-resource/mcp':
        return json(200, { resource: `${base}/mcp`, authorization_servers: [base] });
      case '/.well-known/oauth-authorization-server':
        return json(200, {
          issuer: base,
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          registration_endpoint: `${base}/register`,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code', 'refresh_token'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
        });
      case '/register':
        seen.register++;
        return json(201, { ...JSON.parse(body), client_id: 'client-1' });
      case '/authorize': {
        seen.authorize.push(url.searchParams);
        if (refuseAuthorization) return json(400, { error: 'access_denied' });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', 'code-1');
        back.searchParams.set('state', url.searchParams.get('state')!);
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      case '/token': {
        const form = new URLSearchParams(body);
        seen.token.push(form);
        issued++;
        return json(200, { access_token: `at-${issued}`, token_type: 'Bearer', expires_in: expiresIn, refresh_token: `rt-${issued}`, scope: form.get('scope') ?? seen.authorize.at(-1)?.get('scope') ?? undefined });
      }
    }
    json(404, { error: 'not_found' });
  });
});

before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function reset(): void {
  seen.authorize = [];
  seen.token = [];
  seen.register = 0;
  refuseAuthorization = false;
  expiresIn = 3600;
}

function provider(extra: Record<string, unknown> = {}, now?: () => number): UpstreamOAuth {
  return new UpstreamOAuth('up', `${base}/mcp`, upstreamOAuthSchema.parse({ type: 'oauth', ...extra }), { now });
}

const challenge = (): string => `Bearer error="invalid_token", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`;

test('no header before the first refusal; after a 401 one authorization-code + PKCE round gives a bearer token', async () => {
  reset();
  const oauth = provider();
  assert.equal(oauth.headers(), NO_HEADERS);
  oauth.rejected(undefined, NO_HEADERS, challenge());
  const headers = await oauth.headers();
  assert.deepEqual(headers, ['authorization', `Bearer at-${issued}`]);
  assert.equal(oauth.current(), headers);
  assert.equal(oauth.headers(), headers, 'the cached list itself while the token is fresh');
  assert.equal(seen.register, 1);
  const authz = seen.authorize[0];
  assert.equal(authz.get('code_challenge_method'), 'S256');
  assert.equal(authz.get('resource'), `${base}/mcp`);
  assert.equal(authz.get('client_id'), 'client-1');
  assert.equal(seen.token[0].get('grant_type'), 'authorization_code');
  assert.equal(seen.token[0].get('resource'), `${base}/mcp`);
  assert.ok(seen.token[0].get('code_verifier'));
});

test('a pre-registered client skips registration, and is refused to another authorization server', async () => {
  reset();
  const oauth = provider({ clientId: 'pre-1' });
  oauth.rejected(undefined, NO_HEADERS, challenge());
  await oauth.headers();
  assert.equal(seen.register, 0);
  assert.equal(seen.authorize[0].get('client_id'), 'pre-1');
  const pinned = provider({ clientId: 'pre-1', issuer: 'https://other.example.com' });
  pinned.rejected(undefined, NO_HEADERS, challenge());
  await assert.rejects(Promise.resolve(pinned.headers()), (err: unknown) => GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CREDENTIALS');
});

test('a token close to expiry is refreshed in the background while the old one is still sent', async () => {
  reset();
  let now = 1_000_000;
  expiresIn = 120;
  const oauth = provider({}, () => now);
  oauth.rejected(undefined, NO_HEADERS, challenge());
  const first = await oauth.headers();
  now += 90_000; // inside the refresh margin, not expired
  assert.equal(oauth.headers(), first, 'the current token while the refresh runs');
  const second = await oauth.headers(); // the running refresh
  assert.notEqual(second, first);
  assert.equal(seen.token.at(-1)!.get('grant_type'), 'refresh_token');
  assert.equal(seen.authorize.length, 1, 'no new authorization for a refresh');
});

test('a refusal of a token that was already replaced starts nothing', async () => {
  reset();
  const oauth = provider();
  oauth.rejected(undefined, NO_HEADERS, challenge());
  const first = await oauth.headers();
  oauth.rejected(undefined, first, challenge());
  const second = await oauth.headers();
  assert.notEqual(second, first);
  const tokens = seen.token.length;
  oauth.rejected(undefined, first, challenge()); // a late 401 for the old token
  assert.equal(oauth.headers(), second);
  assert.equal(seen.token.length, tokens);
});

test('403 insufficient_scope re-authorizes with the union of scopes, at most maxStepUps times for the same scope', async () => {
  reset();
  const oauth = provider({ maxStepUps: 2 });
  oauth.rejected(undefined, NO_HEADERS, `Bearer scope="read", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
  let headers = await oauth.headers();
  assert.equal(seen.authorize[0].get('scope'), 'read');
  const forbidden = 'Bearer error="insufficient_scope", scope="read write"';
  for (let i = 0; i < 2; i++) {
    oauth.rejected(undefined, headers, forbidden);
    headers = await oauth.headers();
  }
  // The first step-up widens the grant (a new authorization); the second, for scopes the token already holds,
  // can only refresh.
  assert.equal(seen.authorize.length, 2);
  assert.deepEqual(seen.authorize[1].get('scope')!.split(' ').sort(), ['read', 'write']);
  assert.deepEqual(seen.token.map((t) => t.get('grant_type')), ['authorization_code', 'authorization_code', 'refresh_token']);
  oauth.rejected(undefined, headers, forbidden);
  assert.equal(await oauth.headers(), headers, 'the third refusal of the same scope is left alone');
  assert.equal(seen.token.length, 3);
});

test('an authorization server that does not approve by itself fails the request with GH_ERR_UPSTREAM_CREDENTIALS', async () => {
  reset();
  refuseAuthorization = true;
  const oauth = provider();
  oauth.rejected(undefined, NO_HEADERS, challenge());
  await assert.rejects(Promise.resolve(oauth.headers()), (err: unknown) => GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CREDENTIALS' && /HTTP 400/.test(err.message));
  assert.equal(oauth.current(), NO_HEADERS);
});

test('config: clientMetadataUrl must be https', () => {
  assert.equal(upstreamOAuthSchema.safeParse({ type: 'oauth', clientMetadataUrl: 'http://example.com/client.json' }).success, false);
  assert.equal(upstreamOAuthSchema.safeParse({ type: 'oauth', clientMetadataUrl: 'https://example.com/client.json' }).success, true);
});
