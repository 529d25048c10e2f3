/**
 * Request metrics against a real gateway in front of server-everything: every client request is counted by method,
 * virtual server, upstream, tool and outcome and timed (in all, and the gateway's own part), in-flight requests and
 * live sessions are gauged — all read from GET /metrics as Prometheus would, before and after the calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

const V = '2025-11-25';

/** A scrape: each sample by `name{k="v",...}`, labels sorted, so a label set reads the same whatever their order. */
type Scrape = Map<string, number>;

function keyOf(name: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
  return `${name}{${inner}}`;
}

/** Parse the text exposition format (comments skipped, label values unescaped). */
function parse(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.set(keyOf(match[1], labels), Number(match[3]));
  }
  return out;
}

const value = (s: Scrape, name: string, labels: Record<string, string> = {}) => s.get(keyOf(name, labels)) ?? 0;

/** Every series of `name` that moved between two scrapes, with how much. */
function deltas(before: Scrape, after: Scrape, name: string): Map<string, number> {
  const moved = new Map<string, number>();
  for (const [key, v] of after) {
    if (!key.startsWith(`${name}{`)) continue;
    const d = v - (before.get(key) ?? 0);
    if (d !== 0) moved.set(key, d);
  }
  return moved;
}

type Req = { method: string; virtual_server?: string; upstream?: string; tool?: string; outcome: string };
const requests = (...expected: [Req, number][]) =>
  new Map(expected.map(([r, n]) => [keyOf('gatehouse_requests_total', { virtual_server: '', upstream: '', tool: '', ...r }), n]));

describe('request metrics on GET /metrics', () => {
  let gw: RunningGateway;
  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(`${gw.base}/metrics`);
    assert.equal(res.status, 200);
    return parse(await res.text());
  };
  const rpc = (session: string, method: string, params?: Record<string, unknown>, url = gw.url) =>
    post(url, { jsonrpc: '2.0', id: 1, method, ...(params && { params }) }, { 'mcp-session-id': session, 'mcp-protocol-version': V });

  before(async () => {
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      policy: { rules: [{ name: 'no-env', effect: 'deny', on: { tools: ['get-env'] } }] },
      virtualServers: { finder: { toolSearch: { mode: 'search' } } },
    });
  });
  after(() => gw.close());

  it('counts each request by method, virtual server, upstream, tool and outcome, and times it', async () => {
    const session = await openSession(gw.url);
    const start = await scrape();

    assert.ok((await rpc(session, 'tools/list')).json.result.tools.length > 0);
    assert.equal((await rpc(session, 'tools/call', { name: 'echo', arguments: { message: 'hi' } })).json.result.isError, undefined);
    // server-everything answers arguments that fail its schema with an isError result: a tool error, not a JSON-RPC one.
    assert.equal((await rpc(session, 'tools/call', { name: 'echo', arguments: {} })).json.result.isError, true);
    assert.equal((await rpc(session, 'tools/call', { name: 'no-such-tool', arguments: {} })).json.error.data.code, 'GH_ERR_TOOL_NOT_FOUND');
    assert.equal((await rpc(session, 'tools/call', { name: 'get-env', arguments: {} })).json.error.data.code, 'GH_ERR_TOOL_NOT_FOUND', 'the policy denies it as unknown');
    assert.ok((await rpc(session, 'prompts/get', { name: 'simple-prompt' })).json.result.messages.length > 0);
    assert.ok((await rpc(session, 'resources/read', { uri: 'demo://no/such/resource' })).json.error, 'the upstream refuses an unknown URI');
    assert.deepEqual((await rpc(session, 'ping')).json.result, {});
    assert.ok((await rpc(session, 'no/such/method')).json.error);

    const end = await scrape();
    assert.deepEqual(deltas(start, end, 'gatehouse_requests_total'), requests(
      [{ method: 'tools/list', outcome: 'ok' }, 1],
      [{ method: 'tools/call', upstream: 'everything', tool: 'echo', outcome: 'ok' }, 1],
      [{ method: 'tools/call', upstream: 'everything', tool: 'echo', outcome: 'tool_error' }, 1],
      // An unknown name is never a label value (clients choose it): no upstream, no tool.
      [{ method: 'tools/call', outcome: 'error' }, 1],
      [{ method: 'tools/call', upstream: 'everything', tool: 'get-env', outcome: 'denied' }, 1],
      [{ method: 'prompts/get', upstream: 'everything', tool: 'simple-prompt', outcome: 'ok' }, 1],
      // Nor is a resource URI.
      [{ method: 'resources/read', upstream: 'everything', outcome: 'error' }, 1],
      [{ method: 'ping', outcome: 'ok' }, 1],
      [{ method: 'other', outcome: 'error' }, 1],
    ));

    for (const [method, n] of [['tools/call', 4], ['tools/list', 1], ['prompts/get', 1], ['resources/read', 1], ['ping', 1], ['other', 1]] as const) {
      const labels = { method, virtual_server: '' };
      for (const h of ['gatehouse_request_duration_seconds', 'gatehouse_gateway_overhead_seconds']) {
        assert.equal(value(end, `${h}_count`, labels) - value(start, `${h}_count`, labels), n, `${h}_count ${method}`);
        assert.equal(value(end, `${h}_bucket`, { ...labels, le: '+Inf' }), value(end, `${h}_count`, labels));
      }
    }
    // The gateway's part of a forwarded call is its time less the upstream's.
    const call = { method: 'tools/call', virtual_server: '' };
    const total = value(end, 'gatehouse_request_duration_seconds_sum', call) - value(start, 'gatehouse_request_duration_seconds_sum', call);
    const overhead = value(end, 'gatehouse_gateway_overhead_seconds_sum', call) - value(start, 'gatehouse_gateway_overhead_seconds_sum', call);
    assert.ok(total > 0 && overhead > 0 && overhead < total, `overhead ${overhead}s of ${total}s`);
    assert.equal(value(end, 'gatehouse_requests_in_flight', { virtual_server: '' }), 0);
  });

  it('gauges live sessions: up on initialize, down on DELETE', async () => {
    const labels = { virtual_server: 'finder' };
    const start = value(await scrape(), 'gatehouse_sessions', labels);
    const session = await openSession(`${gw.url}/finder`);
    assert.equal(value(await scrape(), 'gatehouse_sessions', labels), start + 1);
    const del = await fetch(`${gw.url}/finder`, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': V } });
    assert.equal(del.status, 204);
    const end = await scrape();
    assert.equal(value(end, 'gatehouse_sessions', labels), start);
    assert.ok(end.has(keyOf('gatehouse_sessions', labels)), 'a virtual server without sessions reads 0, it does not vanish');
  });

  it('gauges a request in flight while it runs, and counts it cancelled when the client cancels it', async () => {
    const session = await openSession(gw.url);
    const start = await scrape();
    const pending = post(gw.url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 1 } } }, { 'mcp-session-id': session, 'mcp-protocol-version': V });
    // Polling the gauge is the point here: it must read 1 while the call runs.
    const deadline = Date.now() + 10_000;
    while (value(await scrape(), 'gatehouse_requests_in_flight', { virtual_server: '' }) !== 1) {
      assert.ok(Date.now() < deadline, 'the call shows in flight');
    }
    await post(gw.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'test' } }, { 'mcp-session-id': session, 'mcp-protocol-version': V });
    const answer = await pending;
    assert.equal(answer.json.error.data.code, 'GH_ERR_REQUEST_CANCELLED');
    const end = await scrape();
    assert.deepEqual(deltas(start, end, 'gatehouse_requests_total'), requests(
      [{ method: 'tools/call', upstream: 'everything', tool: 'trigger-long-running-operation', outcome: 'cancelled' }, 1],
    ));
    assert.equal(value(end, 'gatehouse_requests_in_flight', { virtual_server: '' }), 0);
  });

  it("counts a meta-tool's nested call under its own tool and upstream, not as another request in flight", async () => {
    const url = `${gw.url}/finder`;
    const session = await openSession(url);
    const start = await scrape();
    const found = await rpc(session, 'tools/call', { name: 'search_tools', arguments: { query: 'sum of two numbers' } }, url);
    assert.equal(found.json.result.structuredContent.tools[0].name, 'get-sum');
    const sum = await rpc(session, 'tools/call', { name: 'call_tool', arguments: { name: 'get-sum', arguments: { a: 2, b: 3 } } }, url);
    assert.match(JSON.stringify(sum.json.result.content), /5/);
    const end = await scrape();
    assert.deepEqual(deltas(start, end, 'gatehouse_requests_total'), requests(
      [{ method: 'tools/call', virtual_server: 'finder', tool: 'search_tools', outcome: 'ok' }, 1],
      [{ method: 'tools/call', virtual_server: 'finder', tool: 'call_tool', outcome: 'ok' }, 1],
      [{ method: 'tools/call', virtual_server: 'finder', upstream: 'everything', tool: 'get-sum', outcome: 'ok' }, 1],
    ));
    const call = { method: 'tools/call', virtual_server: 'finder' };
    assert.equal(value(end, 'gatehouse_request_duration_seconds_count', call) - value(start, 'gatehouse_request_duration_seconds_count', call), 3);
    assert.equal(value(end, 'gatehouse_requests_in_flight', { virtual_server: 'finder' }), 0);
  });

  it('records nothing with server.metrics off', async () => {
    const off = await startGateway({ server: { metrics: false } });
    try {
      const session = await openSession(off.url);
      const r = await post(off.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': session, 'mcp-protocol-version': V });
      assert.deepEqual(r.json.result, {});
      assert.equal((await fetch(`${off.base}/metrics`)).status, 404);
      assert.deepEqual((await off.gateway.metrics.requests.get()).values, []);
      assert.deepEqual((await off.gateway.metrics.requestSeconds.get()).values, []);
    } finally {
      await off.close();
    }
  });
});
