/**
 * Token accounting and metrics (issue 6) against a real gateway in front of server-everything: every tools/list
 * served is counted in o200k tokens, per virtual server and per session, beside what the full list would cost, and
 * search_tools is timed; all of it scraped from GET /metrics as Prometheus would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { everythingStdio, openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

/** One sample of a scrape: `name{labels} value`, with labels given in any order. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('token accounting and /metrics', () => {
  let gw: RunningGateway;
  const V = '2025-11-25';
  const scrape = async () => {
    await gw.gateway.tokenUsage.idle();
    const res = await fetch(`${gw.base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };
  const list = async (url: string, session: string) => {
    const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': session, 'mcp-protocol-version': V });
    assert.equal(r.status, 200, r.text);
    return r.json.result.tools as unknown[];
  };

  before(async () => {
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      toolSearch: { mode: 'search', pinned: ['echo'] },
      virtualServers: { full: { toolSearch: { mode: 'all' } } },
    });
  });
  after(() => gw.close());

  it('counts every tools/list served in o200k tokens, per virtual server, and what the full list costs', async () => {
    const session = await openSession(`${gw.url}/full`);
    const tools = await list(`${gw.url}/full`, session);
    const exact = countTokens(JSON.stringify({ tools }));
    let text = await scrape();
    assert.equal(sample(text, 'gatehouse_tools_list_tokens_count', { virtual_server: 'full' }), 1);
    const sum = sample(text, 'gatehouse_tools_list_tokens_sum', { virtual_server: 'full' })!;
    assert.ok(Math.abs(sum - exact) / exact < 0.01, `counted ${sum}, the answer has ${exact} tokens`);
    assert.equal(sample(text, 'gatehouse_catalog_tools_tokens', { virtual_server: 'full' }), sum, 'mode all serves the full list');

    await list(`${gw.url}/full`, session);
    text = await scrape();
    assert.equal(sample(text, 'gatehouse_tools_list_tokens_count', { virtual_server: 'full' }), 2);
    assert.equal(sample(text, 'gatehouse_tools_list_tokens_sum', { virtual_server: 'full' }), 2 * sum);
  });

  it('shows the savings of search mode and times searches', async () => {
    const session = await openSession(gw.url);
    const listed = await list(gw.url, session);
    assert.equal(listed.length, 3, 'echo + search_tools + call_tool');
    const call = await post(gw.url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search_tools', arguments: { query: 'add two numbers' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': V });
    assert.equal(call.json.result.structuredContent.tools[0].name, 'get-sum');
    await post(gw.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search_tools', arguments: { query: '' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': V });

    const text = await scrape();
    const served = sample(text, 'gatehouse_tools_list_tokens_sum', { virtual_server: '' })!;
    const full = sample(text, 'gatehouse_catalog_tools_tokens', { virtual_server: '' })!;
    assert.ok(served > 0 && full > 5 * served, `search mode served ${served} tokens of a ${full}-token catalog`);
    assert.equal(sample(text, 'gatehouse_tool_search_total', { virtual_server: '', outcome: 'found' }), 1);
    assert.equal(sample(text, 'gatehouse_tool_search_total', { virtual_server: '', outcome: 'invalid' }), 1);
    assert.equal(sample(text, 'gatehouse_tool_search_duration_seconds_count', { virtual_server: '' }), 1);
  });

  it('adds up each session and observes its total when it ends', async () => {
    const session = await openSession(`${gw.url}/full`);
    const first = await list(`${gw.url}/full`, session);
    await list(`${gw.url}/full`, session);
    const s = gw.gateway.sessions.get(session)!;
    assert.equal(s.toolsLists, 2);
    const before = sample(await scrape(), 'gatehouse_session_tools_list_tokens_count', { virtual_server: 'full' }) ?? 0;
    const perList = countTokens(JSON.stringify({ tools: first }));
    assert.ok(Math.abs(s.toolsListTokens - 2 * perList) / perList < 0.02, `${s.toolsListTokens} vs 2 x ${perList}`);

    const del = await fetch(`${gw.url}/full`, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': V } });
    assert.equal(del.status, 204);
    const text = await scrape();
    assert.equal(sample(text, 'gatehouse_session_tools_list_tokens_count', { virtual_server: 'full' }), before + 1);
    assert.ok(sample(text, 'process_resident_memory_bytes', {})! > 0, 'process metrics are exported too');
  });

  it('can be turned off', async () => {
    const off = await startGateway({ server: { metrics: false } });
    try {
      const res = await fetch(`${off.base}/metrics`);
      assert.equal(res.status, 404);
    } finally {
      await off.close();
    }
  });
});
