import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import { connectStdio } from './stdio.ts';
import type { StdioConnection } from './stdio.ts';
import { EVERYTHING_BIN, OPTIONS, Recorder, fixtureServer, processAlive, stdioConfig, tempDir, waitFor } from './testing.ts';

const open: StdioConnection[] = [];
after(async () => {
  await Promise.all(open.map((c) => c.close()));
});

async function everything(extra: Record<string, unknown> = {}, recorder = new Recorder()): Promise<{ conn: StdioConnection; rec: Recorder }> {
  const conn = await connectStdio('everything', stdioConfig({ command: EVERYTHING_BIN, ...extra }), recorder, OPTIONS);
  open.push(conn);
  return { conn, rec: recorder };
}

/** server-everything behind `tee`, so the test reads exactly what the gateway wrote to the upstream. */
async function teed(): Promise<{ conn: StdioConnection; rec: Recorder; wire: () => Record<string, unknown>[] }> {
  const log = join(tempDir(), `wire-${Math.random().toString(36).slice(2)}.jsonl`);
  const { conn, rec } = await everything({ command: 'sh', args: ['-c', `tee ${log} | exec ${EVERYTHING_BIN}`] });
  const wire = () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { conn, rec, wire };
}

function longRun(seconds: number, steps = 5): Record<string, unknown> {
  return { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps } };
}

describe('stdio upstream against server-everything', () => {
  it('initializes, lists tools and calls echo', async () => {
    const { conn } = await everything();
    assert.equal(conn.info.serverInfo.name, 'mcp-servers/everything');
    assert.equal(conn.info.protocolVersion, '2025-11-25');
    assert.ok(conn.pid! > 0 && processAlive(conn.pid!));
    const list = await conn.request('tools/list', undefined);
    const names = (list.tools as { name: string }[]).map((t) => t.name);
    assert.ok(names.includes('echo') && names.includes('trigger-long-running-operation'));
    const result = await conn.request('tools/call', { name: 'echo', arguments: { message: 'hello' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: hello' }]);
    await assert.rejects(conn.request('tools/call', { name: 'no-such-tool', arguments: {} }).then((r) => {
      // Newer SDKs report an unknown tool as an isError result; older ones as a JSON-RPC error.
      if (r.isError === true) throw new UpstreamRpcError(-32602, 'isError');
    }), UpstreamRpcError);
  });

  it('multiplexes concurrent calls on one process with its own ids', async () => {
    const { conn, wire } = await teed();
    const messages = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const results = await Promise.all(messages.map((message) => conn.request('tools/call', { name: 'echo', arguments: { message } })));
    results.forEach((r, i) => assert.equal((r.content as { text: string }[])[0].text, `Echo: ${messages[i]}`));
    const calls = wire().filter((m) => m.method === 'tools/call');
    assert.equal(calls.length, 40);
    const ids = calls.map((m) => m.id);
    assert.ok(ids.every((id) => Number.isInteger(id)), 'ids are the connection counter');
    assert.equal(new Set(ids).size, 40, 'ids are unique');
    assert.equal(conn.inflight, 0);
  });

  it('times out a request, tells the upstream, and stays usable', async () => {
    const { conn, wire } = await teed();
    const err = await conn.request('tools/call', longRun(5), { timeoutMs: 150 }).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.equal(err.code, 'GH_ERR_UPSTREAM_TIMEOUT');
    assert.match(err.message, /everything.*150 ms/);
    await waitFor(() => wire().some((m) => m.method === 'notifications/cancelled'), 2000, 'notifications/cancelled');
    const call = wire().find((m) => m.method === 'tools/call')!;
    const cancel = wire().find((m) => m.method === 'notifications/cancelled')!;
    assert.deepEqual(cancel.params, { requestId: call.id, reason: 'timed out after 150 ms' });
    const echo = await conn.request('tools/call', { name: 'echo', arguments: { message: 'still here' } });
    assert.equal((echo.content as { text: string }[])[0].text, 'Echo: still here');
  });

  it('cancels on abort: notifications/cancelled reaches the upstream with the upstream id', async () => {
    const { conn, rec, wire } = await teed();
    const ac = new AbortController();
    const pending = conn.request('tools/call', { ...longRun(2), _meta: { progressToken: 'tok-1' } }, { signal: ac.signal, tag: 'call-1' });
    // The first progress notification proves the upstream is running the call.
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/progress'), 3000, 'progress');
    ac.abort('user pressed stop');
    await assert.rejects(pending, (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_REQUEST_CANCELLED');
    await waitFor(() => wire().some((m) => m.method === 'notifications/cancelled'), 2000, 'notifications/cancelled');
    const call = wire().find((m) => m.method === 'tools/call')!;
    const cancel = wire().find((m) => m.method === 'notifications/cancelled')!;
    assert.deepEqual(cancel.params, { requestId: call.id, reason: 'user pressed stop' });
    // stdio carries no per-request stream: notifications come untagged.
    assert.equal(rec.notifications.find((x) => x.n.method === 'notifications/progress')!.tag, undefined);
    // A signal aborted before the call sends nothing at all.
    const before = wire().length;
    await assert.rejects(conn.request('tools/call', longRun(1), { signal: AbortSignal.abort() }), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_REQUEST_CANCELLED');
    // Barrier: a follow-up call on the same stdin pipe. Writes reach the wire in order, so once the barrier is
    // there anything the aborted call had written would be there before it.
    const barrier = await conn.request('tools/call', { name: 'echo', arguments: { message: 'barrier' } });
    assert.equal((barrier.content as { text: string }[])[0].text, 'Echo: barrier');
    const isBarrier = (m: Record<string, unknown>) => (m.params as { arguments?: { message?: string } } | undefined)?.arguments?.message === 'barrier';
    await waitFor(() => wire().some(isBarrier), 2000, 'barrier on the wire');
    const since = wire().slice(before);
    assert.equal(since.length, 1, `only the barrier was written: ${JSON.stringify(since)}`);
    assert.ok(isBarrier(since[0]));
  });

  it('answers roots/list from the upstream through the handlers', async () => {
    const rec = new Recorder();
    rec.answer = async (r) => (r.method === 'roots/list' ? { roots: [{ uri: 'file:///work/project', name: 'project' }] } : {});
    const { conn } = await everything({}, rec);
    // server-everything asks for roots shortly after initialized when the client declares them.
    await waitFor(() => rec.requests.some((x) => x.r.method === 'roots/list'), 3000, 'roots/list');
    // server-everything logs "Roots updated" once it has stored our answer: get-roots-list reads it from then on.
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/message' && /^Roots updated/.test(String(x.n.params?.data))), 3000, 'roots stored');
    const result = await conn.request('tools/call', { name: 'get-roots-list', arguments: {} });
    assert.match(JSON.stringify(result), /file:\/\/\/work\/project/);
  });

  it('rejects in-flight requests naming the upstream when the process crashes', async () => {
    const { conn, rec } = await everything();
    const pending = conn.request('tools/call', { ...longRun(5, 50), _meta: { progressToken: 'crash' } });
    // The first progress notification (after 100 ms) proves the upstream is running the call when it dies.
    await waitFor(() => rec.notifications.some((x) => x.n.method === 'notifications/progress'), 3000, 'progress');
    process.kill(conn.pid!, 'SIGKILL');
    const err = await pending.catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.equal(err.code, 'GH_ERR_UPSTREAM_CLOSED');
    assert.match(err.message, /everything \(killed by SIGKILL\)/);
    await waitFor(() => rec.closes.length === 1, 2000, 'onClose');
    assert.match(rec.closes[0]!.message, /killed by SIGKILL/);
    assert.equal(conn.closed, true);
    await assert.rejects(conn.request('tools/list', undefined), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_UPSTREAM_CLOSED');
  });
});

describe('stdio upstream with misbehaving servers', () => {
  const fixture = fixtureServer();

  it('skips non-JSON stdout lines, bad envelopes and unknown ids; reassembles split CRLF lines', async () => {
    const rec = new Recorder();
    const conn = await connectStdio('noisy', stdioConfig({ command: process.execPath, args: [fixture, 'garbage'] }), rec, OPTIONS);
    open.push(conn);
    assert.equal(conn.info.serverInfo.name, 'fixture');
    assert.equal(conn.info.protocolVersion, '2025-06-18');
    assert.equal(conn.skippedLines, 2); // the log line and the broken JSON; the blank line is ignored
    assert.equal(conn.invalidMessages, 1); // jsonrpc 1.0
    assert.equal(conn.unmatchedResponses, 1); // id 987654
    const result = await conn.request('tools/call', { name: 'batch', arguments: {} });
    assert.deepEqual(result, { content: [] });
    assert.equal(rec.notifications[0]!.n.params!.data, 'in a batch');
    await conn.close();
  });

  it('answers the upstream ping itself and routes other server requests', async () => {
    const rec = new Recorder();
    rec.answer = async () => ({ roots: [] });
    const conn = await connectStdio('pinger', stdioConfig({ command: process.execPath, args: [fixture, 'ping'] }), rec, OPTIONS);
    open.push(conn);
    const pong = await conn.request('tools/call', { name: 'ping-me', arguments: {} });
    assert.deepEqual(JSON.parse((pong.content as { text: string }[])[0].text), { jsonrpc: '2.0', id: 'srv-1', result: {} });
    assert.equal(rec.requests.length, 0, 'ping never reaches the handlers');
    const asked = await conn.request('tools/call', { name: 'ask', arguments: {} });
    assert.deepEqual(JSON.parse((asked.content as { text: string }[])[0].text), { jsonrpc: '2.0', id: 'srv-2', result: { roots: [] } });
    assert.equal(rec.requests[0]!.r.method, 'roots/list');
    rec.answer = async () => {
      throw new UpstreamRpcError(-32601, 'no roots here');
    };
    const refused = await conn.request('tools/call', { name: 'ask', arguments: {} });
    assert.deepEqual(JSON.parse((refused.content as { text: string }[])[0].text).error, { code: -32601, message: 'no roots here' });
    await conn.close();
  });

  it('reports a server that exits at once with its exit code and stderr tail', async () => {
    const rec = new Recorder();
    const err = await connectStdio('broken', stdioConfig({ command: process.execPath, args: [fixture, 'exit'] }), rec, OPTIONS).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.equal(err.code, 'GH_ERR_UPSTREAM_UNAVAILABLE');
    assert.match(err.message, /^Upstream broken is unavailable: exited with code 3 before initialize completed; stderr: loading config\nfatal: missing API key FOO_TOKEN$/);
    assert.equal(rec.closes.length, 0, 'no onClose for a connection that never opened');
  });

  it('reports a command that does not exist', async () => {
    const err = await connectStdio('missing', stdioConfig({ command: '/nonexistent/mcp-server' }), new Recorder(), OPTIONS).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.match(err.message, /Upstream missing is unavailable: cannot run \/nonexistent\/mcp-server: .*ENOENT/);
  });

  it('kills a server that never answers initialize within the connect timeout', async () => {
    const pidFile = join(tempDir(), 'silent.pid');
    const started = Date.now();
    const err = await connectStdio('mute', stdioConfig({ command: process.execPath, args: [fixture, 'silent', 'x', `--pid=${pidFile}`], timeouts: { connect: 300 } }), new Recorder(), OPTIONS).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.equal(err.message, 'Upstream mute is unavailable: no answer to initialize within 300 ms');
    assert.ok(Date.now() - started < 2000);
    assert.equal(processAlive(Number(readFileSync(pidFile, 'utf8'))), false);
  });

  it('SIGKILLs a process group that ignores SIGTERM after killGrace', async () => {
    const pidFile = join(tempDir(), 'stubborn.pid');
    const started = Date.now();
    const err = await connectStdio('stubborn', stdioConfig({ command: process.execPath, args: [fixture, 'silent', 'stubborn', `--pid=${pidFile}`], timeouts: { connect: 700 }, pool: { killGrace: 300 } }), new Recorder(), OPTIONS).catch((e: unknown) => e);
    assert.ok(GatehouseError.is(err));
    assert.ok(Date.now() - started >= 950, 'waited for the grace period');
    assert.equal(processAlive(Number(readFileSync(pidFile, 'utf8'))), false);
  });

  it('ends the whole process group on close, grandchildren included', async () => {
    const sleepPid = join(tempDir(), 'grandchild.pid');
    const conn = await connectStdio('family', stdioConfig({ command: 'sh', args: ['-c', `sleep 60 & echo $! > ${sleepPid}; exec ${process.execPath} ${fixture} ping`] }), new Recorder(), OPTIONS);
    const grandchild = Number(readFileSync(sleepPid, 'utf8'));
    assert.ok(processAlive(grandchild));
    await conn.close();
    await conn.close(); // idempotent
    await waitFor(() => !processAlive(grandchild), 2000, 'grandchild gone');
    assert.equal(processAlive(conn.pid!), false);
  });

  it('passes env over a minimal inherited environment and honours cwd', async () => {
    const conn = await connectStdio('env', stdioConfig({ command: EVERYTHING_BIN, env: { GATEHOUSE_TEST_VALUE: 'xyz' }, cwd: tempDir() }), new Recorder(), OPTIONS);
    open.push(conn);
    const result = await conn.request('tools/call', { name: 'get-env', arguments: {} });
    const env = JSON.parse((result.content as { text: string }[])[0].text) as Record<string, string>;
    assert.equal(env.GATEHOUSE_TEST_VALUE, 'xyz');
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.NODE_TEST_CONTEXT, undefined, 'the gateway environment does not leak');
    assert.equal(env.PWD ?? tempDir(), tempDir());
  });
});
