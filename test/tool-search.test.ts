/**
 * Search mode (issue 6) end to end: SDK v2 clients against a real gateway in front of server-everything. A session
 * lists its pinned tools plus search_tools and call_tool; a search returns ranked tools, which then join the session's
 * list (announced with tools/list_changed) and are callable; everything else is refused like an unknown tool, and the
 * policy still decides what a search may return and what a found tool may do.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { connectClient } from './integration/harness.ts';
import type { TestClient } from './integration/harness.ts';

const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;

/** One 2026-07-28 (stateless) request: the envelope in `_meta` and the headers that mirror it. */
async function modern(url: string, method: string, params: Record<string, unknown> = {}): Promise<any> {
  const headers: Record<string, string> = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method };
  if (method === 'tools/call') headers['mcp-name'] = params.name as string;
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  const r = await post(url, { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }, headers);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const textOf = (r: any): string => r.content.find((c: { type: string }) => c.type === 'text')?.text ?? '';
const refusal = (p: Promise<unknown>) => p.then(() => null, (err: { code?: number; message: string }) => err);

describe('tool search mode', () => {
  let gw: RunningGateway;
  const clients: TestClient[] = [];
  const open = async (path = '') => {
    const c = await connectClient(`${gw.url}${path}`, { tag: `s${clients.length}` });
    clients.push(c);
    await c.getStreamOpen; // list_changed travels on the standalone stream
    return c;
  };

  before(async () => {
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      toolSearch: { mode: 'search', pinned: ['echo'] },
      policy: { default: 'allow', rules: [{ name: 'no-env', effect: 'deny', on: { tools: ['get-env'] } }] },
      virtualServers: { full: { toolSearch: { mode: 'all' } } },
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw.close();
  });

  it('lists the pinned tools and the two meta-tools only', async () => {
    const c = await open();
    const { tools } = await c.client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['echo', 'search_tools', 'call_tool']);
    const search = tools.find((t) => t.name === 'search_tools')!;
    assert.deepEqual(search.inputSchema.required, ['query']);
    // A virtual server can keep today's behaviour.
    const full = await open('/full');
    const all = (await full.client.listTools()).tools.map((t) => t.name);
    assert.ok(all.includes('get-sum') && !all.includes('search_tools') && !all.includes('get-env'), all.join());
  });

  it('search_tools returns ranked tools in the stable shape; a found tool is listed after list_changed and callable', async () => {
    const c = await open();
    const from = c.inbox.seen.length;
    const r: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'add two numbers and return the sum' } });
    assert.notEqual(r.isError, true, textOf(r));
    const found = r.structuredContent.tools as any[];
    assert.ok(found.length >= 1 && found.length <= 5, `default limit 5, got ${found.length}`);
    assert.equal(found[0].name, 'get-sum');
    for (const t of found) {
      assert.deepEqual(Object.keys(t).sort(), ['description', 'inputSchema', 'name', 'score']);
      assert.equal(typeof t.score, 'number');
      assert.equal(t.inputSchema.type, 'object');
    }
    for (let i = 1; i < found.length; i++) assert.ok(found[i - 1].score >= found[i].score, 'ranked best first');
    assert.match(textOf(r), /get-sum/);

    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    const listed = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(listed.includes('get-sum'), listed.join());
    assert.ok(listed.includes('echo') && listed.includes('search_tools') && listed.includes('call_tool'));
    const sum = await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    assert.match(textOf(sum), /5/);

    const one: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'sum', limit: 1 } });
    assert.equal(one.structuredContent.tools.length, 1);
    const bad: any = await c.client.callTool({ name: 'search_tools', arguments: { query: '' } });
    assert.equal(bad.isError, true);
  });

  it('call_tool calls a found tool the client never listed', async () => {
    const c = await open();
    const r: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'echo back the input string' } });
    assert.ok(r.structuredContent.tools.some((t: any) => t.name === 'echo'));
    const s: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'sum of two numbers' } });
    assert.equal(s.structuredContent.tools[0].name, 'get-sum');
    const via = await c.client.callTool({ name: 'call_tool', arguments: { name: 'get-sum', arguments: { a: 40, b: 2 } } });
    assert.match(textOf(via), /42/);
    const pinned = await c.client.callTool({ name: 'call_tool', arguments: { name: 'echo', arguments: { message: 'hi' } } });
    assert.match(textOf(pinned), /hi/);
  });

  it('refuses a tool the session has not found exactly like an unknown tool, directly and through call_tool', async () => {
    const c = await open();
    const direct = await refusal(c.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } }));
    const unknown = await refusal(c.client.callTool({ name: 'no-such-tool', arguments: {} }));
    assert.ok(direct && unknown);
    assert.equal(direct.code, -32602);
    assert.equal(direct.code, unknown.code);
    assert.equal(direct.message, unknown.message.replace('no-such-tool', 'get-sum'));
    const via = await refusal(c.client.callTool({ name: 'call_tool', arguments: { name: 'get-sum', arguments: {} } }));
    assert.equal(via?.code, -32602);
    assert.match(via!.message, /Unknown tool: get-sum/);

    // On the wire: the same error object as for a tool that does not exist.
    const init = await post(gw.url, INIT());
    const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    const a = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get-sum', arguments: {} } }, h);
    const b = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get-nothing', arguments: {} } }, h);
    assert.deepEqual(a.json.error, { ...b.json.error, message: 'Unknown tool: get-sum' });
  });

  it('keeps the policy: a denied tool is never returned by search and call_tool refuses it', async () => {
    const c = await open();
    const r: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'environment variables for debugging the server configuration', limit: 50 } });
    const names = r.structuredContent.tools.map((t: any) => t.name);
    assert.ok(!names.includes('get-env'), names.join());
    const via = await refusal(c.client.callTool({ name: 'call_tool', arguments: { name: 'get-env', arguments: {} } }));
    assert.equal(via?.code, -32602);
    assert.match(via!.message, /Unknown tool: get-env/);
    const direct = await refusal(c.client.callTool({ name: 'get-env', arguments: {} }));
    assert.match(direct!.message, /Unknown tool: get-env/);
    assert.ok(!(await c.client.listTools()).tools.some((t) => t.name === 'get-env'));
  });

  it('serves a stateless 2026-07-28 client: search, then call_tool; nothing found outlives the request', async () => {
    const listed = await modern(gw.url, 'tools/list');
    assert.deepEqual(listed.result.tools.map((t: any) => t.name), ['echo', 'search_tools', 'call_tool']);
    const found = await modern(gw.url, 'tools/call', { name: 'search_tools', arguments: { query: 'sum of two numbers' } });
    assert.equal(found.result.structuredContent.tools[0].name, 'get-sum');
    const via = await modern(gw.url, 'tools/call', { name: 'call_tool', arguments: { name: 'get-sum', arguments: { a: 1, b: 2 } } });
    assert.match(textOf(via.result), /3/);
    const direct = await modern(gw.url, 'tools/call', { name: 'get-sum', arguments: { a: 1, b: 2 } });
    assert.equal(direct.error.message, 'Unknown tool: get-sum');
    const denied = await modern(gw.url, 'tools/call', { name: 'call_tool', arguments: { name: 'get-env' } });
    assert.equal(denied.error.message, 'Unknown tool: get-env');
  });
});

describe('gatehouse start --tool-search', () => {
  it('turns search mode on for the default endpoint', async () => {
    const ev = everythingStdio();
    const upstream = `everything=${[ev.command, ...ev.args].map((a) => JSON.stringify(a)).join(' ')}`;
    const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--log-level', 'silent', '--tool-search', '--upstream', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = /^gatehouse listening on (\S+)/.exec(line);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const listed = await modern(url, 'tools/list');
      assert.deepEqual(listed.result.tools.map((t: any) => t.name), ['search_tools', 'call_tool']);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});

describe('tool search with the hybrid ranker (the offline model on a worker thread)', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      toolSearch: { mode: 'search', ranker: 'hybrid', embedder: { kind: 'local' } },
    });
  });
  after(() => gw.close());

  it('answers searches while the catalog is embedded and after, with the same stable shape', async () => {
    const c = await connectClient(gw.url);
    try {
      for (let i = 0; i < 2; i++) {
        const r: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'add two numbers together', limit: 3 } });
        assert.notEqual(r.isError, true, textOf(r));
        assert.equal(r.structuredContent.tools[0].name, 'get-sum');
        assert.equal(r.structuredContent.tools.length, 3);
      }
      // The gateway keeps serving while the model computes elsewhere.
      assert.deepEqual(await c.client.ping(), {});
    } finally {
      await c.close();
    }
  });
});
