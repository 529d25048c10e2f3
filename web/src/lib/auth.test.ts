import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { challengeOf, finishLogin, loadCredential, saveCredential, startLogin } from './auth.ts';

function memory() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}
const login = { issuer: 'https://idp', authorizationEndpoint: 'https://idp/auth', tokenEndpoint: 'https://idp/token', clientId: 'portal', scopes: ['openid', 'mcp:tools'] };
const opts = { redirectUri: 'http://gw/portal/callback', resource: 'http://gw/mcp', returnTo: '/servers/_' };

describe('sign-in with PKCE', () => {
  it('computes the S256 challenge as RFC 7636 says', async () => {
    const verifier = 'a'.repeat(43) + '-._~';
    assert.equal(await challengeOf(verifier), createHash('sha256').update(verifier).digest('base64url'));
  });

  it('sends the challenge, state and resource, and trades the code with the verifier', async () => {
    const store = memory();
    const url = await startLogin(store, login, opts);
    const q = url.searchParams;
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('scope'), 'openid mcp:tools');
    assert.equal(q.get('resource'), 'http://gw/mcp');
    let sent: URLSearchParams | null = null;
    const fetcher = (async (_u: string, init: RequestInit) => {
      sent = new URLSearchParams(init.body as string);
      return Response.json({ access_token: 'jwt', expires_in: 60 });
    }) as typeof fetch;
    const { credential, returnTo } = await finishLogin(store, new URLSearchParams({ code: 'c1', state: q.get('state')! }), fetcher);
    assert.equal(credential.token, 'jwt');
    assert.equal(returnTo, '/servers/_');
    assert.equal(await challengeOf(sent!.get('code_verifier')!), q.get('code_challenge'));
    assert.equal(sent!.get('grant_type'), 'authorization_code');
    assert.equal(sent!.get('redirect_uri'), opts.redirectUri);
  });

  it('refuses an answer with another state, or one never asked for', async () => {
    const store = memory();
    await startLogin(store, login, opts);
    await assert.rejects(finishLogin(store, new URLSearchParams({ code: 'c', state: 'forged' })), /state mismatch/);
    await assert.rejects(finishLogin(store, new URLSearchParams({ code: 'c', state: 'x' })), /No sign-in was started/);
  });

  it('forgets an expired credential', () => {
    const store = memory();
    saveCredential(store, { token: 't', method: 'oauth', expiresAt: 1000 });
    assert.equal(loadCredential(store, 999)?.token, 't');
    assert.equal(loadCredential(store, 1000), null);
  });
});
