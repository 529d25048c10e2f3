import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANONYMOUS } from '../auth/principal.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { compilePipeline, LocalReply } from '../core/stage.ts';
import type { StageContext } from '../core/stage.ts';
import { toolSearchSchema } from './config.ts';
import { createToolSearchStages, FoundTools } from './search-stage.ts';
import { createRankerSearcher } from './searcher.ts';

const TOOLS: JsonObject[] = [
  { name: 'weather__forecast', description: 'Weather forecast for a city', inputSchema: { type: 'object' } },
  { name: 'weather__alerts', description: 'Severe weather alerts', inputSchema: { type: 'object' } },
  { name: 'notes__add_note', description: 'Add a note', inputSchema: { type: 'object' } },
  { name: 'notes__delete_note', description: 'Delete a note', inputSchema: { type: 'object' } },
];

/** A pipeline of the two search stages around a stand-in policy that hides delete tools. */
function setup(config: Record<string, unknown> = {}, found?: FoundTools) {
  const search = createToolSearchStages({ config: toolSearchSchema.parse({ mode: 'search', ...config }), ...(found && { found }) })!;
  const policy = { name: 'policy', onList: (_c: StageContext, _k: string, items: readonly JsonObject[]) => items.filter((t) => !String(t.name).includes('delete')) };
  const pipeline = compilePipeline([search.request, policy, search.list]);
  const notified: string[] = [];
  const dispatched: JsonObject[] = [];
  const ctx = (sessionId: string, params?: JsonObject): StageContext => ({
    method: params ? 'tools/call' : 'tools/list',
    sessionId,
    principal: ANONYMOUS,
    virtualServer: '',
    target: (params?.name as string | undefined) ?? null,
    upstream: null,
    original: null,
    upstreamOf: (_k, item) => String(item.name).split('__')[0],
    listBefore(stage, kind) {
      return pipeline.listBefore(stage, this, kind, TOOLS);
    },
    async dispatch(method, p) {
      dispatched.push(p!);
      const out = await pipeline.onRequest!(ctx(sessionId, p), p);
      return out instanceof LocalReply ? out.result : { content: [{ type: 'text', text: `called ${String(p!.name)}` }] };
    },
    notify: (method) => notified.push(`${sessionId}:${method}`),
  });
  const list = (sessionId: string) => pipeline.onList!(ctx(sessionId), 'tools', TOOLS).map((t) => t.name);
  const call = async (sessionId: string, name: string, args: JsonObject = {}) => {
    const params = { name, arguments: args };
    return pipeline.onRequest!(ctx(sessionId, params), params);
  };
  return { pipeline, list, call, notified, dispatched };
}

describe('tool search stages', () => {
  it('lists pinned tools and meta-tools, then what the session found', async () => {
    const s = setup({ pinned: ['notes__*'] });
    assert.deepEqual(s.list('a'), ['notes__add_note', 'search_tools', 'call_tool']);
    const r = (await s.call('a', 'search_tools', { query: 'weather forecast', limit: 1 })) as LocalReply;
    assert.deepEqual((r.result.structuredContent as any).tools.map((t: any) => t.name), ['weather__forecast']);
    assert.deepEqual(s.notified, ['a:notifications/tools/list_changed']);
    assert.deepEqual(s.list('a'), ['weather__forecast', 'notes__add_note', 'search_tools', 'call_tool']);
    assert.deepEqual(s.list('b'), ['notes__add_note', 'search_tools', 'call_tool'], 'found tools are per session');
    // Searching again for what the session has already found changes nothing: no second notification.
    await s.call('a', 'search_tools', { query: 'weather forecast', limit: 1 });
    assert.equal(s.notified.length, 1);
  });

  it('never returns what an earlier stage hides, and refuses unfound tools like unknown ones', async () => {
    const s = setup();
    const r = (await s.call('a', 'search_tools', { query: 'delete a note' })) as LocalReply;
    assert.ok(!(r.result.structuredContent as any).tools.some((t: any) => t.name === 'notes__delete_note'));
    await assert.rejects(s.call('b', 'weather__alerts'), { code: 'GH_ERR_TOOL_NOT_FOUND', message: 'Unknown tool: weather__alerts' });
    await assert.rejects(s.call('b', 'call_tool', { name: 'weather__alerts' }), { code: 'GH_ERR_TOOL_NOT_FOUND' });
  });

  it('keeps at most maxFound tools per session and forgets a session when it ends', async () => {
    const s = setup({ maxFound: 1 });
    await s.call('a', 'search_tools', { query: 'weather forecast', limit: 1 });
    await s.call('a', 'search_tools', { query: 'add a note', limit: 1 });
    assert.deepEqual(s.list('a'), ['notes__add_note', 'search_tools', 'call_tool']);
    await assert.rejects(s.call('a', 'weather__forecast'), { code: 'GH_ERR_TOOL_NOT_FOUND' });
    assert.ok(!((await s.call('a', 'notes__add_note')) instanceof LocalReply), 'a found tool continues down the pipeline');
    s.pipeline.onSessionEnd!('a');
    await assert.rejects(s.call('a', 'notes__add_note'), { code: 'GH_ERR_TOOL_NOT_FOUND' });
  });

  it('call_tool dispatches the real call through the pipeline; stateless requests reach any visible tool that way', async () => {
    const s = setup();
    await s.call('a', 'search_tools', { query: 'weather alerts' });
    const via = (await s.call('a', 'call_tool', { name: 'weather__alerts', arguments: { region: 'north' } })) as LocalReply;
    assert.deepEqual(via.result.content, [{ type: 'text', text: 'called weather__alerts' }]);
    assert.deepEqual(s.dispatched.at(-1), { name: 'weather__alerts', arguments: { region: 'north' } });
    const stateless = (await s.call('stateless:anonymous', 'call_tool', { name: 'notes__add_note' })) as LocalReply;
    assert.deepEqual(stateless.result.content, [{ type: 'text', text: 'called notes__add_note' }]);
    await assert.rejects(s.call('stateless:anonymous', 'call_tool', { name: 'notes__delete_note' }), { code: 'GH_ERR_TOOL_NOT_FOUND' });
    await assert.rejects(s.call('stateless:anonymous', 'notes__add_note'), { code: 'GH_ERR_TOOL_NOT_FOUND' });
  });

  it('answers a bad search as a tool error the model can correct', async () => {
    const s = setup({ maxLimit: 3 });
    for (const args of [{}, { query: '  ' }, { query: 'x', limit: 4 }, { query: 'x', limit: 1.5 }]) {
      const r = (await s.call('a', 'search_tools', args)) as LocalReply;
      assert.equal(r.result.isError, true, JSON.stringify(args));
    }
  });

  it('reuses an index for the same items and updates only the upstreams that changed', () => {
    const searcher = createRankerSearcher({ weather: { title: 'Weather service' } }, '__');
    const upstreamOf = (t: JsonObject) => String(t.name).split('__')[0];
    assert.equal(searcher.search(TOOLS, 'forecast', 5, upstreamOf)[0].name, 'weather__forecast');
    assert.equal(searcher.search([...TOOLS], 'forecast', 5, upstreamOf)[0].name, 'weather__forecast', 'a filtered copy with the same items');
    const changed = [...TOOLS.slice(0, 2), { name: 'notes__archive', description: 'Archive old notes', inputSchema: { type: 'object' } }];
    assert.deepEqual(searcher.search(changed, 'note', 5, upstreamOf).map((r) => r.name), ['notes__archive']);
    assert.deepEqual(searcher.search([], 'note', 5, upstreamOf), []);
  });

  it('keeps found tools across rebuilt pipelines that share one FoundTools (a config reload)', async () => {
    const found = new FoundTools(2);
    await setup({}, found).call('a', 'search_tools', { query: 'weather forecast', limit: 1 });
    assert.deepEqual(setup({}, found).list('a'), ['weather__forecast', 'search_tools', 'call_tool']);
    found.remember('b', ['x'], 5);
    found.remember('c', ['y'], 5);
    assert.equal(found.size, 2, 'sessions are bounded');
    assert.equal(found.of('a'), undefined, 'the least recently active session is forgotten first');
  });
});
