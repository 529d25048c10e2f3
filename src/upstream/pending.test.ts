import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import { PendingRequest, PendingTable } from './pending.ts';

function table(): { t: PendingTable; cancels: [number, string][] } {
  const cancels: [number, string][] = [];
  return { t: new PendingTable('up', (id, reason) => cancels.push([id, reason])), cancels };
}

describe('PendingTable', () => {
  it('allocates increasing ids and settles results and errors by id', async () => {
    const { t } = table();
    const a = new PendingRequest();
    const b = new PendingRequest();
    const pa = t.open(a, 'tools/call', undefined, 0);
    const pb = t.open(b, 'tools/list', undefined, 0);
    assert.deepEqual([a.id, b.id, t.issued, t.size], [1, 2, 2, 2]);
    assert.equal(t.settle({ jsonrpc: '2.0', id: 3, result: {} }), false, 'unknown id');
    assert.equal(t.settle({ jsonrpc: '2.0', id: '2', result: { tools: [] } }), true, 'a string id still matches');
    assert.equal(t.settle({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad', data: { x: 1 } } }), true);
    assert.deepEqual(await pb, { tools: [] });
    const err = await pa.catch((e: unknown) => e);
    assert.ok(err instanceof UpstreamRpcError);
    assert.deepEqual([err.rpcCode, err.message, err.data], [-32602, 'bad', { x: 1 }]);
    assert.equal(t.size, 0);
    assert.equal(a.settled, true);
  });

  it('times out: rejects with GH_ERR_UPSTREAM_TIMEOUT and sends notifications/cancelled', async () => {
    const { t, cancels } = table();
    const e = new PendingRequest();
    const p = t.open(e, 'tools/call', { timeoutMs: 20 }, 60_000);
    const err = await p.catch((x: unknown) => x);
    assert.ok(GatehouseError.is(err) && err.code === 'GH_ERR_UPSTREAM_TIMEOUT');
    assert.equal(err.message, 'Upstream up did not answer within 20 ms');
    assert.deepEqual(cancels, [[1, 'timed out after 20 ms']]);
    assert.equal(t.settle({ jsonrpc: '2.0', id: 1, result: {} }), false, 'a late answer matches nothing');
  });

  it('aborts: cancels upstream with the reason; an already-aborted signal sends nothing', async () => {
    const { t, cancels } = table();
    const ac = new AbortController();
    const p = t.open(new PendingRequest(), 'tools/call', { signal: ac.signal }, 0);
    ac.abort('stop');
    await assert.rejects(p, (x: unknown) => GatehouseError.is(x) && x.code === 'GH_ERR_REQUEST_CANCELLED');
    assert.deepEqual(cancels, [[1, 'stop']]);
    const pre = new PendingRequest();
    await assert.rejects(t.open(pre, 'tools/call', { signal: AbortSignal.abort() }, 0));
    assert.equal(pre.settled, true);
    assert.equal(t.size, 0);
    assert.equal(cancels.length, 1);
  });

  it('never cancels initialize, removes abort listeners once settled, fails all and reports drained', async () => {
    const { t, cancels } = table();
    const init = t.open(new PendingRequest(), 'initialize', { timeoutMs: 10 }, 0);
    await assert.rejects(init, (x: unknown) => GatehouseError.is(x) && x.code === 'GH_ERR_UPSTREAM_TIMEOUT');
    assert.deepEqual(cancels, []);
    const ac = new AbortController();
    const settled = t.open(new PendingRequest(), 'ping', { signal: ac.signal }, 0);
    t.settle({ jsonrpc: '2.0', id: 2, result: {} });
    await settled;
    ac.abort();
    assert.deepEqual(cancels, [], 'a settled request ignores a later abort');
    const x = t.open(new PendingRequest(), 'a', undefined, 0);
    const y = t.open(new PendingRequest(), 'b', undefined, 0);
    let drained = false;
    const d = t.drained().then(() => (drained = true));
    assert.equal(drained, false);
    t.failAll(new Error('gone'));
    await assert.rejects(x, /gone/);
    await assert.rejects(y, /gone/);
    await d;
    assert.equal(drained, true);
  });
});
