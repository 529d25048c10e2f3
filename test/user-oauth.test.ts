/**
 * Issue 3 item 3, the per-user credential vault: an upstream with `auth: { type: oauth, approval: user }` gets each
 * user's own token. A real authorization server (test/helpers/oidc.ts, consent without a user) issues JWTs for the
 * recorder upstream (test/fixtures/recorder-server.ts), which checks them; two principals are injected through the
 * identity. First call -> -32042 with a link; the link is followed as a browser would, up to the gateway's callback;
 * then the user's calls carry their token, another user still gets a link, the SQLite file holds no token in
 * clear, and a revocation brings the link back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import type { Principal } from '../src/auth/principal.ts';
import { ANONYMOUS } from '../src/auth/principal.ts';
import { configSchema } from '../src/config/schema.ts';
import { Gateway } from '../src/gateway.ts';
import { runVault } from '../src/cli/vault.ts';
import { startRecorder } from './fixtures/recorder-server.ts';
import type { Recorder } from './fixtures/recorder-server.ts';
import { post } from './helpers/gateway.ts';
import { followAuthorization, PUBLIC_CLIENT, startOidc } from './helpers/oidc.ts';
import type { OidcServer } from './helpers/oidc.ts';

const USERS: Record<string, string> = { 'p-token': 'pat', 'q-token': 'quinn' };
const P = 'oauth:test#pat';

function principalOf(sub: string): Principal {
  return { id: `oauth:test#${sub}`, kind: 'oauth', subject: sub, issuer: 'test', scopes: [], groups: [], claims: { sub }, apiKey: null };
}

async function session(url: string, token: string) {
  const auth: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
  const init = await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, auth);
  assert.equal(init.status, 200, init.text);
  const headers = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  let id = 1;
  return {
    async call(name: string): Promise<{ text?: string; error?: { code: number; message: string; data?: any } }> {
      const res = await post(url, { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: {} } }, headers);
      if (res.json?.error) return { error: res.json.error };
      return { text: res.json?.result?.content?.[0]?.text };
    },
  };
}

describe('config of approval: user', () => {
  it('needs the vault key, 32 bytes', () => {
    const upstreams = { saas: { url: 'https://saas.example.com/mcp', auth: { type: 'oauth', approval: 'user', clientId: 'gatehouse' } } };
    const missing = configSchema.safeParse({ upstreams });
    assert.equal(missing.success, false);
    assert.deepEqual(missing.error!.issues[0].path, ['upstreams', 'saas', 'auth', 'approval']);
    assert.equal(configSchema.safeParse({ upstreams, vault: { key: randomBytes(16).toString('base64') } }).success, false);
    assert.equal(configSchema.safeParse({ upstreams, vault: { key: randomBytes(32).toString('base64') } }).success, true);
  });
});

describe('per-user credential vault (approval: user)', () => {
  let oidc: OidcServer;
  let recorder: Recorder;
  let strict: Recorder;
  let gateway: Gateway;
  let url: string;
  let origin: string;
  let dir: string;
  const accepted: string[] = [];

  before(async () => {
    oidc = await startOidc();
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    let resource = '';
    recorder = await startRecorder({
      protect: {
        // Anonymous initialize and listing are allowed (the catalog connection acts for nobody); a bearer token must
        // be a JWT of the authorization server for this resource.
        async check(authorization) {
          if (authorization === undefined) return true;
          const token = /^Bearer (.+)$/.exec(authorization)?.[1];
          if (token === undefined) return false;
          try {
            await jwtVerify(token, jwks, { issuer: oidc.issuer, audience: resource });
            accepted.push(token);
            return true;
          } catch {
            return false;
          }
        },
        authorizationServers: [oidc.issuer],
      },
    });
    resource = recorder.url;
    strict = await startRecorder({
      protect: {
        // No anonymous access at all: the catalog connection cannot list before a user authorized.
        async check(authorization) {
          const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
          if (token === undefined) return false;
          return jwtVerify(token, jwks, { issuer: oidc.issuer, audience: strict.url }).then(() => true, () => false);
        },
        authorizationServers: [oidc.issuer],
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-vault-'));
    const upstreamUrl = { strict: strict.url };
    const config = configSchema.parse({
      server: { host: '127.0.0.1', port: 0 },
      namespacing: { mode: 'always' },
      store: { path: join(dir, 'gatehouse.db') },
      vault: { key: randomBytes(32).toString('base64') },
      upstreams: {
        saas: { url: recorder.url, auth: { type: 'oauth', approval: 'user', clientId: PUBLIC_CLIENT.id, redirectUrl: PUBLIC_CLIENT.redirectUri, scope: 'mcp:tools offline_access' } },
        strict: { url: upstreamUrl.strict, auth: { type: 'oauth', approval: 'user', clientId: PUBLIC_CLIENT.id, redirectUrl: PUBLIC_CLIENT.redirectUri, scope: 'mcp:tools' } },
      },
    });
    gateway = new Gateway(config, pino({ level: 'silent' }));
    gateway.identity = {
      authenticate: async (req) => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (token === undefined) return ANONYMOUS;
        const sub = USERS[token];
        if (sub === undefined) throw new Error('unknown token');
        return principalOf(sub);
      },
    };
    url = await gateway.start();
    origin = new URL(url).origin;
  });
  after(async () => {
    await gateway?.close();
    await recorder?.close();
    await strict?.close();
    await oidc?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('no token: -32042 with a URL-mode elicitation that carries the authorization link', async () => {
    const p = await session(url, 'p-token');
    const { error } = await p.call('saas__headers');
    assert.equal(error?.code, -32042, JSON.stringify(error));
    assert.equal(error?.data?.code, 'GH_ERR_UPSTREAM_AUTHORIZATION_REQUIRED');
    const [elicitation] = error!.data.elicitations;
    assert.equal(elicitation.mode, 'url');
    assert.equal(typeof elicitation.elicitationId, 'string');
    const link = new URL(elicitation.url);
    assert.equal(link.origin, oidc.issuer);
    assert.equal(link.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(link.searchParams.get('resource'), recorder.url);
  });

  it('after the user authorizes, their calls carry their own token; another user still gets a link', async () => {
    const p = await session(url, 'p-token');
    const first = await p.call('saas__headers');
    const link = new URL(first.error!.data.elicitations[0].url);
    // The browser: consent at the authorization server, then its redirect to the gateway's callback.
    const back = await followAuthorization(link, PUBLIC_CLIENT.redirectUri);
    const callback = await fetch(`${origin}/oauth/callback?${back.toString()}`);
    assert.equal(callback.status, 200);
    assert.match(await callback.text(), /return to your client/);
    // The same state cannot be redeemed twice.
    assert.equal((await fetch(`${origin}/oauth/callback?${back.toString()}`)).status, 400);

    const { text, error } = await p.call('saas__headers');
    assert.equal(error, undefined, JSON.stringify(error));
    const seen = JSON.parse(text!) as Record<string, string>;
    const token = /^Bearer (.+)$/.exec(seen.authorization ?? '')?.[1];
    assert.ok(token !== undefined && accepted.includes(token), 'the recorder accepted the user token');
    assert.ok(!seen.authorization.includes('p-token'), 'never the client token');
    // P's own upstream connection (pool sharing per-user): initialize and the call went with P's token, on one
    // upstream session that is not the catalog connection's.
    const mine = recorder.received.filter((r) => r.method === 'POST' && r.headers.authorization === `Bearer ${token}`);
    assert.ok(mine.length >= 3, 'initialize, initialized, tools/call');
    assert.equal(mine[0].headers['mcp-session-id'], undefined, 'the first is an initialize');
    const anonymousSessions = new Set(recorder.received.filter((r) => r.headers.authorization === undefined).map((r) => r.headers['mcp-session-id']));
    assert.ok(!anonymousSessions.has(mine.at(-1)!.headers['mcp-session-id']));

    const q = await session(url, 'q-token');
    const other = await q.call('saas__headers');
    assert.equal(other.error?.code, -32042);

    // Nothing of the token in clear in the SQLite file (and its WAL), nor in the audit log beside it.
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(join(dir, f)).isFile()).map((f) => readFileSync(join(dir, f)).toString('latin1'));
    assert.ok(files.length > 0);
    for (const content of files) {
      assert.ok(!content.includes(token!), 'access token not in clear');
      assert.ok(!content.includes(token!.slice(-20)), 'no part of it either');
    }
    const rows = await gateway.userOAuth!.vault.list();
    assert.deepEqual(rows.map((r) => [r.principal, r.upstream]), [['oauth:test#pat', 'saas']]);
    // The admin's view: rows, never tokens.
    let printed = '';
    const out = new Writable({ write(chunk: Buffer, _e, done) { printed += chunk.toString(); done(); } });
    assert.equal(await runVault(['list', '--store', join(dir, 'gatehouse.db'), '--json'], out), 0);
    assert.deepEqual((JSON.parse(printed) as { principal: string }[]).map((r) => r.principal), ['oauth:test#pat']);
    assert.ok(!printed.includes(token!));
  });

  it('refresh before expiry with the refresh token; a refused refresh deletes the row and asks again', async () => {
    const vault = gateway.userOAuth!.vault;
    const stored = (await vault.get(P, 'saas'))!;
    assert.ok(stored.refresh_token, 'offline_access gave a refresh token');
    const provider = gateway.userOAuth!.provider('saas', recorder.url, gateway.currentConfig.upstreams.saas.auth as never);
    // Due for refresh: expires in 10 s (inside the refresh margin).
    await vault.put(P, 'saas', { ...stored, expires_at: Date.now() + 10_000 });
    provider.forget(P);
    const p = await session(url, 'p-token');
    const { text, error } = await p.call('saas__headers');
    assert.equal(error, undefined, JSON.stringify(error));
    const sent = /^Bearer (.+)$/.exec((JSON.parse(text!) as Record<string, string>).authorization)![1];
    assert.notEqual(sent, stored.access_token, 'a refreshed token');
    assert.ok(accepted.includes(sent));
    const refreshed = (await vault.get(P, 'saas'))!;
    assert.equal(refreshed.access_token, sent);
    assert.ok(refreshed.expires_at! > Date.now() + 60_000);

    // A refresh token the server refuses: the row goes, the user gets a link.
    await vault.put(P, 'saas', { ...refreshed, refresh_token: 'bogus', expires_at: Date.now() - 1 });
    provider.forget(P);
    const again = await p.call('saas__headers');
    assert.equal(again.error?.code, -32042, JSON.stringify(again));
    assert.equal(await vault.get(P, 'saas'), null);
    // Authorize again for the revocation test.
    const back = await followAuthorization(new URL(again.error!.data.elicitations[0].url), PUBLIC_CLIENT.redirectUri);
    assert.equal((await fetch(`${origin}/oauth/callback?${back.toString()}`)).status, 200);
    assert.equal((await p.call('saas__headers')).error, undefined);
  });

  it('a user revokes their token: DELETE /oauth/tokens/<upstream>, then the link comes back', async () => {
    const unauth = await fetch(`${origin}/oauth/tokens/saas`, { method: 'DELETE', headers: { authorization: 'Bearer q-token' } });
    assert.equal(unauth.status, 404, 'Q has nothing to revoke');
    const res = await fetch(`${origin}/oauth/tokens/saas`, { method: 'DELETE', headers: { authorization: 'Bearer p-token' } });
    assert.equal(res.status, 204);
    assert.equal((await fetch(`${origin}/oauth/tokens/saas`, { method: 'GET', headers: { authorization: 'Bearer p-token' } })).status, 405);
    const p = await session(url, 'p-token');
    const { error } = await p.call('saas__headers');
    assert.equal(error?.code, -32042);
    assert.deepEqual(await gateway.userOAuth!.vault.list(), []);
  });

  it('an upstream that refuses anonymous listing: "needs authorization" in /readyz, a link from GET /oauth/authorize/<upstream>, tools once a user authorized', async () => {
    const ready = await (await fetch(`${origin}/readyz`)).json() as { ready: boolean; upstreams: Record<string, { status: string }> };
    assert.equal(ready.upstreams.strict.status, 'needs authorization');
    assert.equal(ready.upstreams.saas.status, 'ready');
    assert.equal(ready.ready, true, 'waiting for a user does not make the gateway unready');
    assert.equal((await fetch(`${origin}/oauth/authorize/nope`, { headers: { authorization: 'Bearer q-token' } })).status, 404);
    const res = await fetch(`${origin}/oauth/authorize/strict`, { headers: { authorization: 'Bearer q-token' } });
    assert.equal(res.status, 200);
    const { url: link } = await res.json() as { url: string };
    const back = await followAuthorization(new URL(link), PUBLIC_CLIENT.redirectUri);
    assert.equal((await fetch(`${origin}/oauth/callback?${back.toString()}`)).status, 200);
    // The catalog connection's next restart lists with Q's token (restart backoff: well under 10 s here).
    const deadline = Date.now() + 15_000;
    let status = '';
    let last = '';
    while (Date.now() < deadline) {
      const r = ((await (await fetch(`${origin}/readyz`)).json()) as { upstreams: Record<string, { status: string; error?: string }> }).upstreams.strict;
      status = r.status; last = r.error ?? '';
      if (status === 'ready') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'ready', last);
    const q = await session(url, 'q-token');
    const { text, error } = await q.call('strict__headers');
    assert.equal(error, undefined, JSON.stringify(error));
    assert.match((JSON.parse(text!) as Record<string, string>).authorization, /^Bearer ey/);
    // Anonymous callers never share an account.
    const anon = await session(url, '');
    assert.equal((await anon.call('strict__headers')).error?.data?.code, 'GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN');
    // P has not authorized there: P gets the link.
    const p = await session(url, 'p-token');
    assert.equal((await p.call('strict__headers')).error?.code, -32042);
  });
});
