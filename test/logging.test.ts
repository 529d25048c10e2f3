/**
 * Logs are pino JSON lines that carry the session and request ids: at debug level one line per answered call, at
 * info level none on the request path; a stage's warning (a policy denial) names the call it is about.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { configSchema } from '../src/config/schema.ts';
import { Gateway } from '../src/gateway.ts';
import { everythingStdio, openSession, post } from './helpers/gateway.ts';

/** A gateway whose log lines are kept in `lines`. */
async function loggedGateway(level: string): Promise<{ gateway: Gateway; url: string; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0 },
    store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-log-')), 'gatehouse.db') },
    upstreams: { everything: everythingStdio() },
    policy: { rules: [{ name: 'no-sum', effect: 'deny', on: { tools: ['get-sum'] } }] },
  });
  const gateway = new Gateway(config, pino({ level }, sink));
  return { gateway, url: await gateway.start(), lines };
}

describe('logs carry session and request ids', () => {
  const gateways: Gateway[] = [];
  after(() => Promise.all(gateways.map((g) => g.close())));

  it('debug: one "request served" line per call with session, request id, method, target and outcome', async () => {
    const { gateway, url, lines } = await loggedGateway('debug');
    gateways.push(gateway);
    const session = await openSession(url);
    const r = await post(url, { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    assert.ok(r.json.result, r.text);
    const served = lines.filter((l) => l.msg === 'request served' && l.request === 41);
    assert.equal(served.length, 1);
    assert.equal(served[0].session, session);
    assert.equal(served[0].method, 'tools/call');
    assert.equal(served[0].target, 'echo');
    assert.equal(served[0].outcome, 'ok');
    assert.equal(typeof served[0].ms, 'number');
  });

  it('info: no line per call; a policy denial names its session and request', async () => {
    const { gateway, url, lines } = await loggedGateway('info');
    gateways.push(gateway);
    const session = await openSession(url);
    const before = lines.length;
    for (let id = 1; id <= 5; id++) {
      await post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    }
    assert.deepEqual(lines.slice(before), [], 'nothing logged for five ordinary calls');
    const denied = await post(url, { jsonrpc: '2.0', id: 'deny-me', method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 2 } } }, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    assert.ok(denied.json.error, denied.text);
    const line = lines.find((l) => l.msg === 'policy denied');
    assert.ok(line, JSON.stringify(lines.slice(before)));
    assert.equal(line.session, session);
    assert.equal(line.request, 'deny-me');
  });
});
