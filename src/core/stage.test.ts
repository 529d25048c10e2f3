import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANONYMOUS } from '../auth/principal.ts';
import { GatehouseError } from './errors.ts';
import { compilePipeline, CONTINUE, LocalReply } from './stage.ts';
import type { Stage, StageContext } from './stage.ts';

const ctx: StageContext = { method: 'tools/call', sessionId: 's', principal: ANONYMOUS, virtualServer: '', target: null, upstream: null, original: null, upstreamOf: () => null, listBefore: () => [], dispatch: async () => ({}), notify: () => {} };

describe('guard pipeline', () => {
  it('drops phases no stage uses', () => {
    const p = compilePipeline([{ name: 'list-only', onList: (_c, _k, items) => items }]);
    assert.equal(p.onRequest, null);
    assert.equal(p.onResponse, null);
    assert.notEqual(p.onList, null);
  });

  it('runs requests in order and responses in reverse, passing mutations along', async () => {
    const seen: string[] = [];
    const stage = (name: string): Stage => ({
      name,
      onRequest: (_c, params) => {
        seen.push(`req:${name}`);
        return { action: 'mutate', value: { ...params, trail: `${(params?.trail as string) ?? ''}${name}` } };
      },
      onResponse: (_c, result) => {
        seen.push(`res:${name}`);
        return { action: 'mutate', value: { ...result, trail: `${result.trail as string}${name}` } };
      },
    });
    const p = compilePipeline([stage('a'), stage('b')]);
    const params = await p.onRequest!(ctx, {});
    assert.ok(!(params instanceof LocalReply));
    assert.equal(params?.trail, 'ab');
    const result = await p.onResponse!(ctx, { trail: '' });
    assert.equal(result.trail, 'ba');
    assert.deepEqual(seen, ['req:a', 'req:b', 'res:b', 'res:a']);
  });

  it('a reject ends the chain with the stage\'s error', async () => {
    let reached = false;
    const p = compilePipeline([
      { name: 'deny', onRequest: () => ({ action: 'reject', error: new GatehouseError('GH_ERR_TOOL_NOT_FOUND', ['x']) }) },
      { name: 'after', onRequest: () => ((reached = true), CONTINUE) },
    ]);
    await assert.rejects(p.onRequest!(ctx, {}), (e: unknown) => GatehouseError.is(e) && e.code === 'GH_ERR_TOOL_NOT_FOUND');
    assert.equal(reached, false);
  });

  it('a respond verdict answers locally and skips the stages after it', async () => {
    let reached = false;
    const p = compilePipeline([
      { name: 'meta', onRequest: () => ({ action: 'respond', value: { content: [] } }) },
      { name: 'after', onRequest: () => ((reached = true), CONTINUE) },
    ]);
    const out = await p.onRequest!(ctx, {});
    assert.ok(out instanceof LocalReply);
    assert.deepEqual(out.result, { content: [] });
    assert.equal(reached, false);
  });

  it('lists as the stages before a given one leave it, and tells every stage when a session ends', () => {
    const ended: string[] = [];
    const p = compilePipeline([
      { name: 'drop-b', onList: (_c, _k, items) => items.filter((i) => i.name !== 'b'), onSessionEnd: (id) => ended.push(`drop:${id}`) },
      { name: 'search', onList: () => [], onSessionEnd: (id) => ended.push(`search:${id}`) },
    ]);
    const items = [{ name: 'a' }, { name: 'b' }];
    assert.deepEqual(p.listBefore('search', ctx, 'tools', items), [{ name: 'a' }]);
    assert.deepEqual(p.onList!(ctx, 'tools', items), []);
    p.onSessionEnd!('s1');
    assert.deepEqual(ended, ['drop:s1', 'search:s1']);
  });
});
