/**
 * Traces through the gateway to a real upstream process: an in-process OTLP/HTTP receiver takes the spans the gateway
 * exports (the real exporter, JSON encoding), and the upstream (test/fixtures/replica-server.ts) reports the trace
 * context it was sent, in `_meta` and in the `traceparent` header. The links checked: client -> SERVER span ->
 * stage spans and CLIENT span -> the upstream's request.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { nodeBinary, REPO_ROOT, waitForLine } from './helpers/spawn.ts';

const VERSION = '2025-11-25';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
  status?: { code?: number };
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

/** An OTLP/HTTP (JSON) traces receiver: keeps every span it is sent. */
async function startReceiver(): Promise<{ server: Server; url: string; spans: OtlpSpan[] }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      assert.match(req.headers['content-type'] ?? '', /application\/json/);
      const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans };
}

async function startUpstream(name: string): Promise<{ proc: ChildProcess; url: string; control: string }> {
  const proc = spawn(nodeBinary(), [join(REPO_ROOT, 'test/fixtures/replica-server.ts'), '--name', name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [, url] = await waitForLine(proc.stdout!, /^LISTENING (\S+)$/, 15_000);
  proc.stdout!.resume();
  return { proc, url, control: url.replace(/\/mcp$/, '/control') };
}

const lastTraceparent = async (control: string) => ((await (await fetch(control)).json()) as { lastTraceparent: string | null }).lastTraceparent;

describe('tracing: spans exported over OTLP, trace context through to the upstream', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: RunningGateway;
  let session: string;
  const call = (name: string, headers: Record<string, string>, meta?: Record<string, unknown>, id = 1) =>
    post(gw.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, ...(meta && { _meta: meta }) } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION, ...headers });
  /** The spans of one trace, once the gateway has exported what has ended. */
  const traceOf = async (traceId: string) => {
    await gw.gateway.tracing!.flush();
    return receiver.spans.filter((s) => s.traceId === traceId);
  };

  before(async () => {
    receiver = await startReceiver();
    upstream = await startUpstream('traced');
    gw = await startGateway({
      tracing: { endpoint: receiver.url, serviceName: 'gatehouse-test' },
      upstreams: { store: { url: upstream.url } },
      resultGuard: { enabled: true, injection: 'flag' },
    });
    session = await openSession(gw.url, VERSION);
  });
  after(async () => {
    await gw?.close();
    upstream?.proc.kill();
    receiver?.server.close();
  });

  it('a call under the client\'s traceparent header: SERVER span -> CLIENT span -> the upstream, with stage spans in between', async () => {
    const r = await call('whoami', { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` });
    assert.ok(r.json.result, r.text);
    const spans = await traceOf(TRACE_ID);
    const server = spans.find((s) => s.kind === SERVER);
    assert.ok(server, `a SERVER span in the client's trace: ${JSON.stringify(spans.map((s) => s.name))}`);
    assert.equal(server.parentSpanId, CLIENT_SPAN, 'the SERVER span is a child of the client\'s span');
    assert.equal(server.name, 'tools/call whoami');
    assert.equal(attr(server, 'mcp.method.name'), 'tools/call');
    assert.equal(attr(server, 'gen_ai.tool.name'), 'whoami');
    assert.equal(attr(server, 'mcp.session.id'), session);
    assert.equal(attr(server, 'gatehouse.upstream'), 'store');

    const client = spans.find((s) => s.kind === CLIENT);
    assert.ok(client, 'a CLIENT span for the upstream request');
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(attr(client, 'gatehouse.upstream'), 'store');
    assert.match(String(attr(client, 'gatehouse.replica')), /^127\.0\.0\.1:\d+$/);

    const stages = spans.filter((s) => s.kind === INTERNAL && s.name.startsWith('gatehouse.stage '));
    assert.ok(stages.length > 0, `the guard stages have spans: ${JSON.stringify(spans.map((s) => [s.name, s.kind]))}`);
    for (const s of stages) assert.equal(s.parentSpanId, server.spanId, `${s.name} is a child of the SERVER span`);
    assert.ok(stages.some((s) => attr(s, 'gatehouse.stage.phase') === 'response'), 'the result guard ran in the response phase');
    assert.ok(spans.some((s) => s.name === 'gatehouse.audit' && s.parentSpanId === server.spanId), 'the audit write has a span');

    // The upstream got the CLIENT span's context, in `_meta` and in the HTTP header.
    const expected = `00-${TRACE_ID}-${client.spanId}-01`;
    assert.equal(r.json.result.structuredContent.meta.traceparent, expected);
    assert.equal(await lastTraceparent(upstream.control), expected);
  });

  it('`params._meta.traceparent` wins over the header; a failed call\'s span says why', async () => {
    const metaTrace = 'a'.repeat(32);
    const ok = await call('whoami', { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` }, { traceparent: `00-${metaTrace}-${'b'.repeat(16)}-01` }, 2);
    assert.ok(ok.json.result, ok.text);
    const server = (await traceOf(metaTrace)).find((s) => s.kind === SERVER);
    assert.equal(server?.parentSpanId, 'b'.repeat(16));

    const failedTrace = 'c'.repeat(32);
    const failed = await call('no_such_tool', { traceparent: `00-${failedTrace}-${'d'.repeat(16)}-01` }, undefined, 3);
    assert.ok(failed.json.error, failed.text);
    const span = (await traceOf(failedTrace)).find((s) => s.kind === SERVER);
    assert.ok(span, 'the refused call has its span');
    assert.equal(span.status?.code, 2, 'status ERROR');
    assert.equal(attr(span, 'error.type'), 'GH_ERR_TOOL_NOT_FOUND');
  });

  it('a request with no trace context starts a new trace that still reaches the upstream', async () => {
    const before = receiver.spans.length;
    const r = await call('whoami', {}, undefined, 4);
    const sent = r.json.result.structuredContent.meta.traceparent as string;
    assert.match(sent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await gw.gateway.tracing!.flush();
    const fresh = receiver.spans.slice(before);
    const server = fresh.find((s) => s.kind === SERVER && s.name === 'tools/call whoami');
    assert.ok(server);
    assert.equal(server.parentSpanId === undefined || server.parentSpanId === '', true, 'a root span');
    assert.equal(sent.split('-')[1], server.traceId);
  });
});

describe('tracing a failover: one CLIENT span per attempt', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let upstreams: Awaited<ReturnType<typeof startUpstream>>[];
  let gw: RunningGateway;
  before(async () => {
    receiver = await startReceiver();
    upstreams = await Promise.all([startUpstream('failing'), startUpstream('healthy')]);
    gw = await startGateway({ tracing: { endpoint: receiver.url }, upstreams: { store: { url: upstreams.map((u) => u.url), balancer: 'round-robin' } } });
  });
  after(async () => {
    await gw?.close();
    for (const u of upstreams ?? []) u.proc.kill();
    receiver?.server.close();
  });

  it('a read-only call the first replica fails with HTTP 500 has a failed attempt and a retry on the other replica', async () => {
    const session = await openSession(gw.url, VERSION);
    const failing = await fetch(upstreams[0].control, { method: 'POST', body: JSON.stringify({ mode: '500' }) });
    assert.equal(failing.status, 200);
    // Round robin: of two calls, one goes to the failing replica first.
    const traces = ['1'.repeat(32), '2'.repeat(32)];
    for (const [i, traceId] of traces.entries()) {
      const r = await post(gw.url, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'lookup', arguments: { key: 'k' } } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION, traceparent: `00-${traceId}-${CLIENT_SPAN}-01` });
      assert.equal(r.json.result?.structuredContent?.replica, 'healthy', r.text);
    }
    await gw.gateway.tracing!.flush();
    const retried = traces.map((t) => receiver.spans.filter((s) => s.traceId === t && s.kind === CLIENT)).find((c) => c.length === 2);
    assert.ok(retried, `a trace with two attempts: ${JSON.stringify(receiver.spans.map((s) => [s.traceId.slice(0, 4), s.name, s.kind]))}`);
    const [first, second] = [...retried].sort((a, b) => Number(attr(a, 'gatehouse.attempt')) - Number(attr(b, 'gatehouse.attempt')));
    assert.equal(first.status?.code, 2);
    assert.equal(attr(first, 'error.type'), 'GH_ERR_UPSTREAM_UNAVAILABLE');
    assert.notEqual(second.status?.code, 2);
    assert.notEqual(attr(first, 'gatehouse.replica'), attr(second, 'gatehouse.replica'));
    assert.equal(first.parentSpanId, second.parentSpanId, 'both under the same SERVER span');
  });
});

describe('tracing off: the client\'s trace context passes through untouched', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: RunningGateway;
  before(async () => {
    upstream = await startUpstream('plain');
    gw = await startGateway({ upstreams: { store: { url: upstream.url } } });
  });
  after(async () => {
    await gw?.close();
    upstream?.proc.kill();
  });

  it('the header context reaches the upstream in `_meta` and in its header; no spans are made', async () => {
    assert.equal(gw.gateway.tracing, null);
    const session = await openSession(gw.url, VERSION);
    const parent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION, traceparent: parent, tracestate: 'vendor=1' });
    assert.equal(r.json.result.structuredContent.meta.traceparent, parent);
    assert.equal(r.json.result.structuredContent.meta.tracestate, 'vendor=1');
    assert.equal(await lastTraceparent(upstream.control), parent);
    const own = `00-${'e'.repeat(32)}-${'f'.repeat(16)}-00`;
    const viaMeta = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: { traceparent: own } } }, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    assert.equal(viaMeta.json.result.structuredContent.meta.traceparent, own, '`_meta` is passed as the client wrote it');
  });
});
