/**
 * API keys end to end: a key created with the CLI's store is accepted by a running gateway (as a bearer token or
 * in X-API-Key), its principal owns the session, and a revoked or forged key gets 401 with the metadata link.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { openSqliteApiKeyStore } from '../src/store/sqlite/api-keys.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

describe('API keys through a running gateway', () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'gatehouse-keys-')), 'gatehouse.db');
  let gw: RunningGateway;
  let good: string;
  let revoked: string;

  before(async () => {
    const store = openSqliteApiKeyStore(dbPath);
    good = (await issueApiKey(store, { owner: 'ci-bot', scopes: ['mcp:tools'] })).token;
    const r = await issueApiKey(store, { owner: 'old-bot' });
    revoked = r.token;
    await store.revoke(r.record.id, Date.now());
    await store.close();
    gw = await startGateway({ auth: { enabled: true }, store: { path: dbPath }, upstreams: { everything: everythingStdio() } });
  });
  after(() => gw.close());

  it('accepts a key as a bearer token and in X-API-Key, and binds the session to its principal', async () => {
    const init = await post(gw.url, INIT(), { authorization: `Bearer ${good}` });
    assert.equal(init.status, 200, init.text);
    const session = init.headers.get('mcp-session-id')!;
    const call = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'keyed' } } }, { 'x-api-key': good, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    assert.match(JSON.stringify(call.json.result), /keyed/);
    assert.equal([...gw.gateway.sessions.values()].find((s) => s.id === session)?.principal.apiKey?.owner, 'ci-bot');
  });

  it('refuses missing, revoked and forged keys with 401 and the metadata link', async () => {
    const cases: Record<string, string>[] = [{}, { authorization: `Bearer ${revoked}` }, { 'x-api-key': `${good.slice(0, -4)}AAAA` }];
    for (const headers of cases) {
      const r = await post(gw.url, INIT(), headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer .*resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
    }
  });
});
