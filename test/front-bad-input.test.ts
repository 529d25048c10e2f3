/**
 * Every malformed or hostile request gets the transport's answer and the gateway keeps serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, INIT, openSession, post, rawPost, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

describe('front door: bad input', () => {
  let gw: RunningGateway;
  let session: string;
  const h = (extra: Record<string, string> = {}) => ({ 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', ...extra });

  before(async () => {
    gw = await startGateway({ upstreams: { everything: everythingStdio() }, server: { maxBodyBytes: 64 * 1024 } });
    session = await openSession(gw.url);
  });
  after(() => gw.close());

  it('invalid JSON -> 400 with -32700', async () => {
    const r = await post(gw.url, '{"jsonrpc":"2.0",', h());
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32700);
    assert.equal(r.json.id, null);
  });

  it('not a JSON-RPC message -> 400 with -32600', async () => {
    const r = await post(gw.url, { hello: 'world' }, h());
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32600);
    const r2 = await post(gw.url, { jsonrpc: '1.0', id: 1, method: 'ping' }, h());
    assert.equal(r2.json.error.code, -32600);
  });

  it('unknown method -> -32601', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/frobnicate' }, h());
    assert.equal(r.status, 200);
    assert.equal(r.json.error.code, -32601);
    assert.match(r.json.error.message, /tools\/frobnicate/);
  });

  it('bad params -> -32602', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 42 } }, h());
    assert.equal(r.json.error.code, -32602);
    const r2 = await post(gw.url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: [1, 2] } }, h());
    assert.equal(r2.json.error.code, -32602);
    const r3 = await post(gw.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'no_such_tool' } }, h());
    assert.equal(r3.json.error.code, -32602);
    assert.match(r3.json.error.message, /Unknown tool: no_such_tool/);
  });

  it('unknown session -> 404; missing session -> 400', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': 'nope', 'mcp-protocol-version': '2025-11-25' });
    assert.equal(r.status, 404);
    const r2 = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(r2.status, 400);
    assert.match(r2.json.error.message, /Mcp-Session-Id/);
  });

  it('unsupported protocol version header -> 400', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, h({ 'mcp-protocol-version': '1999-01-01' }));
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /Unsupported protocol version 1999-01-01/);
  });

  it('wrong Accept -> 406, wrong Content-Type -> 415', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, h({ accept: 'application/json' }));
    assert.equal(r.status, 406);
    const r2 = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, h({ 'content-type': 'text/plain' }));
    assert.equal(r2.status, 415);
  });

  it('oversized body -> 413', async () => {
    const big = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(100_000) } } };
    const r = await post(gw.url, big, h());
    assert.equal(r.status, 413);
  });

  it('foreign Origin or Host -> 403 (DNS rebinding)', async () => {
    const r = await post(gw.url, INIT(), { origin: 'http://evil.example.com' });
    assert.equal(r.status, 403);
    const r2 = await rawPost(gw.url, INIT(), { host: 'evil.example.com' });
    assert.equal(r2.status, 403);
    const ok = await post(gw.url, INIT(), { origin: `http://localhost:${gw.gateway.port}` });
    assert.equal(ok.status, 200);
  });

  it('batches are refused after 2025-03-26 and accepted in 2025-03-26', async () => {
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }];
    const r = await post(gw.url, batch, h());
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /batch/);
    const old = await openSession(gw.url, '2025-03-26');
    const r2 = await post(gw.url, batch, { 'mcp-session-id': old, 'mcp-protocol-version': '2025-03-26' });
    assert.equal(r2.status, 200);
    assert.equal(r2.json.length, 2);
    assert.deepEqual(r2.json.map((m: { id: number }) => m.id).sort(), [1, 2]);
    const tools = r2.json.find((m: { id: number }) => m.id === 2);
    assert.ok(tools.result.tools.length > 0);
  });

  it('notifications and responses are answered 202', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, h());
    assert.equal(r.status, 202);
    const r2 = await post(gw.url, { jsonrpc: '2.0', id: 'unknown', result: {} }, h());
    assert.equal(r2.status, 202);
  });

  it('still serves normal calls after all of that', async () => {
    const r = await post(gw.url, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { message: 'still here' } } }, h());
    assert.equal(r.status, 200);
    assert.match(JSON.stringify(r.json.result.content), /still here/);
  });

  it('DELETE ends the session, then it is 404', async () => {
    const id = await openSession(gw.url);
    const del = await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    assert.equal(del.status, 204);
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': id });
    assert.equal(r.status, 404);
  });

  it('health and readiness', async () => {
    assert.equal((await fetch(`${gw.base}/healthz`)).status, 200);
    const ready = await fetch(`${gw.base}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { upstreams: Record<string, { status: string }> }).upstreams.everything.status, 'ready');
  });
});
