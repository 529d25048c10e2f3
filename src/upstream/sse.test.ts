import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc.ts';
import { UpstreamPool } from './pool.ts';
import { connectSse } from './sse.ts';
import type { SseConnection } from './sse.ts';
import { OPTIONS, Recorder, everythingHttp, httpConfig, waitFor } from './testing.ts';
import type { TestHttpServer } from './testing.ts';
import type { UpstreamConnection } from './types.ts';

const open: SseConnection[] = [];
after(async () => {
  await Promise.all(open.map((c) => c.close()));
});

async function connect(name: string, url: string, rec = new Recorder(), extra: Record<string, unknown> = {}): Promise<SseConnection> {
  const conn = await connectSse(name, httpConfig({ url, transport: 'sse', ...extra }), rec, OPTIONS);
  open.push(conn);
  return conn;
}

describe('legacy SSE upstream against server-everything', () => {
  let server: TestHttpServer & { pid: number };
  before(async () => {
    server = await everythingHttp('sse');
  });
  after(async () => {
    await server.close();
  });

  it('follows the endpoint event, lists tools and calls echo concurrently', async () => {
    const conn = await connect('ev-sse', server.url);
    assert.match(conn.endpoint!.href, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/message\\?sessionId=`));
    assert.equal(conn.info.serverInfo.name, 'mcp-servers/everything');
    const list = await conn.request('tools/list', undefined);
    assert.ok((list.tools as { name: string }[]).some((t) => t.name === 'echo'));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => conn.request('tools/call', { name: 'echo', arguments: { message: `e${i}` } })));
    results.forEach((r, i) => assert.equal((r.content as { text: string }[])[0].text, `Echo: e${i}`));
  });

  it('delivers progress untagged and answers roots/list through the handlers', async () => {
    const rec = new Recorder();
    rec.answer = async (r) => (r.method === 'roots/list' ? { roots: [{ uri: 'file:///sse-root', name: 'r' }] } : {});
    const conn = await connect('ev-sse', server.url, rec);
    const result = await conn.request('tools/call', { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 9 } }, { tag: 'ignored' });
    assert.match(JSON.stringify(result), /completed/);
    const progress = rec.notifications.filter((x) => x.n.method === 'notifications/progress');
    assert.equal(progress.length, 2);
    assert.ok(progress.every((x) => x.tag === undefined), 'legacy SSE has no per-request stream');
    await waitFor(() => rec.requests.some((x) => x.r.method === 'roots/list'), 3000, 'roots/list');
    // server-everything logs "Roots updated" once it has stored our answer: get-roots-list reads it from then on.
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/message' && /^Roots updated/.test(String(x.n.params?.data))), 3000, 'roots stored');
    assert.match(JSON.stringify(await conn.request('tools/call', { name: 'get-roots-list', arguments: {} })), /file:\/\/\/sse-root/);
  });

  it('closes when the stream is lost: in-flight rejected naming the upstream, onClose with the cause', async () => {
    const rec = new Recorder();
    const conn = await connect('ev-sse', server.url, rec);
    const pending = conn.request('tools/call', { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 50 }, _meta: { progressToken: 'lost' } }).catch((e: unknown) => e);
    // The first progress notification proves the upstream is running the call when the server goes away.
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/progress'), 3000, 'progress');
    await server.close();
    const err = await pending;
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_CLOSED', String(err));
    assert.match(err.message, /^Upstream ev-sse \(event stream closed\) closed the connection/);
    assert.equal(rec.closes.length, 1);
    assert.match(rec.closes[0]!.message, /^Upstream ev-sse is unavailable: /);
    assert.equal(conn.closed, true);
  });
});

/** A hand-written legacy SSE server: relative endpoint, answers on the stream; `drop()` cuts every stream. */
async function legacyServer(options: { endpoint?: (sid: number) => string; getStatus?: number; silent?: boolean } = {}): Promise<TestHttpServer & { streams: number; drop(): void; posts: Record<string, unknown>[] }> {
  const streams = new Map<number, ServerResponse>();
  const posts: Record<string, unknown>[] = [];
  let next = 0;
  let opened = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && url.pathname === '/mcp/sse') {
      if (options.getStatus) return res.writeHead(options.getStatus).end('no');
      const sid = ++next;
      opened++;
      streams.set(sid, res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': hello\n\n');
      if (!options.silent) res.write(`event: endpoint\ndata: ${options.endpoint?.(sid) ?? `messages?sid=${sid}`}\n\n`);
      req.on('close', () => streams.delete(sid));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/mcp/messages') {
      const stream = streams.get(Number(url.searchParams.get('sid')));
      if (!stream) return res.writeHead(404).end();
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const m = JSON.parse(body) as { id?: number; method?: string; params?: { name?: string; arguments?: { message?: string } } };
        posts.push(m as Record<string, unknown>);
        res.writeHead(202).end('Accepted');
        if (m.id === undefined) return;
        const send = (value: unknown) => stream.write(`event: message\ndata: ${JSON.stringify(value)}\n\n`);
        if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2024-11-05', capabilities: { tools: {} }, serverInfo: { name: 'legacy', version: '1' } } });
        else if (m.method === 'tools/call') send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `legacy: ${m.params?.arguments?.message}` }] } });
        else send({ jsonrpc: '2.0', id: m.id, result: {} });
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp/sse`,
    port,
    posts,
    get streams() {
      return opened;
    },
    drop() {
      for (const res of streams.values()) res.destroy();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('legacy SSE upstream against a hand-written server', () => {
  it('resolves a relative endpoint and speaks 2024-11-05', async () => {
    const server = await legacyServer();
    try {
      const conn = await connect('legacy', server.url);
      assert.equal(conn.endpoint!.pathname, '/mcp/messages');
      assert.equal(conn.info.protocolVersion, '2024-11-05');
      assert.deepEqual((await conn.request('tools/call', { name: 'x', arguments: { message: 'hi' } })).content, [{ type: 'text', text: 'legacy: hi' }]);
      assert.deepEqual(server.posts.map((m) => m.method), ['initialize', 'notifications/initialized', 'tools/call']);
      await conn.close();
    } finally {
      await server.close();
    }
  });

  it('refuses an endpoint on another origin, a GET that is not a stream, and a stream with no endpoint', async () => {
    const elsewhere = await legacyServer({ endpoint: () => 'http://evil.example/steal' });
    const notStream = await legacyServer({ getStatus: 404 });
    const silent = await legacyServer({ silent: true });
    try {
      const e1 = await connectSse('x1', httpConfig({ url: elsewhere.url, transport: 'sse' }), new Recorder(), OPTIONS).catch((e: unknown) => e);
      assert.ok(GatehouseError.is(e1));
      assert.match(e1.message, /^Upstream x1 sent an invalid message: endpoint http:\/\/evil\.example\/steal is not on the origin/);
      const e2 = await connectSse('x2', httpConfig({ url: notStream.url, transport: 'sse' }), new Recorder(), OPTIONS).catch((e: unknown) => e);
      assert.ok(GatehouseError.is(e2));
      assert.match(e2.message, /^Upstream x2 is unavailable: GET http:.* answered HTTP 404, not an event stream$/);
      const e3 = await connectSse('x3', httpConfig({ url: silent.url, transport: 'sse', timeouts: { connect: 200 } }), new Recorder(), OPTIONS).catch((e: unknown) => e);
      assert.ok(GatehouseError.is(e3));
      assert.equal(e3.message, 'Upstream x3 is unavailable: no answer to initialize within 200 ms');
    } finally {
      await Promise.all([elsewhere.close(), notStream.close(), silent.close()]);
    }
  });

  it('a pool reconnects the shared SSE connection after the stream drops', async () => {
    const server = await legacyServer();
    const closes: (Error | undefined)[] = [];
    const opens: UpstreamConnection[] = [];
    const pool = new UpstreamPool('legacy', httpConfig({ url: server.url, transport: 'sse' }), {
      onNotification(_c: UpstreamConnection, _n: JsonRpcNotification) {},
      onRequest: async (_c: UpstreamConnection, _r: JsonRpcRequest): Promise<JsonObject> => ({}),
      onClose: (_c, error) => closes.push(error),
      onOpen: (c) => opens.push(c),
    }, { capabilities: {}, clientVersion: '0' });
    try {
      await pool.start();
      const first = await pool.acquire({ sessionId: 's', principal: 'p' });
      server.drop();
      await waitFor(() => first.closed, 2000, 'stream loss seen');
      const second = await pool.acquire({ sessionId: 's', principal: 'p' });
      assert.notEqual(second, first);
      assert.deepEqual((await second.request('tools/call', { name: 'x', arguments: { message: 'back' } })).content, [{ type: 'text', text: 'legacy: back' }]);
      assert.equal(closes.length, 1);
      assert.ok(closes[0] instanceof Error);
      assert.equal(opens.length, 2);
      assert.equal(server.streams, 2);
      assert.equal(pool.stats().restarts, 1);
    } finally {
      await pool.close();
      await server.close();
    }
  });
});
