import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import { discoverTokenEndpoint, requestToken, resourceMetadataOf, tokenTimes } from './credentials/oauth.ts';
import { TokenCell } from './credentials/token-cell.ts';
import type { Principal } from './principal.ts';
import { bindSubjectToken, carrySubjectToken, createCredentialProvider } from './upstream-credentials.ts';

function parse(upstream: Record<string, unknown>) {
  return configSchema.safeParse({ upstreams: { up: upstream } });
}

function issues(upstream: Record<string, unknown>): string {
  const r = parse(upstream);
  assert.equal(r.success, false);
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

function principal(id: string, aud: unknown): Principal {
  return { id, kind: 'oauth', subject: id, issuer: 'i', scopes: [], groups: [], claims: { aud }, apiKey: null };
}

describe('upstream auth config', () => {
  it('takes each kind on an http upstream', () => {
    for (const auth of [
      { type: 'static', headers: { authorization: 'Bearer x' } },
      { type: 'client-credentials', clientId: 'a', clientSecret: 'b' },
      { type: 'client-credentials', clientId: 'a', clientSecret: 'b', tokenUrl: 'https://idp/token', scope: 's', resource: 'https://up/mcp' },
      { type: 'token-exchange', tokenUrl: 'https://idp/token', clientId: 'a', clientSecret: 'b', audience: 'x' },
      { type: 'passthrough', audience: 'https://up/mcp' },
    ]) assert.equal(parse({ url: 'https://up/mcp', auth }).success, true, JSON.stringify(auth));
  });

  it('refuses auth on a stdio upstream, saying secrets go through env', () => {
    assert.match(issues({ command: 'x', auth: { type: 'static', headers: {} } }), /upstreams\.up\.auth: .*stdio upstream takes its secrets through env/);
  });

  it('refuses auth on a legacy sse upstream, and an authorization header next to auth', () => {
    assert.match(issues({ transport: 'sse', url: 'https://up/sse', auth: { type: 'passthrough', audience: 'a' } }), /auth: no auth key on a legacy sse upstream/);
    assert.match(issues({ url: 'https://up/mcp', headers: { Authorization: 'x' }, auth: { type: 'passthrough', audience: 'a' } }), /headers: no authorization header when auth is set/);
  });

  it('refuses static headers the transport owns, unknown kinds and missing secrets', () => {
    assert.match(issues({ url: 'https://up/mcp', auth: { type: 'static', headers: { 'Mcp-Session-Id': 'x' } } }), /a header the transport does not set itself/);
    assert.equal(parse({ url: 'https://up/mcp', auth: { type: 'magic' } }).success, false);
    assert.equal(parse({ url: 'https://up/mcp', auth: { type: 'client-credentials', clientId: 'a' } }).success, false);
    assert.equal(parse({ url: 'https://up/mcp', auth: { type: 'passthrough' } }).success, false);
  });
});

describe('providers', () => {
  it('none without auth; static answers the same array every time', () => {
    assert.equal(createCredentialProvider('up', 'https://up/mcp', undefined), null);
    const p = createCredentialProvider('up', 'https://up/mcp', { type: 'static', headers: { Authorization: 'Bearer s', 'X-Key': 'k' } })!;
    const h = p.headers(undefined);
    assert.deepEqual(h, ['authorization', 'Bearer s', 'x-key', 'k']);
    assert.equal(p.headers(undefined), h);
    assert.equal(p.current(), h);
  });

  it('passthrough forwards only a bound token whose aud names the audience', () => {
    const p = createCredentialProvider('up', 'https://up/mcp', { type: 'passthrough', audience: 'urn:up' })!;
    assert.deepEqual(p.headers(undefined), [], 'the connection\'s own messages carry nothing');
    const ok = principal('a', ['urn:gw', 'urn:up']);
    bindSubjectToken(ok, 'tok-a');
    assert.deepEqual(p.headers(ok), ['authorization', 'Bearer tok-a']);
    const single = principal('b', 'urn:up');
    bindSubjectToken(single, 'tok-b');
    assert.deepEqual(p.headers(single), ['authorization', 'Bearer tok-b']);
    const wrong = principal('c', 'urn:gw');
    bindSubjectToken(wrong, 'tok-c');
    assert.throws(() => p.headers(wrong), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_UPSTREAM_TOKEN_AUDIENCE');
    assert.throws(() => p.headers(principal('d', 'urn:up')), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN');
  });
});

describe('subject tokens', () => {
  it('a session\'s principal acts with the newer token a later request carried over (and that token\'s audience)', () => {
    const p = createCredentialProvider('up', 'https://up/mcp', { type: 'passthrough', audience: 'urn:up' })!;
    const session = principal('a', ['urn:up']);
    bindSubjectToken(session, 'old');
    assert.deepEqual(p.headers(session), ['authorization', 'Bearer old']);
    const later = principal('a', ['urn:up']);
    bindSubjectToken(later, 'new');
    carrySubjectToken(later, session);
    assert.deepEqual(p.headers(session), ['authorization', 'Bearer new']);
    const narrower = principal('a', ['urn:gw']);
    bindSubjectToken(narrower, 'gw-only');
    carrySubjectToken(narrower, session);
    assert.throws(() => p.headers(session), /not meant for upstream up/);
  });
});

describe('TokenCell', () => {
  it('shares one fetch, then serves the cached array; refreshes in the background once due', async () => {
    const cell = new TokenCell();
    let fetches = 0;
    const fetch = async () => ({ accessToken: `t${++fetches}`, expiresIn: 3600 });
    const a = cell.get(fetch, assert.fail);
    const b = cell.get(fetch, assert.fail);
    assert.ok(a instanceof Promise);
    assert.equal(a, b);
    const h = await a;
    assert.deepEqual(h, ['authorization', 'Bearer t1']);
    assert.equal(cell.get(fetch, assert.fail), h);
    cell.refreshAt = 0; // due, still valid: the old token now, a new one fetched meanwhile
    assert.equal(cell.get(fetch, assert.fail), h);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(cell.get(fetch, assert.fail), ['authorization', 'Bearer t2']);
    assert.equal(fetches, 2);
  });

  it('drops only the token a 401 was for', async () => {
    const cell = new TokenCell();
    const h = await cell.get(async () => ({ accessToken: 'x', expiresIn: undefined }), assert.fail);
    assert.equal(cell.drop(['authorization', 'Bearer x']), false, 'an equal but older array is not the cached one');
    assert.equal(cell.drop(h), true);
    assert.equal(cell.headers, null);
  });

  it('refreshes a minute early, or at 3/4 of a short lifetime', () => {
    assert.deepEqual(tokenTimes(0, 3600), { refreshAt: 3_540_000, expiresAt: 3_595_000 });
    assert.deepEqual(tokenTimes(0, 1), { refreshAt: 750, expiresAt: 900 });
    assert.deepEqual(tokenTimes(0, undefined), { refreshAt: Infinity, expiresAt: Infinity });
  });
});

describe('OAuth discovery and token requests (against a local HTTP server)', () => {
  let server: Server;
  let origin = '';
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => {};
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => handler(req, res, body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const json = (res: ServerResponse, value: unknown, status = 200) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

  it('parses resource_metadata out of a challenge', () => {
    assert.equal(resourceMetadataOf('Bearer realm="x", resource_metadata="https://a/b", scope="s"'), 'https://a/b');
    assert.equal(resourceMetadataOf('Bearer resource_metadata=https://a/b'), 'https://a/b');
    assert.equal(resourceMetadataOf('Bearer realm="x"'), undefined);
    assert.equal(resourceMetadataOf(undefined), undefined);
  });

  it('finds the token endpoint: path-inserted metadata, then RFC 8414 metadata of an issuer with a path', async () => {
    const asked: string[] = [];
    handler = (req, res) => {
      asked.push(req.url!);
      if (req.url === '/.well-known/oauth-protected-resource/tenant/mcp') return json(res, { resource: `${origin}/tenant/mcp`, authorization_servers: [`${origin}/realms/r`] });
      if (req.url === '/.well-known/oauth-authorization-server/realms/r') return json(res, { issuer: `${origin}/realms/r`, token_endpoint: `${origin}/realms/r/token`, token_endpoint_auth_methods_supported: ['client_secret_post'] });
      json(res, {}, 404);
    };
    const ep = await discoverTokenEndpoint(new URL(`${origin}/tenant/mcp`), undefined);
    assert.deepEqual(ep, { url: `${origin}/realms/r/token`, authMethods: ['client_secret_post'], resource: `${origin}/tenant/mcp` });
  });

  it('refuses metadata for another resource, and an issuer that does not match', async () => {
    handler = (req, res) => {
      if (req.url!.startsWith('/.well-known/oauth-protected-resource')) return json(res, { resource: 'https://elsewhere.example/mcp', authorization_servers: [origin] });
      json(res, {}, 404);
    };
    await assert.rejects(discoverTokenEndpoint(new URL(`${origin}/mcp`), undefined), /describes https:\/\/elsewhere.example\/mcp/);
    handler = (req, res) => {
      if (req.url!.startsWith('/.well-known/oauth-protected-resource')) return json(res, { resource: `${origin}/mcp`, authorization_servers: [origin] });
      if (req.url === '/.well-known/oauth-authorization-server') return json(res, { issuer: 'https://evil.example', token_endpoint: 'https://evil.example/token' });
      json(res, {}, 404);
    };
    await assert.rejects(discoverTokenEndpoint(new URL(`${origin}/mcp`), undefined), /names issuer https:\/\/evil.example/);
  });

  it('authenticates with client_secret_post when that is all the server takes, else HTTP Basic', async () => {
    let seen: { auth: string | undefined; form: URLSearchParams } | undefined;
    handler = (req, res, body) => {
      seen = { auth: req.headers.authorization, form: new URLSearchParams(body) };
      json(res, { access_token: 'at', token_type: 'bearer', expires_in: 60 });
    };
    const client = { clientId: 'id:1', clientSecret: 's p' };
    const post = await requestToken('up', { url: `${origin}/token`, authMethods: ['client_secret_post'], resource: undefined }, client, { grant_type: 'client_credentials', scope: undefined, resource: 'https://up/mcp' });
    assert.deepEqual(post, { accessToken: 'at', expiresIn: 60 });
    assert.equal(seen!.auth, undefined);
    assert.equal(seen!.form.get('client_secret'), 's p');
    assert.equal(seen!.form.get('resource'), 'https://up/mcp');
    assert.equal(seen!.form.has('scope'), false);
    await requestToken('up', { url: `${origin}/token`, authMethods: undefined, resource: undefined }, client, { grant_type: 'client_credentials' });
    assert.equal(seen!.auth, `Basic ${Buffer.from('id%3A1:s+p').toString('base64')}`);
    assert.equal(seen!.form.has('client_secret'), false);
  });

  it('turns an OAuth error or a non-bearer token into GH_ERR_UPSTREAM_CREDENTIALS', async () => {
    handler = (_req, res) => json(res, { error: 'invalid_grant', error_description: 'subject token expired' }, 400);
    const ep = { url: `${origin}/token`, authMethods: undefined, resource: undefined };
    await assert.rejects(requestToken('up', ep, { clientId: 'a', clientSecret: 'secret-value' }, {}), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_UPSTREAM_CREDENTIALS' && /HTTP 400, invalid_grant: subject token expired/.test(e.message) && !e.message.includes('secret-value'));
    handler = (_req, res) => json(res, { access_token: 'x', token_type: 'N_A' });
    await assert.rejects(requestToken('up', ep, { clientId: 'a', clientSecret: 'b' }, {}), /token_type N_A, not Bearer/);
  });
});
