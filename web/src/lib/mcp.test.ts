import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { McpClient, SseParser } from './mcp.ts';

describe('MCP client for "try it"', () => {
  it('parses SSE split anywhere, with comments, ids, multi-line data and CRLF', () => {
    const out: string[] = [];
    const p = new SseParser((d) => out.push(d));
    for (const chunk of [': hi\r\nid: 1\r\nda', 'ta: {"a":\r\ndata: 1}\r\n', '\r\nevent: x\ndata:plain\n\ndata: last']) p.push(chunk);
    p.end();
    assert.deepEqual(out, ['{"a":\n1}', 'plain', 'last']);
  });

  it('initializes, keeps the session id, and reads a streamed answer past notifications', async () => {
    const seen: { method: string; session: string | null; auth: string | null }[] = [];
    const fetcher = (async (_url: string, init: RequestInit) => {
      const headers = init.headers as Record<string, string>;
      const msg = JSON.parse(init.body as string);
      seen.push({ method: msg.method, session: headers['mcp-session-id'] ?? null, auth: headers.authorization ?? null });
      if (msg.method === 'initialize') return Response.json({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25' } }, { headers: { 'mcp-session-id': 's-1' } });
      if (msg.method === 'notifications/initialized') return new Response(null, { status: 202 });
      const body = `data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\ndata: {"jsonrpc":"2.0","id":${msg.id},"result":{"content":[{"type":"text","text":"ok"}]}}\n\n`;
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    const client = new McpClient('/mcp', 'tok', fetcher);
    const out = await client.callTool('echo', { message: 'x' });
    assert.deepEqual(out.response.result, { content: [{ type: 'text', text: 'ok' }] });
    assert.equal(out.notifications.length, 1);
    assert.deepEqual(seen.map((s) => [s.method, s.session, s.auth]), [['initialize', null, 'Bearer tok'], ['notifications/initialized', 's-1', 'Bearer tok'], ['tools/call', 's-1', 'Bearer tok']]);
  });
});
