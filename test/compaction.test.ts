/**
 * Compaction (issue 6) end to end: a gateway in front of the catalog-http example, whose definitions are wordy on
 * purpose, lists them compacted (tokens counted on the wire), still ranks searches by the full text, and returns
 * what it finds compacted; a compacted call goes to the upstream unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { startExample } from './helpers/spawn.ts';
import type { RunningExample } from './helpers/spawn.ts';
import { connectClient, textOf } from './integration/harness.ts';

const filler = 'This sentence only pads the description so that it is longer than any reasonable budget for a tool. ';
const ROWS = [
  {
    server: 'tracker',
    name: 'search_issues',
    // The word that identifies the tool ("zeppelin") sits past the budget: only a search over the full text finds it.
    description: `Searches issues.\n\n\n   ${filler.repeat(6)}Handles zeppelin fleet incidents.\n\nExamples:\n  search_issues(query="bug")`,
    inputSchema: { type: 'object', $comment: 'v2', properties: { query: { type: 'string', description: '   words    to look for   ', examples: ['bug'] } }, required: ['query'] },
  },
  { server: 'tracker', name: 'close_issue', description: 'Closes an issue by its number.', inputSchema: { type: 'object', properties: { number: { type: 'integer' } } } },
];

describe('compaction through the gateway', () => {
  let upstream: RunningExample;
  let gw: RunningGateway;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compaction-'));
    writeFileSync(join(dir, 'tools.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n'));
    upstream = await startExample('catalog-http', { CATALOG_FILE: join(dir, 'tools.jsonl') });
    const url = upstream.url.replace('<server>', 'tracker');
    gw = await startGateway({
      upstreams: { tracker: { url } },
      compaction: { enabled: true, maxDescriptionTokens: 30 },
      virtualServers: {
        full: { compaction: { enabled: false } },
        search: { toolSearch: { mode: 'search' } },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('lists compacted definitions: fewer tokens, same names and validation keywords', async () => {
    const [compact, full] = await Promise.all([connectClient(gw.url), connectClient(`${gw.url}/full`)]);
    try {
      const small = (await compact.client.listTools()).tools;
      const big = (await full.client.listTools()).tools;
      assert.deepEqual(small.map((t) => t.name), big.map((t) => t.name));
      const search = small.find((t) => t.name === 'search_issues')!;
      assert.ok(countTokens(search.description!) <= 30, search.description);
      assert.doesNotMatch(search.description!, /Examples:|\n\n/);
      const query = (search.inputSchema.properties as any).query;
      assert.equal(query.description, 'words to look for');
      assert.equal(query.examples, undefined);
      assert.deepEqual(search.inputSchema.required, ['query']);
      assert.ok(countTokens(JSON.stringify(small)) < 0.6 * countTokens(JSON.stringify(big)));
      const called = await compact.client.callTool({ name: 'search_issues', arguments: { query: 'bug' } });
      assert.equal(textOf(called), 'tracker/search_issues called with {"query":"bug"}');
    } finally {
      await Promise.all([compact.close(), full.close()]);
    }
  });

  it('ranks searches by the full definitions and returns them compacted', async () => {
    const c = await connectClient(`${gw.url}/search`);
    try {
      const r: any = await c.client.callTool({ name: 'search_tools', arguments: { query: 'zeppelin incidents' } });
      const [top] = r.structuredContent.tools;
      assert.equal(top.name, 'search_issues', 'found through text the compacted description no longer has');
      assert.doesNotMatch(top.description, /zeppelin/);
      assert.ok(countTokens(top.description) <= 30);
    } finally {
      await c.close();
    }
  });
});
