/**
 * Clients of every protocol revision on one endpoint, in front of the three example upstreams: SDK v2 sessions
 * at 2025-11-25, 2025-06-18 and 2025-03-26, the legacy HTTP+SSE transport (2024-11-05), raw 2026-07-28 stateless
 * requests with their `_meta` context and headers, and resumable SSE streams (Last-Event-ID).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSession, post, startGateway } from '../helpers/gateway.ts';
import type { RunningGateway } from '../helpers/gateway.ts';
import { connectClient, SseReader, startUpstreams, textOf } from './harness.ts';
import type { TestClient, Upstreams } from './harness.ts';

const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} };

describe('clients of several protocol revisions on one endpoint', () => {
  let upstreams: Upstreams;
  let gw: RunningGateway;
  const clients: TestClient[] = [];
  const readers: SseReader[] = [];

  before(async () => {
    upstreams = await startUpstreams();
    gw = await startGateway({ upstreams: upstreams.config });
  });
  after(async () => {
    for (const r of readers) r.close();
    await Promise.all(clients.map((c) => c.close()));
    await gw?.close();
    await upstreams?.close();
  });

  async function client(options: Parameters<typeof connectClient>[1], url = gw.url): Promise<TestClient> {
    const c = await connectClient(url, options);
    clients.push(c);
    return c;
  }

  /** A 2026-07-28 request: context in `_meta`, mirrored in the headers. */
  function modern(method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}, id: number | string = 1) {
    const name: Record<string, string> = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
    return post(gw.url, { jsonrpc: '2.0', id, method, params: { ...params, _meta: META } }, { 'mcp-protocol-version': MODERN, 'mcp-method': method, ...name, ...headers });
  }

  for (const revision of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    it(`an SDK v2 client at ${revision}: negotiates it, lists, calls and answers sampling`, async () => {
      const tag = `rev${revision.replaceAll('-', '')}`;
      const c = await client({ tag, protocolVersions: revision === '2025-11-25' ? undefined : [revision] });
      assert.equal(c.client.getNegotiatedProtocolVersion(), revision);
      assert.equal(gw.gateway.sessions.get(c.sessionId!)?.revision, revision);
      const { tools } = await c.client.listTools();
      assert.ok(['notes__ask_llm', 'weather__get_forecast', 'clock__now'].every((n) => tools.some((t) => t.name === n)));
      const now = await c.client.callTool({ name: 'clock__now', arguments: {} });
      assert.equal((now.structuredContent as { iso: string }).iso, '2025-01-31T23:30:00.000Z');
      for (const upstream of ['notes', 'weather']) {
        const answer = await c.client.callTool({ name: `${upstream}__ask_llm`, arguments: { question: `hi from ${revision}` } });
        assert.equal(textOf(answer), `${tag} answers: hi from ${revision}`);
      }
    });
  }

  it('JSON-RPC batches are accepted at 2025-03-26 only', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'clock__add_duration', arguments: { iso: '2025-01-31T23:30:00Z', minutes: 45 } } },
    ];
    const old = await openSession(gw.url, '2025-03-26');
    const r = await post(gw.url, batch, { 'mcp-session-id': old, 'mcp-protocol-version': '2025-03-26' });
    assert.equal(r.status, 200);
    const answers = (Array.isArray(r.json) ? r.json : parseAnswers(r.text)) as { id: number; result: any }[];
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2]);
    assert.equal(answers.find((a) => a.id === 2)!.result.content[0].text, '2025-02-01T00:15:00.000Z');

    const newer = await openSession(gw.url, '2025-06-18');
    const refused = await post(gw.url, batch, { 'mcp-session-id': newer, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, -32600);
  });

  it('a legacy HTTP+SSE client at <base>/sse lists, calls and answers sampling', async () => {
    const c = await client({ tag: 'legacy', transport: 'sse' }, `${gw.base}/sse`);
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === 'weather__get_forecast'));
    const forecast = await c.client.callTool({ name: 'weather__get_forecast', arguments: { city: 'Lisbon', days: 1 } });
    assert.equal((forecast.structuredContent as { days: unknown[] }).days.length, 1);
    for (const upstream of ['notes', 'weather', 'clock']) {
      const answer = await c.client.callTool({ name: `${upstream}__ask_llm`, arguments: { question: `old transport via ${upstream}` } });
      assert.equal(textOf(answer), `legacy answers: old transport via ${upstream}`);
    }
    const progress: number[] = [];
    const counted = await c.client.callTool({ name: 'notes__slow_count', arguments: { count: 3, delayMs: 20 } }, { onprogress: (p) => progress.push(p.progress) });
    assert.deepEqual(counted.structuredContent, { reached: 3, count: 3, cancelled: false });
    // The SDK client drops progress that shares a read with the result (examples/README.md): expect a prefix.
    assert.ok(progress.length >= 1, 'progress reached the client');
    assert.deepEqual(progress, [1, 2, 3].slice(0, progress.length));
  });

  describe('2026-07-28 stateless requests', () => {
    it('server/discover describes the gateway without a session', async () => {
      const r = await modern('server/discover');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('mcp-session-id'), null);
      assert.ok(r.json.result.supportedVersions.includes(MODERN));
      assert.ok(r.json.result.supportedVersions.includes('2025-11-25'));
      assert.equal(r.json.result.serverInfo.name, 'gatehouse');
      assert.ok(r.json.result.capabilities.tools);
    });

    it('tools/list and tools/call answer with resultType "complete"', async () => {
      const list = await modern('tools/list');
      assert.equal(list.status, 200);
      assert.equal(list.json.result.resultType, 'complete');
      assert.ok(list.json.result.tools.some((t: { name: string }) => t.name === 'clock__now'));
      const call = await modern('tools/call', { name: 'weather__convert_temperature', arguments: { value: 100, from: 'C', to: 'F' } });
      assert.equal(call.status, 200);
      assert.equal(call.json.result.resultType, 'complete');
      assert.deepEqual(call.json.result.structuredContent, { value: 212, unit: 'F' });
    });

    it('a request without its _meta context is 400 / -32602', async () => {
      const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, -32602);
      assert.match(r.json.error.message, /_meta/);
    });

    it('headers that disagree with the body are 400 / -32020', async () => {
      const method = await modern('tools/list', {}, { 'mcp-method': 'prompts/list' });
      assert.equal(method.status, 400);
      assert.equal(method.json.error.code, -32020);
      const name = await modern('tools/call', { name: 'clock__now', arguments: {} }, { 'mcp-name': 'clock__add_duration' });
      assert.equal(name.status, 400);
      assert.equal(name.json.error.code, -32020);
      const missing = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'clock__now', _meta: META } }, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call' });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error.code, -32020);
    });

    it('an unsupported version is 400 / -32022 and names the supported ones', async () => {
      const meta = { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
      const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } }, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, -32022);
      assert.ok(Array.isArray(r.json.error.data?.supported), `data.supported in ${JSON.stringify(r.json.error)}`);
      assert.ok(r.json.error.data.supported.includes(MODERN));
    });

    it('subscriptions/listen acknowledges, then carries tools/list_changed after an upstream adds a tool', async () => {
      const listen = await SseReader.open(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }),
      });
      readers.push(listen);
      assert.equal(listen.status, 200);
      const ack = await listen.next((e) => e.data !== undefined);
      assert.equal(ack.data.method, 'notifications/subscriptions/acknowledged');
      assert.equal(ack.data.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
      assert.deepEqual(ack.data.params.notifications, { toolsListChanged: true });

      const enabled = await modern('tools/call', { name: 'notes__enable_extra_tool', arguments: {} });
      assert.equal(enabled.json.result.content[0].text, 'extra_tool enabled');
      const changed = await listen.next((e) => e.data?.method === 'notifications/tools/list_changed');
      assert.equal(changed.data.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
      const list = await modern('tools/list');
      assert.ok(list.json.result.tools.some((t: { name: string }) => t.name === 'notes__extra_tool'));
      listen.close();
    });
  });

  describe('resumable SSE streams (2025-11-25)', () => {
    const session = { id: '' };
    const h = () => ({ 'mcp-session-id': session.id, 'mcp-protocol-version': '2025-11-25' });
    before(async () => {
      session.id = await openSession(gw.url);
    });

    it('a tools/call stream cut mid-way is resumed by GET with Last-Event-ID, missing nothing', async () => {
      const call = await SseReader.open(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h() },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'notes__slow_count', arguments: { count: 6, delayMs: 30 }, _meta: { progressToken: 'p7' } } }),
      });
      const priming = await call.next(() => true);
      assert.ok(priming.id, 'a priming event with an id');
      assert.equal(priming.data, undefined);
      const first = await call.next((e) => e.data?.method === 'notifications/progress');
      assert.equal(first.data.params.progressToken, 'p7');
      call.close(); // the connection drops; the call goes on

      const resumed = await SseReader.open(gw.url, { headers: { accept: 'text/event-stream', 'last-event-id': first.id!, ...h() } });
      readers.push(resumed);
      assert.equal(resumed.status, 200);
      const result = await resumed.next((e) => e.data?.id === 7);
      assert.deepEqual(result.data.result.structuredContent, { reached: 6, count: 6, cancelled: false });
      await resumed.closed();
      // Everything after the last event seen, in order, exactly once: progress 2..6, then the result.
      const progress = resumed.events.filter((e) => e.data?.method === 'notifications/progress').map((e) => e.data.params.progress);
      assert.deepEqual([first.data.params.progress, ...progress], [1, 2, 3, 4, 5, 6]);
      const seqs = [first, ...resumed.events].map((e) => Number(e.id!.split('.').pop()));
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `consecutive event ids: ${seqs.join(', ')}`);
    });

    it('the standalone GET stream replays what was sent while it was away', async () => {
      const updated = (e: { data?: any }) => e.data?.method === 'notifications/resources/updated';
      const sub = await post(gw.url, { jsonrpc: '2.0', id: 10, method: 'resources/subscribe', params: { uri: 'notes://1' } }, h());
      assert.deepEqual(sub.json.result, {});
      const update = (id: number, body: string) => post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'notes__update_note', arguments: { id: '1', body } } }, h());

      const stream = await SseReader.open(gw.url, { headers: { accept: 'text/event-stream', ...h() } });
      readers.push(stream);
      assert.equal(stream.status, 200);
      await update(11, 'one');
      const seen = await stream.next(updated);
      stream.close();
      // The updates are pushed before their calls are answered, so these land while no stream is attached.
      await update(12, 'two');
      await update(13, 'three');

      const resumed = await SseReader.open(gw.url, { headers: { accept: 'text/event-stream', 'last-event-id': seen.id!, ...h() } });
      readers.push(resumed);
      assert.equal(resumed.status, 200);
      const second = await resumed.next(updated);
      const third = await resumed.next(updated, resumed.events.indexOf(second) + 1);
      const seq = (e: { id?: string }) => Number(e.id!.split('.').pop());
      assert.ok(seq(seen) < seq(second) && seq(second) < seq(third));
      assert.equal(resumed.events.filter((e) => e.id === seen.id).length, 0, 'the event already seen is not sent again');
      const read = await post(gw.url, { jsonrpc: '2.0', id: 14, method: 'resources/read', params: { uri: 'notes://1' } }, h());
      assert.match(read.json.result.contents[0].text, /three/);
      resumed.close();
    });
  });
});

/** Responses of a batch answered as an SSE stream. */
function parseAnswers(text: string): unknown[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((b) => b.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join(''))
    .filter((d) => d !== '')
    .map((d) => JSON.parse(d))
    .filter((m) => m && typeof m === 'object' && 'id' in m);
}
