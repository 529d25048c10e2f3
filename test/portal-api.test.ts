/**
 * The portal's read API against a real gateway and real upstreams: the session (who, admin or not, how to log in),
 * the catalog with tools, schemas, scan verdicts and replica health, usage from the audit log, and its errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { aggregate } from '../src/portal/catalog-api.ts';
import type { AuditRecord } from '../src/store/audit.ts';
import { everythingStdio, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { exampleStdioCommand } from './helpers/spawn.ts';

const VERSION = '2025-11-25';

describe('portal API', () => {
  let gw: RunningGateway;
  let admin = '';
  let dev = '';
  const get = async (path: string, token: string | null = dev) => {
    const res = await fetch(`${gw.base}/portal/api${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    return { status: res.status, json: (await res.json()) as any };
  };

  before(async () => {
    gw = await startGateway({
      auth: { enabled: true },
      upstreams: { everything: everythingStdio(), notes: exampleStdioCommand('notes-stdio') },
      virtualServers: { writers: { title: 'Writers', description: 'Notes for the writing team', include: [{ upstreams: ['notes'] }] } },
    });
    admin = (await issueApiKey(gw.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    dev = (await issueApiKey(gw.gateway.apiKeys!, { owner: 'dev' })).token;
  });
  after(() => gw?.close());

  it('session: who the caller is, whether an admin, the endpoints; anonymous callers learn how to log in', async () => {
    const anon = await get('/session', null);
    assert.equal(anon.status, 200);
    assert.equal(anon.json.principal, null);
    assert.equal(anon.json.auth.enabled, true);
    assert.equal(anon.json.endpoints.mcp, '/mcp');
    assert.equal(anon.json.publicUrl, gw.base);
    assert.equal((await get('/session')).json.admin, false);
    const me = (await get('/session', admin)).json;
    assert.equal(me.admin, true);
    assert.match(me.principal.id, /^key:/);
  });

  it('the catalog needs a principal when auth is on', async () => {
    const r = await get('/servers', null);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'GH_ERR_AUTH_REQUIRED');
  });

  it('lists the default endpoint and every virtual server with endpoints, tool counts and health', async () => {
    const { status, json } = await get('/servers');
    assert.equal(status, 200);
    const [all, writers] = json.servers;
    assert.equal(all.name, '');
    assert.equal(all.endpoint, '/mcp');
    assert.deepEqual(all.upstreams, ['everything', 'notes']);
    assert.equal(all.health, 'ready');
    assert.equal(writers.name, 'writers');
    assert.equal(writers.title, 'Writers');
    assert.equal(writers.endpoint, '/mcp/writers');
    assert.equal(writers.sseEndpoint, '/sse/writers');
    assert.deepEqual(writers.upstreams, ['notes']);
    assert.ok(writers.tools > 0 && writers.tools < all.tools);
  });

  it('a server page: tools with schemas, annotations and scan verdicts; upstreams with their replicas', async () => {
    const { status, json } = await get('/servers/_');
    assert.equal(status, 200);
    const echo = json.toolList.find((t: { name: string }) => t.name === 'everything__echo');
    assert.equal(echo.upstream, 'everything');
    assert.equal(echo.inputSchema.type, 'object');
    assert.ok(echo.inputSchema.properties.message);
    assert.equal(echo.verdict, 'allow');
    assert.ok(json.toolList.some((t: { annotations?: object }) => t.annotations !== undefined), 'annotations come along');
    const everything = json.upstreamList.find((u: { name: string }) => u.name === 'everything');
    assert.equal(everything.status, 'ready');
    assert.equal(everything.replicas[0].state, 'closed');
    assert.equal((await get('/servers/writers')).json.toolList.every((t: { upstream: string }) => t.upstream === 'notes'), true);
    const missing = await get('/servers/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /default endpoint is "_"/);
  });

  it('usage from the audit log: calls, errors and latency per bucket, top tools and principals', async () => {
    const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${dev}` });
    const headers = { authorization: `Bearer ${dev}`, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': VERSION };
    for (let i = 0; i < 3; i++) await post(gw.url, { jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'm' } } }, headers);
    await post(gw.url, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'everything__nope', arguments: {} } }, headers);
    const { status, json } = await get('/usage?window=1h&server=_');
    assert.equal(status, 200);
    assert.equal(json.bucketSeconds, 60);
    assert.equal(json.buckets.length, 60);
    const total = json.buckets.reduce((n: number, b: { calls: number }) => n + b.calls, 0);
    assert.ok(total >= 4, `calls counted: ${total}`);
    assert.ok(json.buckets.reduce((n: number, b: { errors: number }) => n + b.errors, 0) >= 1);
    assert.equal(json.topTools[0].tool, 'everything__echo');
    assert.equal(json.topTools[0].calls, 3);
    assert.match(json.topPrincipals[0].principal, /^key:/);
    const bad = await get('/usage?window=1y');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.fields[0].path, 'window');
  });

  it('is read-only', async () => {
    const res = await fetch(`${gw.base}/portal/api/servers`, { method: 'POST', headers: { authorization: `Bearer ${dev}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });

  it('/portal redirects to /portal/, and nothing outside the built portal is served', async () => {
    const res = await fetch(`${gw.base}/portal`, { redirect: 'manual' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.get('location'), '/portal/');
    const escape = await fetch(`${gw.base}/portal/..%2f..%2fpackage.json`);
    // The built portal answers unknown paths with its page (its own routes), never with a file outside web/dist.
    assert.doesNotMatch(await escape.text(), /devDependencies/, 'package.json is not reachable');
  });
});

describe('usage aggregation', () => {
  it('puts records in their buckets and takes percentiles per bucket', () => {
    const at = (ms: number, latencyMs: number, outcome: 'ok' | 'error' = 'ok', target = 'a') => ({ time: new Date(ms).toISOString(), latencyMs, outcome, target, method: 'tools/call', principal: 'p' }) as unknown as AuditRecord;
    const records = [at(0, 10), at(10, 20), at(20, 30, 'error'), at(60_000, 5, 'ok', 'b'), at(-1, 99), at(180_000, 1)];
    const { buckets, topTools } = aggregate(records, 0, 120_000, 60_000);
    assert.equal(buckets.length, 2);
    assert.deepEqual(buckets[0], { t: 0, calls: 3, errors: 1, p50Ms: 20, p99Ms: 30 });
    assert.deepEqual(buckets[1], { t: 60_000, calls: 1, errors: 0, p50Ms: 5, p99Ms: 5 });
    assert.deepEqual(topTools, [{ tool: 'a', calls: 3, errors: 1 }, { tool: 'b', calls: 1, errors: 0 }]);
  });
});

describe('portal API and the authorization policy', () => {
  let gw: RunningGateway;
  after(() => gw?.close());

  it('shows each caller only the tools the policy lets them see', async () => {
    gw = await startGateway({
      auth: { enabled: true },
      upstreams: { everything: everythingStdio() },
      policy: { rules: [{ name: 'ops-only-sum', effect: 'deny', when: { groups: ['interns'] }, on: { tools: ['get-sum'] } }] },
    });
    const intern = (await issueApiKey(gw.gateway.apiKeys!, { owner: 'i', groups: ['interns'] })).token;
    const staff = (await issueApiKey(gw.gateway.apiKeys!, { owner: 's' })).token;
    const names = async (token: string) => {
      const res = await fetch(`${gw.base}/portal/api/servers/_`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { toolList: { name: string }[] }).toolList.map((t) => t.name);
    };
    assert.ok((await names(staff)).includes('get-sum'));
    const seen = await names(intern);
    assert.ok(!seen.includes('get-sum') && seen.includes('echo'), seen.join(', '));
  });
});

describe('the built portal', () => {
  let gw: RunningGateway;
  after(() => gw?.close());

  it('is served under a configured portal.path, its page told where; a missing asset is a 404', async () => {
    gw = await startGateway({ portal: { path: '/console' }, upstreams: {} });
    // npm test builds the portal first.
    const page = await fetch(`${gw.base}/console/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<base href="\/console\/">/);
    assert.equal((await fetch(`${gw.base}/console/servers/anything`)).status, 200, 'the page for the front end\'s own routes');
    const stale = await fetch(`${gw.base}/console/assets/index-0000000.js`);
    assert.equal(stale.status, 404);
    assert.equal((await fetch(`${gw.base}/portal/`)).status, 404, 'not at the default path any more');
  });
});
