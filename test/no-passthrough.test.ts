/**
 * Issue 3, "no token passthrough": an upstream never receives the client's token, only the credential its `auth`
 * names. A recorder upstream (test/fixtures/recorder-server.ts) keeps every header it received; the gateway
 * authenticates clients through an injected identity, and clients send `Authorization: Bearer <their token>`.
 * client-credentials runs against a real OpenID provider (test/helpers/oidc.ts); token exchange against a small
 * OAuth token endpoint started here, a test double of the organisation's IdP (oidc-provider has no RFC 8693 grant).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import pino from 'pino';
import type { Principal } from '../src/auth/principal.ts';
import { ANONYMOUS } from '../src/auth/principal.ts';
import { bindSubjectToken } from '../src/auth/upstream-credentials.ts';
import { configSchema, httpUpstreamSchema } from '../src/config/schema.ts';
import { Gateway } from '../src/gateway.ts';
import { connectStateless } from '../src/upstream/stateless.ts';
import { startRecorder } from './fixtures/recorder-server.ts';
import type { Recorder } from './fixtures/recorder-server.ts';
import { post } from './helpers/gateway.ts';
import { SERVICE_CLIENT, SHORT_CLIENT, startOidc } from './helpers/oidc.ts';
import type { OidcServer } from './helpers/oidc.ts';

const RECORDER = fileURLToPath(new URL('./fixtures/recorder-server.ts', import.meta.url));
const GATEWAY_AUDIENCE = 'http://gatehouse.test/mcp';

/** Tokens the injected identity accepts, and the `aud` each was issued for. */
const TOKENS: Record<string, { sub: string; aud: string[] }> = {
  'client-token': { sub: 'alice', aud: [GATEWAY_AUDIENCE] },
  'bob-token': { sub: 'bob', aud: [GATEWAY_AUDIENCE] },
  'shared-aud-token': { sub: 'carol', aud: [GATEWAY_AUDIENCE, 'urn:recorder'] },
};

interface Running {
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** A gateway whose identity is injected: a known bearer token is a principal, no token is anonymous. */
async function gatewayWith(upstreams: Record<string, unknown>): Promise<Running> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  // Durable state (pins, audit log) in a temporary directory, never in the repository.
  const store = { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-no-passthrough-')), 'gatehouse.db') };
  const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, namespacing: { mode: 'always' }, upstreams, store });
  const gateway = new Gateway(config, pino({ level: 'info' }, sink));
  gateway.identity = {
    authenticate: async (req) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (token === undefined) return ANONYMOUS;
      const known = TOKENS[token];
      if (known === undefined) throw new Error('unknown token');
      const principal: Principal = { id: `oauth:test#${known.sub}`, kind: 'oauth', subject: known.sub, issuer: 'test', scopes: [], groups: [], claims: { sub: known.sub, aud: known.aud }, apiKey: null };
      bindSubjectToken(principal, token);
      return principal;
    },
  };
  const url = await gateway.start();
  return { url, logs, close: () => gateway.close() };
}

/** A session opened with `token` (or none); `call` runs a tool and returns its text or the JSON-RPC error. */
async function clientSession(url: string, token?: string) {
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const init = await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, auth);
  assert.equal(init.status, 200, init.text);
  const headers = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  let id = 1;
  return {
    async call(name: string): Promise<{ text?: string; error?: { code: number; message: string; data?: { code?: string } } }> {
      const res = await post(url, { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: {} } }, headers);
      if (res.json?.error) return { error: res.json.error };
      return { text: res.json?.result?.content?.[0]?.text };
    },
  };
}

/** Every header value the recorder saw, flattened. */
function allHeaderValues(recorder: Recorder): string[] {
  return recorder.received.flatMap((r) => Object.values(r.headers).flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])));
}

function authorizations(recorder: Recorder, method?: string): (string | undefined)[] {
  return recorder.received.filter((r) => r.path.startsWith('/mcp') && (method === undefined || r.method === method)).map((r) => r.headers.authorization as string | undefined);
}

describe('no auth configured: the client token never reaches an upstream', () => {
  let recorder: Recorder;
  let gw: Running;
  before(async () => {
    recorder = await startRecorder();
    gw = await gatewayWith({
      rec: { url: recorder.url, headers: { 'x-configured': 'yes' } },
      local: { command: process.execPath, args: [RECORDER, '--stdio'], env: { API_TOKEN: 'stdio-secret' } },
    });
  });
  after(async () => {
    await gw.close();
    await recorder.close();
  });

  it('HTTP upstream: no Authorization header and no trace of the token, on any request', async () => {
    const s = await clientSession(gw.url, 'client-token');
    const { text } = await s.call('rec__headers');
    const seen = JSON.parse(text!) as Record<string, string>;
    assert.equal(seen.authorization, undefined);
    assert.equal(seen['x-configured'], 'yes');
    assert.ok(recorder.received.length >= 3, 'initialize, initialized, tools/call at least');
    assert.ok(allHeaderValues(recorder).every((v) => !v.includes('client-token')), 'the client token appears in no header');
    assert.deepEqual(authorizations(recorder).filter((a) => a !== undefined), []);
  });

  it('stdio upstream: the token is in no environment variable; the configured env is', async () => {
    const s = await clientSession(gw.url, 'client-token');
    const { text } = await s.call('local__env');
    const env = JSON.parse(text!) as Record<string, string>;
    assert.equal(env.API_TOKEN, 'stdio-secret');
    assert.ok(Object.values(env).every((v) => !v.includes('client-token')));
  });
});

describe('auth: static', () => {
  let recorder: Recorder;
  let gw: Running;
  before(async () => {
    recorder = await startRecorder();
    gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'static', headers: { authorization: 'Bearer static-secret', 'x-api-key': 'k-1' } } } });
  });
  after(async () => {
    await gw.close();
    await recorder.close();
  });

  it('sends the configured headers on every request, never the client token', async () => {
    const s = await clientSession(gw.url, 'client-token');
    const seen = JSON.parse((await s.call('rec__headers')).text!) as Record<string, string>;
    assert.equal(seen.authorization, 'Bearer static-secret');
    assert.equal(seen['x-api-key'], 'k-1');
    const mcp = recorder.received.filter((r) => r.path.startsWith('/mcp'));
    assert.ok(mcp.length >= 3);
    for (const r of mcp) assert.equal(r.headers.authorization, 'Bearer static-secret', `${r.method} ${r.path}`);
    assert.ok(allHeaderValues(recorder).every((v) => !v.includes('client-token')));
  });
});

describe('auth: client-credentials against a real OpenID provider', () => {
  let oidc: OidcServer;
  before(async () => {
    oidc = await startOidc();
  });
  after(() => oidc.close());

  /** A recorder that accepts only access tokens the provider signed for it (aud = its URL: RFC 8707 `resource`). */
  async function protectedRecorder(challengeOnly: boolean, revoked = new Set<string>()): Promise<Recorder> {
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    let url = '';
    const recorder = await startRecorder({
      protect: {
        authorizationServers: [oidc.issuer],
        challengeOnly,
        async check(authorization) {
          const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
          if (token === undefined || revoked.has(token)) return false;
          try {
            // A second of clock tolerance, as resource servers allow: `exp` is in whole seconds, so a 1-s token
            // issued late in a second would otherwise expire within milliseconds (seen as a flaky refusal under load).
            await jwtVerify(token, jwks, { issuer: oidc.issuer, audience: url, clockTolerance: 1 });
            return true;
          } catch {
            return false;
          }
        },
      },
    });
    url = recorder.url;
    return recorder;
  }

  it('discovers the authorization server from the well-known metadata and sends a token for the upstream', async () => {
    const recorder = await protectedRecorder(false);
    const gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'client-credentials', clientId: SERVICE_CLIENT.id, clientSecret: SERVICE_CLIENT.secret, scope: 'mcp:tools' } } });
    try {
      const s = await clientSession(gw.url, 'client-token');
      const seen = JSON.parse((await s.call('rec__headers')).text!) as Record<string, string>;
      const claims = decodeJwt(seen.authorization.slice('Bearer '.length));
      assert.equal(claims.aud, recorder.url, 'the resource parameter named the upstream');
      assert.equal(claims.client_id, SERVICE_CLIENT.id);
      assert.ok(allHeaderValues(recorder).every((v) => !v.includes('client-token')));
      // One token for all requests: fetched once, cached.
      const tokens = new Set(authorizations(recorder, 'POST'));
      assert.equal(tokens.size, 1);
    } finally {
      await gw.close();
      await recorder.close();
    }
  });

  it('follows resource_metadata from the upstream\'s 401 when the well-known URI has nothing', async () => {
    const recorder = await protectedRecorder(true);
    const gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'client-credentials', clientId: SERVICE_CLIENT.id, clientSecret: SERVICE_CLIENT.secret } } });
    try {
      const s = await clientSession(gw.url);
      const seen = JSON.parse((await s.call('rec__headers')).text!) as Record<string, string>;
      assert.equal(decodeJwt(seen.authorization.slice(7)).aud, recorder.url);
      assert.ok(recorder.received.some((r) => r.path === '/metadata/protected-resource'));
    } finally {
      await gw.close();
      await recorder.close();
    }
  });

  it('fetches a new token once after a 401, and refreshes a token before it expires', async () => {
    const revoked = new Set<string>();
    const recorder = await protectedRecorder(false, revoked);
    const gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'client-credentials', clientId: SHORT_CLIENT.id, clientSecret: SHORT_CLIENT.secret, tokenUrl: oidc.tokenEndpoint } } });
    try {
      const s = await clientSession(gw.url);
      const first = JSON.parse((await s.call('rec__headers')).text!).authorization as string;
      revoked.add(first.slice(7));
      const withFirst = () => authorizations(recorder, 'POST').filter((a) => a === first).length;
      const sentBefore = withFirst();
      const secondCall = await s.call('rec__headers');
      assert.ok(secondCall.text, JSON.stringify(secondCall));
      const second = JSON.parse(secondCall.text).authorization as string;
      assert.equal(withFirst(), sentBefore + 1, 'the revoked token was tried once and refused');
      assert.notEqual(second, first, 'a revoked token was replaced after the 401');
      // SHORT_CLIENT tokens live 1 s: a call after that carries a newer token, with no failed request in between.
      await new Promise((r) => setTimeout(r, 1_100));
      const sentSoFar = recorder.received.filter((r) => r.path.startsWith('/mcp')).length;
      const third = JSON.parse((await s.call('rec__headers')).text!).authorization as string;
      assert.notEqual(third, second);
      assert.equal(recorder.received.filter((r) => r.path.startsWith('/mcp')).length, sentSoFar + 1, 'no 401 round trip for an expired token');
    } finally {
      await gw.close();
      await recorder.close();
    }
  });

  it('a refused client secret fails the upstream with GH_ERR_UPSTREAM_CREDENTIALS naming the OAuth error, not the secret', async () => {
    const recorder = await protectedRecorder(false);
    const gw = await gatewayWith({ rec: { url: recorder.url, timeouts: { connect: '3s' }, auth: { type: 'client-credentials', clientId: SERVICE_CLIENT.id, clientSecret: 'wrong-secret-value', tokenUrl: oidc.tokenEndpoint } } });
    try {
      const s = await clientSession(gw.url);
      const { error } = await s.call('rec__headers');
      // initialize needs the token too, so the upstream does not start and lists no tool.
      assert.equal(error?.data?.code, 'GH_ERR_TOOL_NOT_FOUND');
      assert.ok(gw.logs.some((l) => l.includes('Could not obtain credentials for upstream rec: token endpoint answered HTTP 401, invalid_client')), gw.logs.join(''));
      assert.ok(gw.logs.every((l) => !l.includes('wrong-secret-value')));
    } finally {
      await gw.close();
      await recorder.close();
    }
  });
});

describe('auth: passthrough (explicit, audited, audience-checked)', () => {
  let recorder: Recorder;
  let gw: Running;
  before(async () => {
    recorder = await startRecorder();
    gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'passthrough', audience: 'urn:recorder' } } });
  });
  after(async () => {
    await gw.close();
    await recorder.close();
  });

  it('forwards a token whose audience names the upstream, and logs that it did (without the token)', async () => {
    const s = await clientSession(gw.url, 'shared-aud-token');
    const seen = JSON.parse((await s.call('rec__headers')).text!) as Record<string, string>;
    assert.equal(seen.authorization, 'Bearer shared-aud-token');
    const audit = gw.logs.filter((l) => l.includes('passthrough: forwarding'));
    assert.equal(audit.length, 1);
    assert.match(audit[0], /oauth:test#carol/);
    assert.ok(gw.logs.every((l) => !l.includes('shared-aud-token')));
    // The connection's own messages (initialize) act for nobody and carry no token.
    const init = recorder.received.find((r) => r.method === 'POST');
    assert.equal(init?.headers.authorization, undefined);
  });

  it('refuses a token minted for the gateway only: it never reaches the upstream', async () => {
    const s = await clientSession(gw.url, 'client-token');
    const { error } = await s.call('rec__headers');
    assert.equal(error?.data?.code, 'GH_ERR_UPSTREAM_TOKEN_AUDIENCE');
    assert.ok(allHeaderValues(recorder).every((v) => !v.includes('client-token')));
  });

  it('refuses a caller without a token', async () => {
    const s = await clientSession(gw.url);
    const { error } = await s.call('rec__headers');
    assert.equal(error?.data?.code, 'GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN');
  });
});

describe('auth: token-exchange (RFC 8693)', () => {
  /** Test double of the organisation's IdP token endpoint: exchanges `<t>` for `exchanged:<t>:<n>`. */
  const requests: URLSearchParams[] = [];
  let idp: Server;
  let tokenUrl = '';
  let recorder: Recorder;
  let gw: Running;
  before(async () => {
    idp = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        requests.push(form);
        const basic = `Basic ${Buffer.from('gateway:gw-secret').toString('base64')}`;
        res.setHeader('content-type', 'application/json');
        if (req.headers.authorization !== basic) return res.writeHead(401).end(JSON.stringify({ error: 'invalid_client' }));
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange' || !form.get('subject_token')) return res.writeHead(400).end(JSON.stringify({ error: 'invalid_request' }));
        res.end(JSON.stringify({ access_token: `exchanged:${form.get('subject_token')}:${requests.length}`, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    tokenUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/token`;
    recorder = await startRecorder();
    gw = await gatewayWith({ rec: { url: recorder.url, auth: { type: 'token-exchange', tokenUrl, clientId: 'gateway', clientSecret: 'gw-secret', audience: 'recorder-api', scope: 'read' } } });
  });
  after(async () => {
    await gw.close();
    await recorder.close();
    idp.closeAllConnections();
    await new Promise<void>((r) => idp.close(() => r()));
  });

  it('sends each caller its own exchanged token, exchanging once per caller', async () => {
    const alice = await clientSession(gw.url, 'client-token');
    const bob = await clientSession(gw.url, 'bob-token');
    const a1 = JSON.parse((await alice.call('rec__headers')).text!).authorization as string;
    const b1 = JSON.parse((await bob.call('rec__headers')).text!).authorization as string;
    const a2 = JSON.parse((await alice.call('rec__headers')).text!).authorization as string;
    assert.match(a1, /^Bearer exchanged:client-token:\d+$/);
    assert.match(b1, /^Bearer exchanged:bob-token:\d+$/);
    assert.equal(a2, a1, 'cached until expiry');
    assert.equal(requests.length, 2);
    const first = requests[0];
    assert.equal(first.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(first.get('audience'), 'recorder-api');
    assert.equal(first.get('resource'), recorder.url);
    assert.equal(first.get('scope'), 'read');
    // The upstream saw exchanged tokens only, never a client token as such.
    assert.ok(authorizations(recorder).every((a) => a === undefined || a.startsWith('Bearer exchanged:')));
  });

  it('refuses a caller without a token', async () => {
    const s = await clientSession(gw.url);
    const { error } = await s.call('rec__headers');
    assert.equal(error?.data?.code, 'GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN');
  });
});

describe('2026-07-28 (stateless) upstreams get the same per-request credentials', () => {
  /** A minimal stateless upstream and token endpoint in one (test double): records each POST's headers. */
  const seen: { method: string; authorization: string | undefined }[] = [];
  let issued = 0;
  let server: Server;
  let origin = '';
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/token') return res.end(JSON.stringify({ access_token: `t${++issued}`, token_type: 'Bearer', expires_in: 3600 }));
        const msg = JSON.parse(body) as { id: string | number; method: string };
        seen.push({ method: msg.method, authorization: req.headers.authorization });
        // The first token issued is refused once, as an upstream does with a revoked token.
        if (req.headers.authorization === 'Bearer t1') return res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('{}');
        const result = msg.method === 'server/discover'
          ? { supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'double', version: '1' } } }
          : { content: [{ type: 'text', text: String(req.headers.authorization) }] };
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const handlers = { onNotification() {}, onRequest: () => Promise.resolve({}), onClose() {} };
  const options = { capabilities: {}, clientVersion: '0' };
  const open = (auth: Record<string, unknown>) => connectStateless('double', httpUpstreamSchema.parse({ url: `${origin}/mcp`, protocol: '2026-07-28', auth }), handlers, options);

  it('passthrough: the caller\'s token on its calls, none on discovery', async () => {
    seen.length = 0;
    const conn = await open({ type: 'passthrough', audience: 'urn:recorder' });
    try {
      const carol: Principal = { id: 'oauth:test#carol', kind: 'oauth', subject: 'carol', issuer: 'test', scopes: [], groups: [], claims: { aud: ['urn:recorder'] }, apiKey: null };
      bindSubjectToken(carol, 'carol-token');
      const result = await conn.request('tools/call', { name: 'x', arguments: {} }, { principal: carol });
      assert.deepEqual(result.content, [{ type: 'text', text: 'Bearer carol-token' }]);
      assert.deepEqual(seen.map((s) => [s.method, s.authorization]), [['server/discover', undefined], ['tools/call', 'Bearer carol-token']]);
    } finally {
      await conn.close();
    }
  });

  it('static: a refused credential fails at once, with no second try', async () => {
    seen.length = 0;
    await assert.rejects(open({ type: 'static', headers: { authorization: 'Bearer t1' } }), /HTTP 401/);
    assert.deepEqual(seen.map((s) => s.method), ['server/discover']);
  });

  it('client-credentials: a refused token is replaced once, on discovery and calls alike', async () => {
    seen.length = 0;
    const conn = await open({ type: 'client-credentials', clientId: 'c', clientSecret: 's', tokenUrl: `${origin}/token` });
    try {
      const result = await conn.request('tools/call', { name: 'x', arguments: {} });
      assert.deepEqual(result.content, [{ type: 'text', text: 'Bearer t2' }]);
      assert.deepEqual(seen.map((s) => [s.method, s.authorization]), [['server/discover', 'Bearer t1'], ['server/discover', 'Bearer t2'], ['tools/call', 'Bearer t2']]);
    } finally {
      await conn.close();
    }
  });
});
