import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNotification, isRequest, isResponse, validateEnvelope } from './jsonrpc.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';

describe('JSON-RPC envelopes', () => {
  it('classifies requests, notifications and responses', () => {
    const req = validateEnvelope({ jsonrpc: '2.0', id: 1, method: 'ping' }) as JsonRpcMessage;
    const note = validateEnvelope({ jsonrpc: '2.0', method: 'notifications/x' }) as JsonRpcMessage;
    const res = validateEnvelope({ jsonrpc: '2.0', id: 'a', result: {} }) as JsonRpcMessage;
    const err = validateEnvelope({ jsonrpc: '2.0', id: 2, error: { code: 1, message: 'm' } }) as JsonRpcMessage;
    assert.ok(isRequest(req) && !isNotification(req) && !isResponse(req));
    assert.ok(isNotification(note) && !isRequest(note));
    assert.ok(isResponse(res) && isResponse(err));
  });
  it('says what is wrong with a bad envelope', () => {
    assert.match(validateEnvelope([]) as string, /object/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: {}, method: 'x' }) as string, /id must be/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: 1, method: '' }) as string, /method/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: 1, method: 'x', params: [1] }) as string, /params must be an object/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: null, method: 'x' }) as string, /must not be null/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: 1 }) as string, /result or an error/);
    assert.match(validateEnvelope({ jsonrpc: '2.0', id: 1, error: { code: 'x' } }) as string, /numeric code/);
  });
});
