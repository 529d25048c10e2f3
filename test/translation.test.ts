/**
 * An old client in front of a modern upstream: the official SDK v2 client (a session-era client) talks to the
 * gateway with a session, and the gateway talks to test/fixtures/modern-server.ts, which speaks only the stateless
 * 2026-07-28 revision (initialize refused with -32022). Lists, calls, list_changed via the upstream's
 * subscriptions/listen, sampling relayed from an `input_required` result, and the removed methods. Last, a
 * 2026-07-28 client through the same gateway: the upstream's input request reaches it as its own `input_required`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { startModernServer } from './helpers/modern.ts';
import type { ModernServer } from './helpers/modern.ts';
import { connectClient, textOf } from './integration/harness.ts';
import type { TestClient } from './integration/harness.ts';

describe('session-era client, gateway, 2026-07-28-only upstream', () => {
  let server: ModernServer;
  let gw: RunningGateway;
  let c: TestClient;

  before(async () => {
    server = await startModernServer();
    gw = await startGateway({ upstreams: { modern: { url: server.url } } });
    c = await connectClient(gw.url, { tag: 'old' });
    await c.getStreamOpen;
  });
  after(async () => {
    await c?.close();
    await gw?.close();
    await server?.close();
  });

  it('lists and calls the upstream\'s tools', async () => {
    const { tools } = await c.client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['shout', 'add_tool', 'ask']) assert.ok(names.includes(n), `missing ${n} in ${names.join(', ')}`);
    const result = await c.client.callTool({ name: 'shout', arguments: { message: 'through the gateway' } });
    assert.equal(textOf(result as { content?: unknown }), 'THROUGH THE GATEWAY');
    assert.equal('resultType' in result, false);
    const sent = await server.rpc('test/last-meta');
    assert.equal(sent.headers['mcp-name'], 'shout');
    assert.equal(sent.meta['io.modelcontextprotocol/clientInfo'].name, 'gatehouse');
  });

  it('answers ping and logging/setLevel (removed in 2026-07-28) with strict empty results', async () => {
    assert.deepEqual(await c.client.ping(), {});
    assert.deepEqual(await c.client.setLoggingLevel('info'), {});
  });

  it('relays the sampling of an input_required result to the client and completes the call', async () => {
    const result = await c.client.callTool({ name: 'ask', arguments: { question: 'six times seven?' } });
    assert.equal(textOf(result as { content?: unknown }), 'model said: old answers: six times seven? (round 1)');
    assert.deepEqual(c.sampled, ['six times seven? (round 1)']);
  });

  it('keeps a resource subscription on the upstream\'s listen stream and relays resources/updated', async () => {
    assert.deepEqual(await c.client.subscribeResource({ uri: 'mem://greeting' }), {});
    const from = c.inbox.seen.length;
    // The listen stream reopens with the new subscription; touch until the update comes through.
    const update = c.inbox.waitFor('notifications/resources/updated', (p) => p.uri === 'mem://greeting', from);
    let told = false;
    for (let i = 0; i < 100 && !told; i++) {
      const r = await c.client.callTool({ name: 'touch', arguments: { uri: 'mem://greeting' } });
      told = textOf(r as { content?: unknown }) === 'told 1';
      if (!told) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(told, 'the upstream never saw the subscription');
    await update;
    assert.deepEqual(await c.client.unsubscribeResource({ uri: 'mem://greeting' }), {});
  });

  it('cancels by closing the upstream stream when the client cancels', async () => {
    const before = (await server.rpc('test/stats')).cancelled;
    const abort = new AbortController();
    const progress: number[] = [];
    const call = c.client.callTool({ name: 'slow', arguments: { ms: 10_000 } }, { signal: abort.signal, onprogress: (p) => progress.push(p.progress) });
    for (let i = 0; i < 250 && progress.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(progress.length > 0, 'progress relayed before cancelling');
    abort.abort('enough');
    await assert.rejects(call);
    for (let i = 0; i < 250 && (await server.rpc('test/stats')).cancelled === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await server.rpc('test/stats')).cancelled, before + 1);
  });

  it('tells the client tools/list_changed after the upstream adds a tool', async () => {
    const from = c.inbox.seen.length;
    await c.client.callTool({ name: 'add_tool', arguments: {} });
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === 'whisper'));
  });
});

describe('2026-07-28 client, gateway, 2026-07-28-only upstream', () => {
  const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
  const HEADERS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'ask' };
  let server: ModernServer;
  let gw: RunningGateway;

  before(async () => {
    server = await startModernServer();
    gw = await startGateway({ upstreams: { modern: { url: server.url } } });
  });
  after(async () => {
    await gw?.close();
    await server?.close();
  });

  it('passes the upstream\'s input request on as the gateway\'s own input_required, and completes on retry', async () => {
    const call = { name: 'ask', arguments: { question: 'q?' }, _meta: META };
    const first = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: call }, HEADERS);
    const asked = first.json.result;
    assert.equal(asked.resultType, 'input_required', first.text);
    const [key, input] = Object.entries(asked.inputRequests as Record<string, { method: string; params: any }>)[0];
    assert.equal(input.method, 'sampling/createMessage');
    assert.equal(input.params.messages[0].content.text, 'q? (round 1)');
    const answer = { role: 'assistant', model: 'm', content: { type: 'text', text: 'A!' } };
    const second = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { ...call, inputResponses: { [key]: answer }, requestState: asked.requestState } }, HEADERS);
    assert.equal(second.json.result.resultType, 'complete', second.text);
    assert.equal(textOf(second.json.result), 'model said: A!');
  });
});
