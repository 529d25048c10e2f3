/**
 * An upstream that hangs, sends garbage, crashes mid-call or answers HTTP with something that is not MCP gives
 * the caller a clear JSON-RPC error naming that upstream, and every other upstream keeps serving.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

const FAULTY = new URL('./fixtures/faulty-server.ts', import.meta.url).pathname;

describe('upstream faults are contained', () => {
  let gw: RunningGateway;
  let session: string;
  let broken: Server;
  let brokenMode: 'html' | 'cut' = 'html';
  const call = (name: string, id = 1) => post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { message: 'still fine' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });

  before(async () => {
    // An HTTP "upstream" that initializes properly and then answers calls with HTML or cuts the connection.
    broken = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const m = body ? JSON.parse(body) : {};
        if (m.method === 'initialize') {
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'b1' });
          return res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'broken', version: '1' } } }));
        }
        if (m.method === 'tools/list') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'explode', inputSchema: { type: 'object' } }] } }));
        }
        if (m.id === undefined) return res.writeHead(202).end();
        if (req.method === 'GET') return res.writeHead(405).end();
        if (brokenMode === 'html') {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>oops</html>');
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': starting\n\n');
        res.socket?.destroy();
      });
    });
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    gw = await startGateway({
      upstreams: {
        faulty: { command: process.execPath, args: [FAULTY], timeouts: { request: 800 }, pool: { backoff: 50 } },
        broken: { url: `http://127.0.0.1:${(broken.address() as AddressInfo).port}/mcp` },
        everything: everythingStdio(),
      },
    });
    session = await openSession(gw.url);
  });
  after(async () => {
    await gw.close();
    broken.close();
  });

  const assertHealthy = async () => {
    const r = await call('everything__echo', 99);
    assert.match(JSON.stringify(r.json.result), /still fine/);
  };

  it('a hanging upstream times out with an error naming it', async () => {
    const r = await call('faulty__hang');
    assert.equal(r.json.error.code, -32001);
    assert.match(r.json.error.message, /Upstream faulty did not answer within 800 ms/);
    await assertHealthy();
  });

  it('garbage from a stdio upstream is skipped; the call fails with an error naming it', async () => {
    const r = await call('faulty__garbage');
    assert.ok(r.json.error, r.text);
    assert.match(r.json.error.message, /faulty/);
    await assertHealthy();
  });

  it('an upstream that crashes mid-call gives a closed error naming it, then comes back', async () => {
    const r = await call('faulty__crash');
    assert.equal(r.json.error.code, -32010);
    assert.match(r.json.error.message, /Upstream faulty/);
    await assertHealthy();
    const back = await call('faulty__ok');
    assert.match(JSON.stringify(back.json.result), /fine/);
  });

  it('an HTTP upstream answering HTML gives a protocol error naming it', async () => {
    brokenMode = 'html';
    const r = await call('broken__explode');
    assert.equal(r.json.error.code, -32010);
    assert.match(r.json.error.message, /Upstream broken sent an invalid message/);
    await assertHealthy();
  });

  it('an HTTP upstream that closes mid-stream gives an error naming it', async () => {
    brokenMode = 'cut';
    const r = await call('broken__explode');
    assert.equal(r.json.error.code, -32010);
    assert.match(r.json.error.message, /Upstream broken/);
    await assertHealthy();
  });
});
