/**
 * Rate limits through a real gateway: a burst of calls from one principal, the next answered with HTTP 429,
 * Retry-After and the limit's data, while another principal, lists, and batches behave as before.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ANONYMOUS } from '../src/auth/principal.ts';
import type { Principal } from '../src/auth/principal.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

const BURST = 3;

/** One token every 20 minutes; the bucket refilled by the few milliseconds the test took. */
function assertLimitData(data: unknown): void {
  const { retryAfterMs, ...rest } = data as { retryAfterMs: number };
  assert.deepEqual(rest, { code: 'GH_ERR_RATE_LIMITED', limit: 'per-user' });
  assert.ok(retryAfterMs > 1_190_000 && retryAfterMs <= 1_200_000, String(retryAfterMs));
}

function principal(name: string): Principal {
  return { ...ANONYMOUS, id: `key:${name}`, kind: 'api-key', apiKey: { id: name, owner: name } };
}

describe('rate limits through the gateway', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({
      upstreams: { everything: everythingStdio() },
      // 3 per hour: nothing refills during the test, so the outcome does not depend on timing.
      rateLimits: [{ name: 'per-user', per: 'principal', rate: `${BURST}/h`, match: { tools: ['echo'] } }],
    });
    // The gateway's identity extension point: the test's principals come from a header.
    gw.gateway.identity = { authenticate: async (req: IncomingMessage) => principal(String(req.headers['x-user'] ?? 'nobody')) };
  });
  after(() => gw.close());

  async function session(user: string, revision = '2025-11-25'): Promise<(body: unknown) => ReturnType<typeof post>> {
    const init = await post(gw.url, INIT(revision), { 'x-user': user });
    assert.equal(init.status, 200, init.text);
    const headers = { 'x-user': user, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': revision };
    await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
    return (body) => post(gw.url, body, headers);
  }

  const echo = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `hi ${id}` } } });

  it('answers the call after the burst with 429, Retry-After and the limit; another principal is unaffected', async () => {
    const alice = await session('alice');
    for (let i = 1; i <= BURST; i++) {
      const r = await alice(echo(i));
      assert.equal(r.status, 200, r.text);
      // Calls still answer as a stream (server.callResponse: sse).
      assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(r.json.result.content[0].text, `Echo: hi ${i}`);
    }
    const limited = await alice(echo(BURST + 1));
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.headers.get('retry-after'), '1200');
    assert.match(limited.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(limited.json.id, BURST + 1);
    assert.equal(limited.json.error.code, -32029);
    assertLimitData(limited.json.error.data);

    // Lists are free, and tools the limit does not match still work.
    const list = await alice({ jsonrpc: '2.0', id: 10, method: 'tools/list' });
    assert.equal(list.status, 200);
    assert.ok(list.json.result.tools.some((t: { name: string }) => t.name === 'echo'));
    const other = await alice({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 2 } } });
    assert.equal(other.status, 200, other.text);
    assert.equal(other.json.error, undefined);

    const bob = await session('bob');
    const r = await bob(echo(1));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, 'Echo: hi 1');
  });

  it('in a batch, a limited call is a JSON-RPC error beside the others and the POST stays 200', async () => {
    const carol = await session('carol', '2025-03-26');
    const r = await carol([echo(1), echo(2), echo(3), echo(4), { jsonrpc: '2.0', id: 5, method: 'tools/list' }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('retry-after'), null);
    const byId = new Map((r.json as { id: number }[]).map((m) => [m.id, m as { id: number; result?: unknown; error?: { code: number; data: unknown } }]));
    const limited = [...byId.values()].filter((m) => m.error?.code === -32029);
    assert.equal(limited.length, 1, r.text);
    assertLimitData(limited[0].error!.data);
    assert.ok(byId.get(5)!.result, 'the list in the same batch is answered');
  });
});

describe('rate limits with plain JSON call answers (server.callResponse: json)', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({
      server: { callResponse: 'json' },
      upstreams: { everything: everythingStdio() },
      rateLimits: [{ name: 'echo-tool', per: 'tool', rate: '1/h', burst: 1, match: { tools: ['echo'] } }],
    });
  });
  after(() => gw.close());

  it('answers 429 with Retry-After once the tool bucket is empty, for every principal', async () => {
    const first = await post(gw.url, INIT());
    const headers = { 'mcp-session-id': first.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } };
    const ok = await post(gw.url, call, headers);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
    const limited = await post(gw.url, { ...call, id: 2 }, headers);
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.headers.get('retry-after'), '3600');
    assert.equal(limited.json.error.data.limit, 'echo-tool');
  });
});
