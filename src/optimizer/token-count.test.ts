import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { JsonObject } from '../core/jsonrpc.ts';
import { ToolTokenCounter } from './token-count.ts';

const tool = (i: number): JsonObject => ({
  name: `server_${i % 7}__tool_${i}`,
  description: `Looks up record ${i} in the inventory and returns its fields. Use it before editing anything. 在库存中查找记录。`,
  inputSchema: {
    type: 'object',
    properties: { id: { type: 'string', description: 'The record id, e.g. "R-42"' }, verbose: { type: 'boolean', default: false } },
    required: ['id'],
  },
});

describe('ToolTokenCounter', () => {
  it('counts a list within 1% of tokenizing the whole tools/list result', async () => {
    const tools = Array.from({ length: 200 }, (_, i) => tool(i));
    const exact = countTokens(JSON.stringify({ tools }));
    const counted = await new ToolTokenCounter().count(tools);
    assert.ok(Math.abs(counted - exact) / exact < 0.01, `counted ${counted}, whole ${exact}`);
    assert.equal(await new ToolTokenCounter().count([]), countTokens(JSON.stringify({ tools: [] })));
  });

  it('answers at once for definitions it has seen, by object or by identical text', async () => {
    const counter = new ToolTokenCounter();
    const tools = [tool(1), tool(2)];
    assert.equal(counter.tryCount(tools), undefined, 'never seen');
    const first = await counter.count(tools);
    assert.equal(counter.count(tools), first, 'a number, not a promise, the second time');
    const rebuilt = tools.map((t) => structuredClone(t));
    assert.equal(counter.tryCount(rebuilt), undefined, 'new objects are looked up by text once');
    assert.equal(await counter.count(rebuilt), first);
    assert.equal(counter.tryCount(rebuilt), first);
  });

  it('counts a large unseen list without blocking the event loop for long', async () => {
    const tools = Array.from({ length: 3000 }, (_, i) => tool(i));
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const counted = await new ToolTokenCounter().count(tools);
    clearInterval(ticker);
    assert.ok(counted > 3000 * 40);
    assert.ok(turns > 1, `the event loop turned ${turns} times while counting`);
  });
});
