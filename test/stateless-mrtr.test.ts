/**
 * 2026-07-28 clients cannot take server->client requests: an upstream's sampling or elicitation request during a
 * call reaches them as an `input_required` result, and the retry carrying `inputResponses` completes the call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { exampleStdioCommand } from './helpers/spawn.ts';

const META = (caps: Record<string, unknown>) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': caps });
const HEADERS = (method: string, name?: string): Record<string, string> => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) });

describe('2026-07-28 multi round-trip requests', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ upstreams: { notes: exampleStdioCommand('notes-stdio') } });
  });
  after(() => gw.close());

  it('relays sampling as input_required and completes the call on retry', async () => {
    const call = { name: 'ask_llm', arguments: { question: 'What is six times seven?' }, _meta: META({ sampling: {} }) };
    const first = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: call }, HEADERS('tools/call', 'ask_llm'));
    assert.equal(first.status, 200, first.text);
    const result = first.json.result;
    assert.equal(result.resultType, 'input_required');
    const [key, ask] = Object.entries(result.inputRequests as Record<string, { method: string; params: any }>)[0];
    assert.equal(ask.method, 'sampling/createMessage');
    assert.equal(ask.params.messages[0].content.text, 'What is six times seven?');
    assert.equal(typeof result.requestState, 'string');

    const retry = {
      ...call,
      inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text: 'forty-two' }, model: 'test-model', stopReason: 'endTurn' } },
      requestState: result.requestState,
    };
    const second = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: retry }, HEADERS('tools/call', 'ask_llm'));
    assert.equal(second.json.id, 2);
    assert.equal(second.json.result.resultType, 'complete');
    assert.match(JSON.stringify(second.json.result.content), /forty-two/);
  });

  it('rejects an unknown requestState with -32602', async () => {
    const params = { name: 'ask_llm', arguments: { question: 'q' }, _meta: META({ sampling: {} }), requestState: 'forged', inputResponses: {} };
    const r = await post(gw.url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params }, HEADERS('tools/call', 'ask_llm'));
    assert.equal(r.json.error.code, -32602);
    assert.match(r.json.error.message, /requestState/);
  });

  it('a client without the capability gets an error, not a request it cannot answer', async () => {
    const params = { name: 'ask_llm', arguments: { question: 'q' }, _meta: META({}) };
    const r = await post(gw.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params }, HEADERS('tools/call', 'ask_llm'));
    const body = JSON.stringify(r.json);
    assert.ok(r.json.error || r.json.result.isError, body);
    assert.match(body, /sampling/);
  });
});
