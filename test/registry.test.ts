/**
 * The registry API (issue 7) against a real gateway in front of server-everything, with virtual servers: the list in
 * the official MCP Registry's shape, pagination with small pages, search and filters, one entry by its encoded name,
 * clear 404 / 400 / 405 answers, names and URLs from the Host (or auth.publicUrl), authentication when the gateway
 * has it, versions that follow what an endpoint serves across a live reload — and every remote each entry lists is
 * a working MCP endpoint, reached by SDK clients over streamable HTTP and legacy SSE.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { configSchema } from '../src/config/schema.ts';
import { openSqliteApiKeyStore } from '../src/store/sqlite/api-keys.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { connectClient } from './integration/harness.ts';

const OFFICIAL = 'io.modelcontextprotocol.registry/official';
const OURS = 'dev.gatehouse/gateway';
/** server.json 2025-12-11: `name`, and the remote URL pattern (no template variables here). */
const NAME = /^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/;
const REMOTE_URL = /^https?:\/\/[^\s]+$/;

const WORDY = `${'A very long description. '.repeat(10)}The end.`;

function virtualServers(echoDescription = 'The echo tool of server-everything, nothing else') {
  return {
    echo: { title: 'Echo only', description: echoDescription, include: [{ tools: ['echo'] }] },
    sums: { include: [{ tools: ['get-sum', 'get-env'] }] },
    wordy: { description: WORDY },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** A GET over node:http, which (unlike fetch) lets a test set Host and Origin. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('registry API: GET /v0/servers and friends', () => {
  let gw: RunningGateway;
  let listed: any[];
  const api = (path: string, headers: Record<string, string> = {}) => get(`${gw.base}/v0${path}`, headers);
  const host = () => new URL(gw.base).host;
  const named = (entry: string) => `127.0.0.1/${entry}`;

  before(async () => {
    gw = await startGateway({ upstreams: { everything: everythingStdio() }, virtualServers: virtualServers(), server: { allowedHosts: ['mcp.example.com'] } });
    const r = await api('/servers');
    assert.equal(r.status, 200, r.text);
    listed = r.json.servers;
  });
  after(() => gw.close());

  it('lists the default endpoint and every virtual server as server.json entries, in name order', async () => {
    const r = await api('/servers');
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(r.json.metadata, { count: 4 }, 'one page: no nextCursor');
    assert.deepEqual(listed.map((e) => e.server.name), ['_default', 'echo', 'sums', 'wordy'].map(named));
    const base = gw.base;
    for (const { server, _meta } of listed) {
      assert.equal(server.$schema, 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json');
      assert.match(server.name, NAME);
      assert.ok(server.name.length <= 200);
      assert.ok([...server.description].length >= 1 && [...server.description].length <= 100, server.description);
      assert.ok([...server.title].length <= 100);
      assert.match(server.version, /^0\.\d+\.\d+(?:-[\w.]+)?\+[0-9a-f]{12}$/);
      for (const remote of server.remotes) assert.match(remote.url, REMOTE_URL);
      assert.deepEqual(Object.keys(_meta), [OFFICIAL]);
      const official = _meta[OFFICIAL];
      assert.equal(official.status, 'active');
      assert.equal(official.isLatest, true);
      assert.ok(!Number.isNaN(Date.parse(official.publishedAt)) && official.updatedAt >= official.publishedAt);
      assert.deepEqual(server._meta[OURS].upstreams, ['everything']);
      assert.equal(server._meta[OURS].authentication, 'none');
    }
    const [all, echo, sums, wordy] = listed.map((e) => e.server);
    assert.deepEqual(all.remotes, [{ type: 'streamable-http', url: `${base}/mcp` }, { type: 'sse', url: `${base}/sse` }]);
    assert.deepEqual(echo.remotes, [{ type: 'streamable-http', url: `${base}/mcp/echo` }, { type: 'sse', url: `${base}/sse/echo` }]);
    assert.equal(all.title, 'Gatehouse');
    assert.equal(all.description, 'Every upstream of this Gatehouse gateway: everything');
    assert.equal(echo.title, 'Echo only');
    assert.equal(echo.description, 'The echo tool of server-everything, nothing else');
    assert.equal(sums.title, 'sums');
    assert.equal(sums.description, 'Gatehouse virtual server "sums" over everything', 'generated from its upstreams');
    assert.equal([...wordy.description].length, 100, 'cut to the schema\'s 100 characters');
    assert.ok(wordy.description.endsWith('…') && WORDY.startsWith(wordy.description.slice(0, -1)));
    assert.deepEqual({ echo: echo._meta[OURS].tools, sums: sums._meta[OURS].tools }, { echo: 1, sums: 2 });
    assert.equal(all._meta[OURS].tools, gw.gateway.view('')!.tools.length);
    assert.equal(echo._meta[OURS].virtualServer, 'echo');
    assert.equal(all._meta[OURS].virtualServer, '');
    assert.equal(new Set(listed.map((e) => e.server.version)).size, 4, 'endpoints that serve different things have different versions');
  });

  it('pages through every entry with a small limit, each page after the last, in the same order', async () => {
    for (const limit of [1, 3]) {
      const names: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await api(`/servers?limit=${limit}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.metadata.count, r.json.servers.length);
        assert.ok(r.json.servers.length <= limit);
        names.push(...r.json.servers.map((e: any) => e.server.name));
        cursor = r.json.metadata.nextCursor;
        pages++;
      } while (cursor !== undefined);
      assert.deepEqual(names, listed.map((e) => e.server.name), `limit ${limit}`);
      assert.equal(pages, Math.ceil(4 / limit));
    }
    // A cursor holds the place, not the filter: a search can continue from it.
    const first = await api('/servers?limit=2');
    assert.deepEqual(first.json.servers.map((e: any) => e.server.name), [named('_default'), named('echo')]);
    const rest = await api(`/servers?search=o&cursor=${first.json.metadata.nextCursor}`);
    assert.deepEqual(rest.json.servers.map((e: any) => e.server.name), [named('wordy')], 'echo matches too, but came before the cursor');
  });

  it('filters by a case-insensitive substring of the name, by version and by updated_since', async () => {
    const names = async (query: string) => (await api(`/servers?${query}`)).json.servers.map((e: any) => e.server.name);
    assert.deepEqual(await names('search=ECH'), [named('echo')]);
    assert.deepEqual(await names('search=127.0.0.1%2Fs'), [named('sums')]);
    assert.deepEqual(await names('search=no-such-server'), []);
    assert.deepEqual((await api('/servers?search=no-such-server')).json.metadata, { count: 0 });
    assert.deepEqual(await names('version=latest'), listed.map((e) => e.server.name));
    assert.deepEqual(await names(`version=${encodeURIComponent(listed[1].server.version)}`), [named('echo')]);
    assert.deepEqual(await names('version=9.9.9'), []);
    assert.equal((await names('updated_since=2000-01-01T00:00:00Z')).length, 4);
    assert.deepEqual(await names('updated_since=2999-01-01T00:00:00.000Z'), []);
    assert.equal((await names('include_deleted=true')).length, 4);
  });

  it('serves one entry by its URL-encoded name: latest, its exact version, its versions, and the older route', async () => {
    const echo = listed[1];
    const encoded = encodeURIComponent(echo.server.name);
    assert.equal(encoded, '127.0.0.1%2Fecho');
    for (const path of [`/servers/${encoded}/versions/latest`, `/servers/${encoded}/versions/${encodeURIComponent(echo.server.version)}`, `/servers/${encoded}`]) {
      const r = await api(path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.deepEqual(r.json, echo, path);
    }
    // The version's "+" may also arrive unencoded: in a path it is not a space.
    assert.equal((await api(`/servers/${encoded}/versions/${echo.server.version}`)).status, 200);
    const versions = await api(`/servers/${encoded}/versions`);
    assert.deepEqual(versions.json, { servers: [echo], metadata: { count: 1 } });
    assert.equal((await api(`/servers/${encodeURIComponent(named('_default'))}/versions/latest`)).json.server.remotes[0].url, gw.url);
  });

  it('answers 404 with a JSON error naming what is missing', async () => {
    const unknown = await api(`/servers/${encodeURIComponent(named('nope'))}/versions/latest`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'GH_ERR_HTTP_NOT_FOUND');
    assert.match(unknown.json.error.message, /No server named "127\.0\.0\.1\/nope"/);
    assert.equal((await api(`/servers/${encodeURIComponent(named('nope'))}`)).status, 404);
    assert.equal((await api(`/servers/${encodeURIComponent('other.host/echo')}`)).status, 404, 'the namespace is part of the name');

    const version = await api(`/servers/${encodeURIComponent(named('echo'))}/versions/1.0.0`);
    assert.equal(version.status, 404);
    assert.match(version.json.error.message, /has no version "1\.0\.0"; its only version is 0\.\d+\.\d+.*\+[0-9a-f]{12}/);

    const raw = await api(`/servers/${named('echo')}`);
    assert.equal(raw.status, 404, 'the "/" of a name must be encoded, as in the official registry');
    assert.match(raw.json.error.message, /encode the "\/" of a server name as %2F, e\.g\. \/v0\/servers\/127\.0\.0\.1%2Fecho/);

    const other = await api('/nothing-here');
    assert.equal(other.status, 404);
    assert.match(other.json.error.message, /the registry API serves \/v0\/servers/);
  });

  it('answers 400 naming the parameter for a bad limit, cursor, updated_since or encoding', async () => {
    for (const limit of ['0', '101', 'abc', '1.5', '-1', '99999']) {
      const r = await api(`/servers?limit=${limit}`);
      assert.equal(r.status, 400, `limit=${limit}`);
      assert.match(r.json.error.message, /^limit must be an integer from 1 to 100/);
      assert.deepEqual(r.json.error.fields, [{ path: 'limit', message: 'an integer from 1 to 100' }]);
    }
    assert.equal((await api('/servers?limit=100')).status, 200);
    const notBase64 = Buffer.from('not json').toString('base64url');
    const noAfter = Buffer.from('{"before":"x"}').toString('base64url');
    for (const cursor of ['%%%', 'abc!', notBase64, noAfter, '']) {
      const r = await api(`/servers?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(r.status, 400, `cursor=${cursor}`);
      assert.match(r.json.error.message, /^cursor is not one this registry returned/);
      assert.equal(r.json.error.fields[0].path, 'cursor');
    }
    for (const since of ['yesterday', '2025-13-45T00:00:00Z', '2025-08-07']) {
      const r = await api(`/servers?updated_since=${since}`);
      assert.equal(r.status, 400, since);
      assert.equal(r.json.error.fields[0].path, 'updated_since');
    }
    assert.equal((await api('/servers?include_deleted=maybe')).json.error.fields[0].path, 'include_deleted');
    const badEncoding = await api('/servers/%E0%A4%A/versions');
    assert.equal(badEncoding.status, 400);
    assert.match(badEncoding.json.error.message, /not valid percent-encoding/);
  });

  it('takes only GET (and HEAD): 405 with an Allow header otherwise', async () => {
    for (const [method, path] of [['POST', '/servers'], ['PUT', `/servers/${encodeURIComponent(named('echo'))}/versions/latest`], ['DELETE', `/servers/${encodeURIComponent(named('echo'))}`], ['PATCH', '/servers'], ['OPTIONS', '/servers']]) {
      const r = await get(`${gw.base}/v0${path}`, {}, method);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.allow, 'GET, HEAD');
      assert.equal(r.json.error.code, 'GH_ERR_HTTP_METHOD_NOT_ALLOWED');
      assert.match(r.json.error.message, /read-only/);
    }
    const head = await get(`${gw.base}/v0/servers`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('names entries and builds URLs from the Host the client used, and refuses a DNS-rebinding Host or Origin', async () => {
    const r = await api('/servers', { host: 'mcp.example.com:8443' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.servers.map((e: any) => e.server.name), ['_default', 'echo', 'sums', 'wordy'].map((n) => `com.example.mcp/${n}`));
    assert.deepEqual(r.json.servers[1].server.remotes.map((x: any) => x.url), ['http://mcp.example.com:8443/mcp/echo', 'http://mcp.example.com:8443/sse/echo']);
    assert.equal(r.json.servers[1].server.version, listed[1].server.version, 'the version does not depend on the Host');
    const one = await api(`/servers/${encodeURIComponent('com.example.mcp/echo')}/versions/latest`, { host: 'mcp.example.com' });
    assert.equal(one.status, 200);
    assert.equal(one.json.server.remotes[0].url, 'http://mcp.example.com/mcp/echo');
    assert.equal((await api('/servers', { host: `localhost:${new URL(gw.base).port}` })).json.servers[0].server.name, 'localhost/_default');

    // Bound to loopback, the registry applies the MCP endpoint's DNS-rebinding checks.
    const rebinding = await api('/servers', { host: 'attacker.example' });
    assert.equal(rebinding.status, 403);
    assert.equal(rebinding.json.error.code, 'GH_ERR_HTTP_FORBIDDEN_ORIGIN');
    const origin = await api('/servers', { host: host(), origin: 'https://attacker.example' });
    assert.equal(origin.status, 403);
  });

  it('lists remotes that are working MCP endpoints: initialize by POST, and SDK clients over streamable HTTP and SSE', async () => {
    for (const { server } of listed) {
      const [streamable, sse] = server.remotes;
      assert.equal(streamable.type, 'streamable-http');
      assert.equal(sse.type, 'sse');
      const init = await post(streamable.url, INIT());
      assert.equal(init.status, 200, `${streamable.url}: ${init.text}`);
      assert.equal(init.json.result.serverInfo.name, 'gatehouse');
      assert.ok(init.headers.get('mcp-session-id'));
      for (const [url, transport] of [[streamable.url, 'streamable'], [sse.url, 'sse']] as const) {
        const c = await connectClient(url, { transport });
        try {
          const { tools } = await c.client.listTools();
          assert.equal(tools.length, server._meta[OURS].tools, `${transport} ${url} lists what the entry says`);
          if (server.name === named('echo')) assert.deepEqual(tools.map((t) => t.name), ['echo']);
        } finally {
          await c.close();
        }
      }
    }
  });

  it('moves an entry\'s version and updatedAt when what it serves changes on a live reload, and adds new virtual servers', async () => {
    const before = new Map(listed.map((e) => [e.server.name, e]));
    const since = new Date(Math.max(...listed.map((e) => Date.parse(e._meta[OFFICIAL].updatedAt))) + 1).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5)); // past `since` on the clock
    const current = gw.gateway.currentConfig;
    const next = configSchema.parse({
      upstreams: { everything: everythingStdio() },
      virtualServers: { ...virtualServers('Echo, described anew'), later: { include: [{ tools: ['echo'] }] } },
      server: current.server,
      store: current.store,
    });
    await gw.gateway.applyConfig(next, { upstreams: { added: [], removed: [], changed: [] } });

    const after = new Map((await api('/servers')).json.servers.map((e: any) => [e.server.name, e]));
    assert.deepEqual([...after.keys()], ['_default', 'echo', 'later', 'sums', 'wordy'].map(named));
    const [echoBefore, echoAfter] = [before.get(named('echo')), after.get(named('echo')) as any];
    assert.equal(echoAfter.server.description, 'Echo, described anew');
    assert.notEqual(echoAfter.server.version, echoBefore.server.version);
    assert.equal(echoAfter._meta[OFFICIAL].publishedAt, echoBefore._meta[OFFICIAL].publishedAt);
    assert.ok(echoAfter._meta[OFFICIAL].updatedAt > echoBefore._meta[OFFICIAL].updatedAt);
    assert.deepEqual((after.get(named('sums')) as any).server.version, before.get(named('sums')).server.version, 'unchanged endpoints keep their version');
    const changed = (await api(`/servers?updated_since=${since}`)).json.servers.map((e: any) => e.server.name);
    assert.deepEqual(changed, [named('echo'), named('later')]);
  });
});

describe('registry API with auth enabled, auth.publicUrl and legacy SSE off', () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'gatehouse-registry-')), 'gatehouse.db');
  let gw: RunningGateway;
  let key: string;

  before(async () => {
    const store = openSqliteApiKeyStore(dbPath);
    key = (await issueApiKey(store, { owner: 'registry-client' })).token;
    await store.close();
    gw = await startGateway({
      auth: { enabled: true, publicUrl: 'https://mcp.example.com/gw/' },
      store: { path: dbPath },
      server: { legacySse: false },
      upstreams: { everything: everythingStdio() },
      virtualServers: { echo: { include: [{ tools: ['echo'] }] } },
    });
  });
  after(() => gw.close());

  it('refuses a request without valid credentials with 401 and the challenge of the default endpoint', async () => {
    for (const headers of [{}, { 'x-api-key': 'gh_forged_AAAA' }] as Record<string, string>[]) {
      const r = await get(`${gw.base}/v0/servers`, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(String(r.headers['www-authenticate']), /^Bearer resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/gw\/mcp"/);
      assert.match(r.json.error.code, /^GH_ERR_AUTH_/);
    }
    assert.equal((await get(`${gw.base}/v0/servers/${encodeURIComponent('com.example.mcp/echo')}`)).status, 401, 'names are not confirmed to strangers');
  });

  it('serves a client with a key, naming entries and URLs after auth.publicUrl, streamable HTTP only', async () => {
    const r = await get(`${gw.base}/v0/servers`, { 'x-api-key': key });
    assert.equal(r.status, 200, r.text);
    const servers = r.json.servers.map((e: any) => e.server);
    assert.deepEqual(servers.map((s: any) => s.name), ['com.example.mcp/_default', 'com.example.mcp/echo']);
    assert.deepEqual(servers.map((s: any) => s.remotes), [
      [{ type: 'streamable-http', url: 'https://mcp.example.com/gw/mcp' }],
      [{ type: 'streamable-http', url: 'https://mcp.example.com/gw/mcp/echo' }],
    ]);
    assert.equal(servers[0]._meta[OURS].authentication, 'required');
    // The proxy in front strips /gw: the same path on the gateway itself is the endpoint, and takes the same key.
    for (const s of servers) {
      const path = new URL(s.remotes[0].url).pathname.slice('/gw'.length);
      const init = await post(`${gw.base}${path}`, INIT(), { 'x-api-key': key });
      assert.equal(init.status, 200, `${path}: ${init.text}`);
    }
  });
});
