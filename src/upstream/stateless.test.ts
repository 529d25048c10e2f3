import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import { startModernServer } from '../../test/helpers/modern.ts';
import type { ModernServer } from '../../test/helpers/modern.ts';
import { connectUpstream } from './connect.ts';
import type { ConnectOptions } from './connection.ts';
import { HttpConnection } from './http.ts';
import { StatelessHttpConnection, encodeHeaderValue } from './stateless.ts';
import { CAPABILITIES, OPTIONS, Recorder, httpConfig, waitFor } from './testing.ts';

let server: ModernServer;
const open: { close(): Promise<void> }[] = [];
before(async () => {
  server = await startModernServer();
});
after(async () => {
  await Promise.all(open.map((c) => c.close()));
  await server.close();
});

async function connect(rec = new Recorder(), extra: Record<string, unknown> = {}, options: ConnectOptions = OPTIONS): Promise<StatelessHttpConnection> {
  const conn = await connectUpstream('modern', httpConfig({ url: server.url, ...extra }), rec, options);
  open.push(conn);
  assert.ok(conn instanceof StatelessHttpConnection, `expected a stateless connection, got ${conn.constructor.name}`);
  return conn;
}

const lastRequest = (): Promise<{ meta: Record<string, any>; headers: Record<string, string | undefined> }> => server.rpc('test/last-meta');

describe('2026-07-28 upstream: detection and discovery', () => {
  it('switches to the stateless revision when initialize is refused with -32022 listing it, and discovers', async () => {
    const before = (await server.rpc('test/stats')).initializeRefusals;
    const conn = await connect();
    assert.equal((await server.rpc('test/stats')).initializeRefusals, before + 1);
    assert.deepEqual(conn.info, {
      protocolVersion: '2026-07-28',
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {} },
      serverInfo: { name: 'modern', version: '1.0.0' },
      instructions: 'A stateless test server.',
    });
  });

  it('protocol: 2026-07-28 skips the initialize probe', async () => {
    const before = (await server.rpc('test/stats')).initializeRefusals;
    const conn = await connect(new Recorder(), { protocol: '2026-07-28' });
    assert.equal(conn.info.serverInfo.name, 'modern');
    assert.equal((await server.rpc('test/stats')).initializeRefusals, before);
  });

  it('also tries the stateless revision when initialize is refused with -32022 but no version list', async () => {
    const bare = await startModernServer(['--bare-refusal']);
    try {
      const conn = await connectUpstream('bare', httpConfig({ url: bare.url }), new Recorder(), OPTIONS);
      open.push(conn);
      assert.ok(conn instanceof StatelessHttpConnection);
      assert.equal(conn.info.serverInfo.name, 'modern');
      await conn.close();
    } finally {
      await bare.close();
    }
  });

  it('protocol: 2025-11-25 does not switch: the start fails with the upstream\'s answer', async () => {
    await assert.rejects(connectUpstream('modern', httpConfig({ url: server.url, protocol: '2025-11-25' }), new Recorder(), OPTIONS), (err: GatehouseError) => {
      assert.equal(err.code, 'GH_ERR_UPSTREAM_UNAVAILABLE');
      assert.match(err.message, /HTTP 400: Unsupported protocol version/);
      return true;
    });
  });
});

describe('2026-07-28 upstream: requests', () => {
  let conn: StatelessHttpConnection;
  before(async () => {
    conn = await connect();
  });

  it('lists and calls tools with _meta and headers on every request, and strips resultType', async () => {
    const list = await conn.request('tools/list', undefined);
    assert.ok((list.tools as { name: string }[]).some((t) => t.name === 'shout'));
    assert.equal('resultType' in list, false);
    const sentList = await lastRequest();
    assert.deepEqual(sentList.headers, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' });

    const result = await conn.request('tools/call', { name: 'shout', arguments: { message: 'hi' }, _meta: { progressToken: 'p1', 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } });
    assert.deepEqual(result, { content: [{ type: 'text', text: 'HI' }] });
    const sent = await lastRequest();
    assert.deepEqual(sent.headers, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'shout' });
    assert.deepEqual(sent.meta, {
      progressToken: 'p1',
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': CAPABILITIES,
      'io.modelcontextprotocol/clientInfo': { name: 'gatehouse', version: '0.0.0-test' },
    });
  });

  it('sends a non-ASCII Mcp-Name as a base64 sentinel', async () => {
    const result = await conn.request('resources/read', { uri: 'mem://grüße' });
    assert.equal((result.contents as { text: string }[])[0].text, 'hello from gruesse');
    assert.equal((await lastRequest()).headers['mcp-name'], `=?base64?${Buffer.from('mem://grüße').toString('base64')}?=`);
    assert.equal(encodeHeaderValue('shout'), 'shout');
    assert.equal(encodeHeaderValue(' padded'), '=?base64?IHBhZGRlZA==?=');
    assert.equal(encodeHeaderValue(''), '=?base64??=');
    assert.equal(encodeHeaderValue('=?base64?eA==?='), '=?base64?PT9iYXNlNjQ/ZUE9PT89?=');
  });

  it('answers ping and logging/setLevel locally; the level then travels in _meta', async () => {
    await conn.request('tools/list', undefined);
    assert.deepEqual(await conn.request('ping', undefined), {});
    assert.deepEqual(await conn.request('logging/setLevel', { level: 'warning' }), {});
    assert.equal((await lastRequest()).headers['mcp-method'], 'tools/list', 'nothing was sent for ping or setLevel');
    await conn.request('tools/list', undefined);
    assert.equal((await lastRequest()).meta['io.modelcontextprotocol/logLevel'], 'warning');
    await assert.doesNotReject(conn.notify('notifications/roots/list_changed'));
  });

  it('passes JSON-RPC errors of 4xx answers on as such', async () => {
    await assert.rejects(conn.request('nope/nothing', {}), (err: UpstreamRpcError) => err instanceof UpstreamRpcError && err.rpcCode === -32601);
    await assert.rejects(conn.request('tools/call', { name: 'missing' }), (err: UpstreamRpcError) => err instanceof UpstreamRpcError && err.rpcCode === -32602);
  });
});

describe('2026-07-28 upstream: multi round-trip requests', () => {
  it('asks the handlers with the request\'s tag and retries with inputResponses and requestState until complete', async () => {
    const rec = new Recorder();
    rec.answer = async (r) => ({ role: 'assistant', model: 'm', content: { type: 'text', text: `answer to ${(r.params!.messages as { content: { text: string } }[])[0].content.text}` } });
    const conn = await connect(rec);
    const retries = (await server.rpc('test/stats')).inputRetries;
    const result = await conn.request('tools/call', { name: 'ask', arguments: { question: 'why', rounds: 2 } }, { tag: 'ctx-9' });
    assert.deepEqual(result, { content: [{ type: 'text', text: 'model said: answer to why (round 1) | answer to why (round 2)' }] });
    assert.deepEqual(rec.requests.map((x) => [x.r.method, x.tag]), [['sampling/createMessage', 'ctx-9'], ['sampling/createMessage', 'ctx-9']]);
    assert.notEqual(rec.requests[0].r.id, rec.requests[1].r.id);
    assert.equal((await server.rpc('test/stats')).inputRetries, retries + 2);
    assert.equal(conn.inflight, 0);
  });

  it('fails the request with the handler\'s error', async () => {
    const rec = new Recorder();
    rec.answer = async () => {
      throw new UpstreamRpcError(-32601, 'the client does not support sampling');
    };
    const conn = await connect(rec);
    await assert.rejects(conn.request('tools/call', { name: 'ask', arguments: { question: 'q' } }), /does not support sampling/);
  });

  it('waits for the inputs only within the request\'s deadline, and stops waiting when it is cancelled', async () => {
    const rec = new Recorder();
    rec.answer = () => new Promise(() => {}); // a client that never answers
    const conn = await connect(rec);
    await assert.rejects(conn.request('tools/call', { name: 'ask', arguments: { question: 'q' } }, { timeoutMs: 300 }), (err: GatehouseError) => err.code === 'GH_ERR_UPSTREAM_TIMEOUT');
    const abort = new AbortController();
    const call = conn.request('tools/call', { name: 'ask', arguments: { question: 'q' } }, { signal: abort.signal });
    await waitFor(() => rec.requests.length === 2, 5000, 'the second input request');
    abort.abort();
    await assert.rejects(call, (err: GatehouseError) => err.code === 'GH_ERR_REQUEST_CANCELLED');
    assert.equal(conn.inflight, 0);
  });

  it('a gateway that declares no sampling gets the upstream\'s -32021', async () => {
    const conn = await connect(new Recorder(), {}, { ...OPTIONS, capabilities: {} });
    await assert.rejects(conn.request('tools/call', { name: 'ask', arguments: { question: 'q' } }), (err: UpstreamRpcError) => err.rpcCode === -32021);
  });
});

describe('2026-07-28 upstream: cancellation closes the response stream', () => {
  it('abort: rejects at once and the upstream sees its stream closed', async () => {
    const rec = new Recorder();
    const conn = await connect(rec);
    const cancelled = (await server.rpc('test/stats')).cancelled;
    const abort = new AbortController();
    const call = conn.request('tools/call', { name: 'slow', arguments: { ms: 10_000 }, _meta: { progressToken: 7 } }, { signal: abort.signal, tag: 'ctx-slow' });
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/progress'), 5000, 'progress');
    assert.equal(rec.notifications.find((x) => x.n.method === 'notifications/progress')!.tag, 'ctx-slow');
    abort.abort();
    await assert.rejects(call, (err: GatehouseError) => err.code === 'GH_ERR_REQUEST_CANCELLED');
    await waitForStat('cancelled', cancelled + 1);
  });

  it('deadline: GH_ERR_UPSTREAM_TIMEOUT and the stream is closed', async () => {
    const conn = await connect();
    const cancelled = (await server.rpc('test/stats')).cancelled;
    await assert.rejects(conn.request('tools/call', { name: 'slow', arguments: { ms: 10_000 } }, { timeoutMs: 200 }), (err: GatehouseError) => err.code === 'GH_ERR_UPSTREAM_TIMEOUT');
    await waitForStat('cancelled', cancelled + 1);
  });
});

describe('2026-07-28 upstream: subscriptions/listen', () => {
  it('delivers tools/list_changed from the listen stream, untagged and without the subscription id', async () => {
    const rec = new Recorder();
    const conn = await connect(rec);
    await waitFor(() => conn.listening, 5000, 'listen acknowledged');
    assert.deepEqual((await server.rpc('test/stats')).lastListen, { toolsListChanged: true, resourcesListChanged: true });
    await conn.request('tools/call', { name: 'add_tool', arguments: {} });
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/tools/list_changed'), 5000, 'list_changed');
    const n = rec.notifications.find((x) => x.n.method === 'notifications/tools/list_changed')!;
    assert.equal(n.tag, undefined);
    assert.deepEqual(n.n.params, undefined);
    const { tools } = (await conn.request('tools/list', undefined)) as { tools: { name: string }[] };
    assert.ok(tools.some((t) => t.name === 'whisper'));
  });

  it('keeps resources/subscribe on the listen stream and delivers resources/updated', async () => {
    const rec = new Recorder();
    const conn = await connect(rec);
    await waitFor(() => conn.listening, 5000, 'listen acknowledged');
    const opens = conn.listenOpens;
    assert.deepEqual(await conn.request('resources/subscribe', { uri: 'mem://greeting' }), {});
    await waitFor(() => conn.listenOpens === opens + 1 && conn.listening, 5000, 'listen reopened');
    assert.deepEqual((await server.rpc('test/stats')).lastListen, { toolsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['mem://greeting'] });
    await conn.request('tools/call', { name: 'touch', arguments: { uri: 'mem://greeting' } });
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/resources/updated'), 5000, 'resources/updated');
    assert.deepEqual(rec.notifications.find((x) => x.n.method === 'notifications/resources/updated')!.n.params, { uri: 'mem://greeting' });
    await conn.request('resources/unsubscribe', { uri: 'mem://greeting' });
    await waitFor(() => conn.listenOpens === opens + 2 && conn.listening, 5000, 'listen reopened');
    assert.deepEqual((await server.rpc('test/stats')).lastListen, { toolsListChanged: true, resourcesListChanged: true });
  });

  it('reopens a dropped listen stream and announces list_changed for what it covers (changes may have been missed)', async () => {
    const rec = new Recorder();
    const conn = await connect(rec);
    await waitFor(() => conn.listening, 5000, 'listen acknowledged');
    const opens = conn.listenOpens;
    await server.rpc('test/drop-listens');
    await waitFor(() => conn.listenOpens === opens + 1 && conn.listening, 5000, 'listen reopened');
    assert.deepEqual(rec.notifications.map((x) => x.n.method).sort(), ['notifications/resources/list_changed', 'notifications/tools/list_changed']);
  });

  it('close ends the listen stream; retire does not wait for it', async () => {
    const conn = await connect();
    await waitFor(() => conn.listening, 5000, 'listen acknowledged');
    const listening = (await server.rpc('test/stats')).listening;
    await conn.retire();
    assert.equal(conn.closed, true);
    await waitForStat('listening', listening - 1, true);
  });
});

describe('a session-era upstream still gets the session revision', () => {
  it('auto keeps HttpConnection for a server that accepts initialize', async () => {
    const { sdkHttpServer } = await import('./testing.ts');
    const legacy = await sdkHttpServer();
    try {
      const conn = await connectUpstream('legacy', httpConfig({ url: legacy.url }), new Recorder(), OPTIONS);
      open.push(conn);
      assert.ok(conn instanceof HttpConnection);
    } finally {
      await legacy.close();
    }
  });
});

async function waitForStat(key: string, value: number, atMost = false): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    const now = (await server.rpc('test/stats'))[key] as number;
    if (atMost ? now <= value : now >= value) return;
    if (Date.now() > until) throw new Error(`test/stats ${key} is ${now}, expected ${value}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
