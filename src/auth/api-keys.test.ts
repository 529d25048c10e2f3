/**
 * The API-key verifier: a valid key becomes its principal; a wrong secret, unknown id, expired, revoked or malformed
 * key is null; positive lookups are cached for at most the TTL (the revocation bound); last-used is written at most
 * once per interval and never on the request's path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { createApiKeyVerifier, hashApiKeySecret, isApiKeyToken, issueApiKey, parseApiKey } from './api-keys.ts';
import type { ApiKeyStore } from '../store/api-keys.ts';
import { createMemoryApiKeyStore } from '../store/memory/api-keys.ts';

/** A store that counts reads and writes, around the real memory store. */
function counting(store: ApiKeyStore = createMemoryApiKeyStore()) {
  const counts = { get: 0, touch: 0 };
  const wrapped: ApiKeyStore = {
    ...store,
    get: (id) => {
      counts.get++;
      return store.get(id);
    },
    touch: (id, at) => {
      counts.touch++;
      return store.touch(id, at);
    },
  };
  return { store: wrapped, counts };
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('API key format', () => {
  it('issues gh_<10-char id>_<43-char secret>, stores only the hash, and parses back', async () => {
    const store = createMemoryApiKeyStore();
    const { token, record } = await issueApiKey(store, { owner: 'ci-bot', name: 'deploy', scopes: ['mcp:tools', 'mcp:tools'], groups: ['devops'], expiresAt: 5, now: 1 });
    assert.match(token, /^gh_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseApiKey(token)!;
    assert.equal(parsed.id, record.id);
    assert.equal(record.secretHash, hashApiKeySecret(parsed.secret));
    assert.ok(!JSON.stringify(await store.list()).includes(parsed.secret), 'the secret is not stored');
    assert.deepEqual([record.owner, record.name, record.scopes, record.groups, record.createdAt, record.expiresAt], ['ci-bot', 'deploy', ['mcp:tools'], ['devops'], 1, 5]);
    assert.ok(isApiKeyToken(token));
    assert.ok(!isApiKeyToken('eyJhbGciOi.x.y'));
  });

  it('draws a new id when the first one is taken', async () => {
    const inner = createMemoryApiKeyStore();
    let calls = 0;
    const store: ApiKeyStore = { ...inner, create: (k) => (++calls === 1 ? inner.create({ ...k, id: 'aaaaaaaaaa' }).then(() => inner.create({ ...k, id: 'aaaaaaaaaa' })) : inner.create(k)) };
    const { record } = await issueApiKey(store, { owner: 'x' });
    assert.equal(calls, 2);
    assert.notEqual(record.id, 'aaaaaaaaaa');
  });
});

describe('createApiKeyVerifier', () => {
  it('turns a valid key into its principal', async () => {
    const store = createMemoryApiKeyStore();
    const { token, record } = await issueApiKey(store, { owner: 'ci-bot', name: 'deploy', scopes: ['mcp:tools'], groups: ['devops'] });
    const principal = await createApiKeyVerifier(store).verify(token);
    assert.deepEqual(principal, {
      id: `key:${record.id}`,
      kind: 'api-key',
      subject: 'ci-bot',
      issuer: null,
      scopes: ['mcp:tools'],
      groups: ['devops'],
      claims: { owner: 'ci-bot', name: 'deploy' },
      apiKey: { id: record.id, owner: 'ci-bot' },
    });
    assert.ok(Object.isFrozen(principal) && Object.isFrozen(principal!.scopes));
  });

  it('refuses a wrong secret, even once the key is cached', async () => {
    const store = createMemoryApiKeyStore();
    const { token, record } = await issueApiKey(store, { owner: 'ci-bot' });
    const verifier = createApiKeyVerifier(store);
    const other = `gh_${record.id}_${'A'.repeat(43)}`;
    assert.equal(await verifier.verify(other), null);
    assert.ok(await verifier.verify(token));
    assert.equal(await verifier.verify(other), null);
    assert.equal(await verifier.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
  });

  it('refuses an unknown id and does not cache the miss', async () => {
    const { store, counts } = counting();
    const verifier = createApiKeyVerifier(store);
    const ghost = `gh_aaaaaaaaaa_${'A'.repeat(43)}`;
    assert.equal(await verifier.verify(ghost), null);
    assert.equal(await verifier.verify(ghost), null);
    assert.equal(counts.get, 2);
  });

  it('refuses an expired key', async () => {
    const c = clock();
    const store = createMemoryApiKeyStore();
    const { token } = await issueApiKey(store, { owner: 'ci-bot', expiresAt: c.t + 1_000 });
    const verifier = createApiKeyVerifier(store, { now: c.now });
    assert.ok(await verifier.verify(token));
    c.t += 999;
    assert.ok(await verifier.verify(token), 'still valid from the cache just before expiry');
    c.t += 1;
    assert.equal(await verifier.verify(token), null, 'expiry is checked on every call, cached or not');
  });

  it('refuses a revoked key, and a revocation made elsewhere takes effect within the cache TTL', async () => {
    const c = clock();
    const { store, counts } = counting();
    const { token, record } = await issueApiKey(store, { owner: 'ci-bot' });
    const verifier = createApiKeyVerifier(store, { now: c.now, cacheTtlMs: 5_000 });
    assert.ok(await verifier.verify(token));
    await store.revoke(record.id, c.t);
    c.t += 4_999;
    assert.ok(await verifier.verify(token), 'served from the cache inside the TTL');
    assert.equal(counts.get, 1);
    c.t += 1;
    assert.equal(await verifier.verify(token), null, 'revoked once the TTL has passed');
    assert.equal(counts.get, 2);
    assert.equal(await createApiKeyVerifier(store, { now: c.now }).verify(token), null, 'a fresh verifier refuses it at once');
  });

  it('refuses malformed tokens without reading the store', async () => {
    const { store, counts } = counting();
    const verifier = createApiKeyVerifier(store);
    const secret = 'A'.repeat(43);
    for (const token of ['', 'gh_', 'Bearer x', `gh_aaaaaaaaa_${secret}`, `gh_aaaaaaaaaaa_${secret}`, `gh_AAAAAAAAAA_${secret}`, `gh_aaaaaaaa01_${secret}`,
      `gh_aaaaaaaaaa_${secret}A`, `gh_aaaaaaaaaa_${secret.slice(1)}`, `gh_aaaaaaaaaa-${secret}`, `xx_aaaaaaaaaa_${secret}`, `gh_aaaaaaaaaa_${'A'.repeat(42)}=`,
      `gh_aaaaaaaaaa_${'A'.repeat(42)}.`, 'eyJhbGciOiJSUzI1NiJ9.e30.sig', 42 as unknown as string]) {
      assert.equal(await verifier.verify(token), null, JSON.stringify(token));
    }
    assert.equal(counts.get, 0);
  });

  it('answers null when the store fails, and reports the failure', async () => {
    const errors: unknown[] = [];
    const store: ApiKeyStore = { ...createMemoryApiKeyStore(), get: () => Promise.reject(new Error('disk gone')) };
    const verifier = createApiKeyVerifier(store, { onError: (e) => errors.push(e) });
    assert.equal(await verifier.verify(`gh_aaaaaaaaaa_${'A'.repeat(43)}`), null);
    assert.match(String(errors[0]), /disk gone/);
  });

  it('shares one store read between concurrent misses', async () => {
    const { store, counts } = counting();
    const { token } = await issueApiKey(store, { owner: 'ci-bot' });
    const verifier = createApiKeyVerifier(store);
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    assert.ok(results.every((p) => p?.subject === 'ci-bot'));
    assert.equal(counts.get, 1);
  });

  it('writes last-used after the call, at most once per interval', async () => {
    const c = clock();
    const { store, counts } = counting();
    const { token, record } = await issueApiKey(store, { owner: 'ci-bot' });
    const verifier = createApiKeyVerifier(store, { now: c.now, touchIntervalMs: 60_000 });
    await verifier.verify(token);
    assert.equal(counts.touch, 0, 'not written on the request path');
    await tick();
    assert.equal(counts.touch, 1);
    assert.equal((await store.get(record.id))!.lastUsedAt, c.t);
    const first = c.t;
    for (let i = 0; i < 10; i++) {
      c.t += 5_000;
      await verifier.verify(token);
    }
    await tick();
    assert.equal(counts.touch, 1, 'no second write within the minute, across cache reloads');
    c.t = first + 60_000;
    await verifier.verify(token);
    await tick();
    assert.equal(counts.touch, 2);
    assert.equal((await store.get(record.id))!.lastUsedAt, first + 60_000);
  });

  it('a failed verification never touches the key', async () => {
    const { store, counts } = counting();
    const { record } = await issueApiKey(store, { owner: 'ci-bot' });
    await createApiKeyVerifier(store).verify(`gh_${record.id}_${'A'.repeat(43)}`);
    await tick();
    assert.equal(counts.touch, 0);
    assert.equal((await store.get(record.id))!.lastUsedAt, null);
  });
});
