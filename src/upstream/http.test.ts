import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { GatehouseError } from '../core/errors.ts';
import { connectHttp } from './http.ts';
import type { HttpConnection } from './http.ts';
import { UpstreamPool } from './pool.ts';
import { OPTIONS, Recorder, everythingHttp, freePort, httpConfig, sdkHttpServer, waitFor } from './testing.ts';
import type { TestHttpServer } from './testing.ts';

const open: HttpConnection[] = [];
after(async () => {
  await Promise.all(open.map((c) => c.close()));
});

async function connect(name: string, url: string, rec = new Recorder(), extra: Record<string, unknown> = {}): Promise<HttpConnection> {
  const conn = await connectHttp(name, httpConfig({ url, ...extra }), rec, OPTIONS);
  open.push(conn);
  return conn;
}

describe('streamable HTTP upstream against server-everything', () => {
  let server: TestHttpServer;
  before(async () => {
    server = await everythingHttp('streamableHttp');
  });
  after(async () => {
    await server.close();
  });

  it('initializes a session, lists tools and calls echo', async () => {
    const conn = await connect('ev-http', server.url);
    assert.ok(conn.sessionId);
    assert.equal(conn.info.serverInfo.name, 'mcp-servers/everything');
    assert.equal(conn.info.protocolVersion, '2025-11-25');
    const list = await conn.request('tools/list', undefined);
    assert.ok((list.tools as { name: string }[]).some((t) => t.name === 'echo'));
    const echo = await conn.request('tools/call', { name: 'echo', arguments: { message: 'over http' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: over http' }]);
  });

  it('delivers progress from the request stream, tagged, before the response', async () => {
    const rec = new Recorder();
    const conn = await connect('ev-http', server.url, rec);
    let seenAtResponse = -1;
    const result = await conn.request('tools/call', { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 'tok' } }, { tag: 'call-7' }).then((r) => {
      seenAtResponse = rec.notifications.filter((x) => x.n.method === 'notifications/progress').length;
      return r;
    });
    assert.match(JSON.stringify(result), /Long running operation completed/);
    assert.equal(seenAtResponse, 3);
    const progress = rec.notifications.filter((x) => x.n.method === 'notifications/progress');
    assert.deepEqual(progress.map((x) => [x.tag, x.n.params!.progress]), [['call-7', 1], ['call-7', 2], ['call-7', 3]]);
  });

  it('multiplexes concurrent calls on one upstream session', async () => {
    const conn = await connect('ev-http', server.url);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.request('tools/call', { name: 'echo', arguments: { message: `n${i}` } })));
    results.forEach((r, i) => assert.equal((r.content as { text: string }[])[0].text, `Echo: n${i}`));
    assert.equal(conn.inflight, 0);
  });
});

describe('streamable HTTP upstream against an SDK v2 server', () => {
  it('answers a sampling request that arrives on the request stream, with the request tag', async () => {
    const server = await sdkHttpServer();
    try {
      const rec = new Recorder();
      rec.answer = async (r) => {
        assert.equal(r.method, 'sampling/createMessage');
        return { role: 'assistant', content: { type: 'text', text: 'hi!' }, model: 'test-model' };
      };
      const conn = await connect('sdk', server.url, rec, { headers: { Authorization: 'Bearer upstream-token' } });
      const result = await conn.request('tools/call', { name: 'sample', arguments: {} }, { tag: 'ctx-1' });
      assert.equal((result.content as { text: string }[])[0].text, 'model said: {"type":"text","text":"hi!"}');
      assert.equal(rec.requests.length, 1);
      assert.equal(rec.requests[0].tag, 'ctx-1');
      // Headers: the session and negotiated version after initialize; the configured ones everywhere.
      const posts = server.requests.filter((r) => r.method !== 'GET');
      assert.equal(posts[0].method, 'initialize');
      assert.equal(posts[0].session, undefined);
      assert.ok(posts.every((r) => r.auth === 'Bearer upstream-token'));
      for (const r of posts.slice(1)) {
        assert.equal(r.session, conn.sessionId);
        assert.equal(r.version, '2025-11-25');
      }
    } finally {
      await server.close();
    }
  });

  it('receives server-initiated notifications on the GET stream, untagged', async () => {
    const server = await sdkHttpServer();
    try {
      const rec = new Recorder();
      await connect('sdk', server.url, rec);
      // broadcast() drops what it sends while no GET stream is registered: wait until the server has answered the GET.
      await waitFor(() => server.requests.some((r) => r.method === 'GET' && r.status === 200), 2000, 'GET stream');
      server.broadcast();
      await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/tools/list_changed'), 2000, 'list_changed');
      assert.equal(rec.notifications.find((x) => x.n.method === 'notifications/tools/list_changed')!.tag, undefined);
      // Cut every socket: the GET stream reconnects (server retry hint, Last-Event-ID) and keeps delivering.
      server.dropConnections();
      await waitFor(() => server.requests.some((r) => r.method === 'GET' && r.lastEventId !== undefined && r.status === 200), 3000, 'GET reconnect');
      server.broadcast();
      await waitFor(() => rec.notifications.filter((x) => x.n.method === 'notifications/tools/list_changed').length === 2, 2000, 'second list_changed');
    } finally {
      await server.close();
    }
  });

  it('answers a server request that arrives on the GET stream by POSTing the response', async () => {
    const server = await sdkHttpServer();
    try {
      const rec = new Recorder();
      rec.answer = async () => ({ role: 'assistant', content: { type: 'text', text: 'pong' }, model: 'm' });
      const conn = await connect('sdk', server.url, rec);
      // The pushed request goes to the standalone stream, so it must be registered (GET answered) before the call.
      await waitFor(() => server.requests.some((r) => r.method === 'GET' && r.status === 200), 2000, 'GET stream');
      const result = await conn.request('tools/call', { name: 'sample-push', arguments: {} }, { tag: 'ctx-2' });
      assert.equal((result.content as { text: string }[])[0].text, 'pushed: {"type":"text","text":"pong"}');
      assert.equal(rec.requests[0].tag, undefined, 'the standalone stream belongs to no request');
    } finally {
      await server.close();
    }
  });

  it('resumes a request stream the server closed early, with Last-Event-ID', async () => {
    const server = await sdkHttpServer();
    try {
      const rec = new Recorder();
      const conn = await connect('sdk', server.url, rec);
      const result = await conn.request('tools/call', { name: 'drop-stream', arguments: {}, _meta: { progressToken: 'p' } }, { tag: 'ctx-3', timeoutMs: 5000 });
      assert.equal((result.content as { text: string }[])[0].text, 'answered after the stream dropped');
      assert.equal(rec.notifications.find((x) => x.n.method === 'notifications/progress')!.tag, 'ctx-3');
      assert.ok(server.requests.some((r) => r.method === 'GET' && r.lastEventId !== undefined), 'a GET with Last-Event-ID resumed the stream');
    } finally {
      await server.close();
    }
  });

  it('parses JSON answers, re-initializes an expired session once and retries, and DELETEs on close', async () => {
    const server = await sdkHttpServer({ json: true });
    try {
      const rec = new Recorder();
      const conn = await connect('sdk-json', server.url, rec);
      const first = conn.sessionId;
      assert.deepEqual((await conn.request('tools/call', { name: 'echo', arguments: { message: 'a' } })).content, [{ type: 'text', text: 'Echo: a' }]);
      // Progress notifications come back in a JSON answer too? No: JSON mode has no stream; the call still works.
      assert.deepEqual((await conn.request('tools/call', { name: 'progress', arguments: {}, _meta: { progressToken: 1 } })).content, [{ type: 'text', text: 'progressed' }]);
      server.expire();
      const results = await Promise.all(['b', 'c', 'd'].map((message) => conn.request('tools/call', { name: 'echo', arguments: { message } })));
      assert.deepEqual(results.map((r) => (r.content as { text: string }[])[0].text), ['Echo: b', 'Echo: c', 'Echo: d']);
      assert.equal(server.initializes, 2, 'one re-initialize for three requests that saw 404');
      assert.equal(conn.reinitializations, 1);
      assert.notEqual(conn.sessionId, first);
      assert.equal(conn.closed, false);
      assert.equal(rec.closes.length, 0);
      await conn.close();
      assert.equal(server.deletes, 1);
      assert.equal(rec.closes.length, 1);
      assert.equal(rec.closes[0], undefined, 'a close we asked for carries no error');
    } finally {
      await server.close();
    }
  });
});

/** A hand-written upstream for what well-behaved servers never do. Records every POSTed message. */
async function rawServer(): Promise<TestHttpServer & { posted: Record<string, unknown>[] }> {
  const posted: Record<string, unknown>[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { name?: string; protocolVersion?: string } };
      posted.push(m as Record<string, unknown>);
      const json = (status: number, value: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (m.id === undefined) return json(202, '');
      if (m.method === 'initialize') {
        const version = m.params?.protocolVersion === '2025-11-25' ? '2025-03-26' : m.params?.protocolVersion;
        return json(200, { jsonrpc: '2.0', id: m.id, result: { protocolVersion: version, capabilities: {}, serverInfo: { name: 'raw', version: '0' } } });
      }
      switch (m.params?.name) {
        case 'garbage':
          return json(200, 'this is not json');
        case 'wrong-id':
          return json(200, { jsonrpc: '2.0', id: 99999, result: {} });
        case 'html':
          return json(200, '<html></html>', 'text/html');
        case 'fail':
          return json(503, { jsonrpc: '2.0', id: m.id, error: { code: -32000, message: 'overloaded' } });
        case 'hang':
          return; // never answers
        default:
          return json(200, { jsonrpc: '2.0', id: m.id, result: { ok: true } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    posted,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('streamable HTTP upstream failure modes', () => {
  let server: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    server = await rawServer();
  });
  after(async () => {
    await server.close();
  });

  const call = (conn: HttpConnection, name: string, timeoutMs?: number) => conn.request('tools/call', { name, arguments: {} }, { timeoutMs }).catch((e: unknown) => e);

  it('accepts an older protocol version and works without a session id or GET stream', async () => {
    const conn = await connect('raw', server.url);
    assert.equal(conn.info.protocolVersion, '2025-03-26');
    assert.equal(conn.sessionId, undefined);
    assert.deepEqual(await conn.request('tools/call', { name: 'ok', arguments: {} }), { ok: true });
  });

  it('rejects bodies that are not JSON-RPC answers with GH_ERR_UPSTREAM_PROTOCOL naming the upstream', async () => {
    const conn = await connect('raw', server.url);
    for (const [name, pattern] of [['garbage', /not valid JSON/], ['wrong-id', /not its JSON-RPC response/], ['html', /neither JSON nor an event stream/]] as const) {
      const err = await call(conn, name);
      assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_PROTOCOL', `${name}: ${String(err)}`);
      assert.match(err.message, /^Upstream raw sent an invalid message: /);
      assert.match(err.message, pattern);
    }
    assert.equal(conn.unmatchedResponses, 1);
    assert.equal(conn.closed, false);
  });

  it('maps 5xx to GH_ERR_UPSTREAM_UNAVAILABLE with the status and message', async () => {
    const conn = await connect('raw', server.url);
    const err = await call(conn, 'fail');
    assert.ok(GatehouseError.is(err));
    assert.equal(err.code, 'GH_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(err.message, 'Upstream raw is unavailable: HTTP 503: overloaded');
  });

  it('times out, sends notifications/cancelled with the upstream id, and frees the socket', async () => {
    const conn = await connect('raw', server.url);
    const err = await call(conn, 'hang', 150);
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_TIMEOUT');
    await waitFor(() => server.posted.some((m) => m.method === 'notifications/cancelled'), 2000, 'cancelled');
    const hung = server.posted.filter((m) => (m.params as { name?: string } | undefined)?.name === 'hang').at(-1)!;
    const cancel = server.posted.find((m) => m.method === 'notifications/cancelled')!;
    assert.deepEqual(cancel.params, { requestId: hung.id, reason: 'timed out after 150 ms' });
    const ac = new AbortController();
    const hangs = () => server.posted.filter((m) => (m.params as { name?: string } | undefined)?.name === 'hang').length;
    const held = hangs();
    const pending = conn.request('tools/call', { name: 'hang', arguments: {} }, { signal: ac.signal });
    // Abort once the server holds the request, so the abort cancels a request in flight.
    await waitFor(() => hangs() === held + 1, 2000, 'second hang received');
    ac.abort();
    await assert.rejects(pending, (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_REQUEST_CANCELLED');
    assert.deepEqual(await conn.request('tools/call', { name: 'ok', arguments: {} }), { ok: true });
  });

  it('names the upstream and the cause when the connection is refused', async () => {
    const port = await freePort();
    const err = await connectHttp('nowhere', httpConfig({ url: `http://127.0.0.1:${port}/mcp` }), new Recorder(), OPTIONS).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.equal(err.code, 'GH_ERR_UPSTREAM_UNAVAILABLE');
    assert.match(err.message, /^Upstream nowhere is unavailable: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
  });

  it('fails requests on a live connection whose server went away, without closing it', async () => {
    const temp = await rawServer();
    const conn = await connect('gone', temp.url);
    await temp.close();
    const err = await call(conn, 'ok');
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_UNAVAILABLE', String(err));
    assert.match(err.message, /^Upstream gone is unavailable: /);
    assert.equal(conn.closed, false);
  });

  it('is always one shared connection in a pool', async () => {
    const pool = new UpstreamPool('raw', httpConfig({ url: server.url }), { onNotification() {}, onRequest: async () => ({}), onClose() {} }, { capabilities: {}, clientVersion: '0' });
    try {
      await pool.start();
      const [a, b, c] = await Promise.all([pool.acquire({ sessionId: '1', principal: 'x' }), pool.acquire({ sessionId: '2', principal: 'y' }), pool.catalog()]);
      assert.ok(a === b && b === c);
      assert.deepEqual(pool.stats(), { processes: 0, connections: 1, starting: 0, restarts: 0, reaped: 0, recycled: 0, rejected: 0 });
    } finally {
      await pool.close();
    }
  });
});
