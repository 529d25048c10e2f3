/**
 * The admin API against a real gateway with real upstreams (server-everything, the notes example and the mutable
 * fixture over stdio): authorization (anonymous 401 with the metadata link, non-admin 403), upstreams and virtual
 * servers created, replaced and deleted live and kept across a restart, bad input answered 400 naming the field,
 * approvals with their diff, API keys, the audit log and the status routes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { everythingStdio, openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { exampleStdioCommand, nodeBinary } from './helpers/spawn.ts';

const MUTABLE = new URL('./fixtures/mutable-server.ts', import.meta.url).pathname;
const VERSION = '2025-11-25';

describe('admin API', () => {
  const store = join(mkdtempSync(join(tmpdir(), 'gatehouse-admin-')), 'gatehouse.db');
  const config = {
    store: { path: store },
    auth: { enabled: true },
    upstreams: { everything: everythingStdio() },
  };
  let gw: RunningGateway;
  let admin = '';
  let user = '';

  const api = async (method: string, path: string, body?: unknown, token: string | null = admin, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.base}/admin${path}`, {
      method,
      headers: { ...(token !== null && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text === '' ? null : JSON.parse(text) };
  };
  /** Tool names the default endpoint lists to a client with `token`. */
  const tools = async (token: string, path = '') => {
    const url = `${gw.url}${path}`;
    const init = await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${token}` });
    assert.equal(init.status, 200, init.text);
    const session = init.headers.get('mcp-session-id')!;
    const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    return (r.json.result.tools as { name: string }[]).map((t) => t.name);
  };

  before(async () => {
    gw = await startGateway(config);
    const keys = gw.gateway.apiKeys!;
    admin = (await issueApiKey(keys, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    user = (await issueApiKey(keys, { owner: 'dev', scopes: ['read'] })).token;
  });
  after(() => gw?.close());

  it('serves its OpenAPI document to anyone', async () => {
    const { status, json } = await api('GET', '/openapi.json', undefined, null);
    assert.equal(status, 200);
    assert.equal(json.openapi, '3.1.0');
    for (const path of ['/admin/upstreams/{name}', '/admin/virtual-servers/{name}', '/admin/approvals/{id}/approve', '/admin/keys', '/admin/audit']) assert.ok(json.paths[path], path);
    assert.ok(json.components.schemas.Upstream.oneOf, 'the upstream definition is the config schema');
  });

  it('refuses anonymous callers with 401 and the metadata link, and non-admins with 403', async () => {
    const anon = await api('GET', '/upstreams', undefined, null);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource/);
    const dev = await api('GET', '/upstreams', undefined, user);
    assert.equal(dev.status, 403);
    assert.equal(dev.json.error.code, 'GH_ERR_ADMIN_FORBIDDEN');
    assert.match(dev.json.error.message, /gatehouse:admin/);
    assert.equal((await api('DELETE', '/upstreams/everything', undefined, user)).status, 403, 'a write is refused too');
    assert.equal((await api('GET', '/me')).json.principal.id, (await api('GET', '/me')).json.principal.id);
  });

  it('lists the upstreams of the config file with their status', async () => {
    const { status, json } = await api('GET', '/upstreams');
    assert.equal(status, 200);
    const everything = json.upstreams.find((u: { name: string }) => u.name === 'everything');
    assert.equal(everything.source, 'file');
    assert.equal(everything.status, 'ready');
    assert.ok(everything.tools > 5);
    assert.equal(everything.definition.transport, 'stdio');
  });

  it('registers an upstream live: 201, its tools are listed at once; a replacement answers 200', async () => {
    const notes = exampleStdioCommand('notes-stdio');
    const created = await api('PUT', '/upstreams/notes', { command: notes.command, args: notes.args, title: 'Notes' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.headers.get('location'), '/admin/upstreams/notes');
    assert.equal(created.json.source, 'admin');
    assert.equal(created.json.status, 'ready');
    assert.ok((await tools(admin)).some((n) => n.startsWith('notes__')), 'its tools are listed');
    const replaced = await api('PUT', '/upstreams/notes', { command: notes.command, args: notes.args, title: 'Team notes' });
    assert.equal(replaced.status, 200);
    assert.equal((await api('GET', '/upstreams/notes')).json.definition.title, 'Team notes');
  });

  it('answers bad definitions with 400 naming the field, and changes nothing', async () => {
    const bad = async (body: unknown, field: RegExp, headers?: Record<string, string>) => {
      const r = await api('PUT', '/upstreams/broken', body, admin, headers);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error.code, 'GH_ERR_API_INVALID');
      assert.ok(r.json.error.fields.some((f: { path: string }) => field.test(f.path)), JSON.stringify(r.json.error.fields));
      return r;
    };
    await bad({ command: 5 }, /^command$/);
    const unknown = await bad({ url: 'http://127.0.0.1:1/mcp', bogus: true }, /^\(body\)$|bogus/);
    assert.match(unknown.json.error.message, /bogus/);
    const ssrf = await bad({ url: 'http://169.254.169.254/latest/meta-data' }, /^url$/);
    assert.match(ssrf.json.error.message, /allowlist|metadata|link-local/i);
    await bad({ url: 'http://127.0.0.1:1/mcp', timeouts: { request: 'fast' } }, /^timeouts\.request$/);
    const notJson = await api('PUT', '/upstreams/broken', '{not json');
    assert.equal(notJson.status, 400);
    assert.match(notJson.json.error.message, /not valid JSON/);
    const form = await fetch(`${gw.base}/admin/upstreams/broken`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(form.status, 415);
    const badName = await api('PUT', '/upstreams/no%20spaces', { command: 'node' });
    assert.equal(badName.status, 400);
    assert.equal((await api('GET', '/upstreams/broken')).status, 404, 'nothing was created');
  });

  it('masks secrets it shows, and a definition sent back as read keeps them', async () => {
    const notes = exampleStdioCommand('notes-stdio');
    await api('PUT', '/upstreams/notes', { command: notes.command, args: notes.args, env: { NOTES_TOKEN: 's3cret' } });
    const shown = (await api('GET', '/upstreams/notes')).json.definition;
    assert.equal(shown.env.NOTES_TOKEN, '[redacted]');
    assert.equal((await api('PUT', '/upstreams/notes', { ...shown, title: 'Notes again' })).status, 200);
    const stored = (await gw.gateway.adminChanges.list()).find((c) => c.name === 'notes')!;
    assert.deepEqual((stored.definition as { env: Record<string, string> }).env, { NOTES_TOKEN: 's3cret' });
  });

  it('creates and deletes a virtual server live', async () => {
    const created = await api('PUT', '/virtual-servers/team', { title: 'Team', include: [{ upstreams: ['notes'] }] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.endpoint, '/mcp/team');
    const names = await tools(admin, '/team');
    // One upstream: its tools keep their own names (conditional namespacing).
    assert.ok(names.includes('add_note') && !names.some((n) => n.startsWith('everything__') || n === 'echo'), names.join(', '));
    const bad = await api('PUT', '/virtual-servers/other', { include: [{ upstream: 'notes' }] });
    assert.equal(bad.status, 400);
    assert.ok(bad.json.error.fields.some((f: { path: string }) => f.path.startsWith('include')), JSON.stringify(bad.json.error.fields));
    assert.equal((await api('DELETE', '/virtual-servers/team')).status, 204);
    const gone = await post(`${gw.url}/team`, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${admin}` });
    assert.equal(gone.status, 404);
    assert.equal((await api('DELETE', '/virtual-servers/team')).status, 404);
  });

  it('issues, lists and revokes API keys; a bad key request is a 400 naming the field', async () => {
    const created = await api('POST', '/keys', { owner: 'ci-bot', scopes: ['read'], expires: '30d' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.match(created.json.key, /^gh_[a-z2-7]{10}_/);
    assert.ok((await tools(created.json.key)).length > 0, 'the new key works on the MCP endpoint');
    assert.ok((await api('GET', '/keys')).json.keys.some((k: { id: string; status: string }) => k.id === created.json.id && k.status === 'active'));
    assert.equal((await api('DELETE', `/keys/${created.json.id}`)).json.status, 'revoked');
    assert.equal((await api('DELETE', '/keys/nosuchkey0')).status, 404);
    const noOwner = await api('POST', '/keys', { scopes: ['read'] });
    assert.equal(noOwner.status, 400);
    assert.equal(noOwner.json.error.fields[0].path, 'owner');
    const badExpiry = await api('POST', '/keys', { owner: 'x', expires: 'tomorrow' });
    assert.equal(badExpiry.json.error.fields[0].path, 'expires');
  });

  it('queries the audit log', async () => {
    const session = await (async () => {
      const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${user}` });
      return init.headers.get('mcp-session-id')!;
    })();
    const call = await post(gw.url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'audited' } } }, { authorization: `Bearer ${user}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.ok(call.json.result, call.text);
    const { status, json } = await api('GET', '/audit?tool=everything__echo&since=1h&limit=10');
    assert.equal(status, 200);
    assert.ok(json.records.length >= 1);
    assert.equal(json.records.at(-1).target, 'everything__echo');
    const bad = await api('GET', '/audit?limit=lots');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.fields[0].path, 'limit');
    assert.equal((await api('GET', '/audit?since=yesterday')).json.error.fields[0].path, 'since');
  });

  it('approves a quarantined definition with its diff, and the tool comes back', async () => {
    const created = await api('PUT', '/upstreams/mutable', { command: nodeBinary(), args: [MUTABLE] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const session = await (async () => {
      const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${admin}` });
      return init.headers.get('mcp-session-id')!;
    })();
    const headers = { authorization: `Bearer ${admin}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION };
    await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'mutable__rug_pull', arguments: { description: 'Looks up a word, now in two languages.' } } }, headers);
    let pending: { id: string; key: string }[] = [];
    for (let i = 0; i < 100 && pending.length === 0; i++) {
      pending = (await api('GET', '/approvals?upstream=mutable')).json.approvals;
      if (pending.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(pending.length, 1);
    assert.equal(pending[0].key, 'lookup');
    assert.ok(!(await tools(admin)).includes('mutable__lookup'), 'quarantined: not listed');
    const detail = (await api('GET', `/approvals/${pending[0].id}`)).json;
    assert.match(detail.diff, /-\s+"description": "Looks up a word in the dictionary/);
    assert.match(detail.diff, /\+\s+"description": "Looks up a word, now in two languages\."/);
    assert.match(detail.after, /two languages/);
    const approved = await api('POST', `/approvals/${pending[0].id}/approve`);
    assert.equal(approved.status, 200);
    assert.equal(approved.json.approved.approvedBy.startsWith('key:'), true);
    assert.ok((await tools(admin)).includes('mutable__lookup'), 'listed again once approved');
    assert.equal((await api('POST', '/approvals/nope/approve')).status, 404);
  });

  it('deletes an upstream of the config file live, and every change outlives a restart', async () => {
    assert.equal((await api('DELETE', '/upstreams/everything')).status, 204);
    assert.ok(!(await tools(admin)).some((n) => n.startsWith('everything__')));
    await gw.close();
    gw = await startGateway(config);
    admin = (await issueApiKey(gw.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    const names = (await api('GET', '/upstreams')).json.upstreams.map((u: { name: string }) => u.name).sort();
    assert.deepEqual(names, ['mutable', 'notes']);
    assert.ok((await tools(admin)).some((n) => n.startsWith('notes__')));
  });

  it('health, stats and unknown routes', async () => {
    assert.equal((await api('GET', '/health')).json.ready, true);
    assert.equal(typeof (await api('GET', '/stats')).json.sessions, 'number');
    const missing = await api('GET', '/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /openapi\.json/);
    const wrong = await api('POST', '/upstreams');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
  });
});

describe('admin API with auth off', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ upstreams: { everything: everythingStdio() } });
  });
  after(() => gw?.close());

  it('answers 401 saying that auth must be on', async () => {
    const res = await fetch(`${gw.base}/admin/upstreams`);
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'GH_ERR_ADMIN_AUTH_OFF');
    assert.match(body.error.message, /auth\.enabled/);
    assert.ok(await openSession(gw.url, VERSION), 'the MCP endpoint is unaffected');
  });
});
