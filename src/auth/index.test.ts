/**
 * The identity without an authorization server: API keys (a `gh_` bearer token or X-API-Key), anonymous access,
 * the challenge, and where the protected-resource metadata is served.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { configSchema } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import type { ApiKeyVerifier } from './identity.ts';
import { anonymousIdentity } from './identity.ts';
import { createIdentity } from './index.ts';
import { metadataTarget } from './metadata.ts';
import { ANONYMOUS } from './principal.ts';
import type { Principal } from './principal.ts';

const KEY_PRINCIPAL: Principal = { id: 'key:abc', kind: 'api-key', subject: 'ci', issuer: null, scopes: [], groups: ['ci'], claims: {}, apiKey: { id: 'abc', owner: 'ci' } };

/** A verifier that knows exactly one key. */
const keys: ApiKeyVerifier = { verify: (token) => Promise.resolve(token === 'gh_abc_secret' ? KEY_PRINCIPAL : null) };

function request(headers: Record<string, string>, url = '/mcp'): IncomingMessage {
  return { url, method: 'POST', headers } as unknown as IncomingMessage;
}

function config(auth: Record<string, unknown>) {
  return configSchema.parse({ server: { port: 8080 }, virtualServers: { ops: {} }, auth: { enabled: true, publicUrl: 'https://mcp.example.com/', ...auth } });
}

async function refusal(p: Promise<unknown>): Promise<GatehouseError> {
  const err = await p.then(() => null, (e: unknown) => e);
  assert.ok(GatehouseError.is(err), `expected a GatehouseError, got ${String(err)}`);
  return err;
}

describe('createIdentity', () => {
  it('is anonymous unless auth is enabled', () => {
    assert.equal(createIdentity(configSchema.parse({})), anonymousIdentity);
  });

  it('takes an API key as a gh_ bearer token or an X-API-Key header', async () => {
    const id = createIdentity(config({}), { apiKeys: keys });
    assert.equal(await id.authenticate(request({ authorization: 'Bearer gh_abc_secret' }), { virtualServer: '' }), KEY_PRINCIPAL);
    assert.equal(await id.authenticate(request({ 'x-api-key': 'gh_abc_secret' }), { virtualServer: 'ops' }), KEY_PRINCIPAL);
    const bad = await refusal(id.authenticate(request({ 'x-api-key': 'gh_abc_wrong' }), { virtualServer: 'ops' }));
    assert.equal(bad.code, 'GH_ERR_AUTH_INVALID_TOKEN');
    assert.equal(bad.headers?.['www-authenticate'], 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp/ops", error="invalid_token"');
  });

  it('refuses API keys when no verifier is wired, and tokens when no issuer is configured', async () => {
    const id = createIdentity(config({ scopes: ['mcp'] }));
    assert.equal((await refusal(id.authenticate(request({ authorization: 'Bearer gh_abc_secret' }), { virtualServer: '' }))).code, 'GH_ERR_AUTH_INVALID_TOKEN');
    const jwt = await refusal(id.authenticate(request({ authorization: 'Bearer a.b.c' }), { virtualServer: '' }));
    assert.equal(jwt.headers?.['www-authenticate'], 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp", error="invalid_token"');
  });

  it('serves a request without credentials as anonymous only when allowAnonymous is set', async () => {
    const strict = createIdentity(config({}));
    assert.equal((await refusal(strict.authenticate(request({}), { virtualServer: '' }))).status, 401);
    const open = createIdentity(config({ allowAnonymous: true }), { apiKeys: keys });
    assert.equal(await open.authenticate(request({}), { virtualServer: '' }), ANONYMOUS);
    assert.equal((await refusal(open.authenticate(request({ 'x-api-key': 'gh_nope' }), { virtualServer: '' }))).status, 401);
  });

  it('refuses a token in the query string before looking at anything else', async () => {
    const id = createIdentity(config({ allowAnonymous: true }));
    assert.equal((await refusal(id.authenticate(request({}, '/mcp?x=1&access_token=abc'), { virtualServer: '' }))).code, 'GH_ERR_AUTH_TOKEN_IN_QUERY');
  });

  it('serves metadata only for endpoints that exist', () => {
    const id = createIdentity(config({ issuers: [{ issuer: 'https://idp.example.com' }] }));
    const served: string[] = [];
    const res = { writeHead: () => res, end: (body?: string) => served.push(body ?? '') } as unknown as ServerResponse;
    const get = { method: 'GET', headers: {} } as IncomingMessage;
    assert.equal(id.route!(get, res, '/.well-known/oauth-protected-resource/mcp/ops'), true);
    assert.equal(JSON.parse(served[0]).resource, 'https://mcp.example.com/mcp/ops');
    assert.equal(JSON.parse(served[0]).authorization_servers[0], 'https://idp.example.com');
    assert.equal(id.route!(get, res, '/.well-known/oauth-protected-resource/mcp/nope'), false);
    assert.equal(id.route!(get, res, '/.well-known/oauth-protected-resource/other'), false);
  });
});

describe('metadataTarget', () => {
  const loc = { publicUrl: 'https://example.com/gw', path: '/mcp' };
  it('maps well-known paths to endpoints, with or without the public path prefix', () => {
    assert.equal(metadataTarget('/.well-known/oauth-protected-resource', loc), '');
    assert.equal(metadataTarget('/.well-known/oauth-protected-resource/mcp', loc), '');
    assert.equal(metadataTarget('/.well-known/oauth-protected-resource/gw/mcp', loc), '');
    assert.equal(metadataTarget('/.well-known/oauth-protected-resource/gw/mcp/a%20b', loc), 'a b');
    assert.equal(metadataTarget('/.well-known/oauth-protected-resource/mcp/a/b', loc), undefined);
    assert.equal(metadataTarget('/.well-known/oauth-protected-resourcex', loc), undefined);
  });
});
