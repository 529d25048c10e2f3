import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { JsonObject } from '../core/jsonrpc.ts';
import { compactSchema, compactText, compactTool, createCompactionStage, truncateToTokens } from './compaction.ts';
import type { CompactOptions } from './compaction.ts';

const ALL: CompactOptions = { whitespace: true, examples: true, maxDescriptionTokens: 40, maxParameterTokens: 12 };
const NONE: CompactOptions = { whitespace: false, examples: false, maxDescriptionTokens: 0, maxParameterTokens: 0 };

const LONG = [
  'Searches the issue tracker for issues matching a query and returns them newest first.',
  'Results include the title, state, labels, assignees and the first lines of the body, so that a caller can decide which ones to open.',
  'Closed issues are included only when asked for, and archived projects are never searched.',
].join(' ');

const TOOL: JsonObject = {
  name: 'tracker__search_issues',
  title: '  Search   issues ',
  description: `${LONG}\n\n\nExamples:\n  search_issues(query="crash on start")\n  search_issues(query="label:bug")\n\n\`\`\`json\n{"query": "x"}\n\`\`\``,
  inputSchema: {
    type: 'object',
    $comment: 'generated',
    properties: {
      query: { type: 'string', minLength: 1, description: 'What to look for:   words, labels or a   state, for example "label:bug state:open" or "crash on start in the desktop app"', examples: ['label:bug'] },
      // A property that happens to be named like an annotation keyword is data, not an annotation.
      examples: { type: 'array', items: { type: 'string', description: '  one   example  ' }, maxItems: 5 },
      state: { enum: ['open', 'closed'], default: 'open', description: 'open or closed' },
      filters: { anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: { type: 'number', description: ' weight\n\n\nper field ' } }] },
    },
    required: ['query'],
    $defs: { label: { type: 'string', example: 'bug', description: 'A label name' } },
  },
  outputSchema: { type: 'object', properties: { issues: { type: 'array', description: 'Matching   issues' } } },
  annotations: { readOnlyHint: true },
};

/** Drops every annotation the compactor may touch, so what remains is exactly what validation sees. */
function validationPart(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(validationPart);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (['description', 'title', 'examples', 'example', '$comment'].includes(key)) continue;
    out[key] = key === 'properties' || key === '$defs' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, validationPart(v)])) : validationPart(value);
  }
  return out;
}

describe('compaction', () => {
  it('trims whitespace, examples and over-long descriptions, and says less in fewer tokens', () => {
    const out = compactTool(TOOL, ALL);
    assert.equal(out.title, 'Search issues');
    const description = out.description as string;
    assert.ok(!/Examples:|```|search_issues\(/.test(description), description);
    assert.ok(description.startsWith('Searches the issue tracker'));
    assert.ok(countTokens(description) <= 40, `${countTokens(description)} tokens`);
    assert.ok(description.endsWith('…'));
    const props = (out.inputSchema as any).properties;
    assert.ok(countTokens(props.query.description) <= 12);
    assert.equal(props.query.examples, undefined);
    assert.equal((out.inputSchema as any).$comment, undefined);
    assert.equal((out.inputSchema as any).$defs.label.example, undefined);
    assert.equal(props.filters.anyOf[1].additionalProperties.description, 'weight\nper field');
    assert.equal(props.examples.items.description, 'one example');
    assert.ok(countTokens(JSON.stringify(out)) < 0.7 * countTokens(JSON.stringify(TOOL)));
    assert.equal(out.name, TOOL.name);
    assert.deepEqual(out.annotations, TOOL.annotations);
  });

  it('changes annotations only: every schema compiles and validates exactly as before', () => {
    const ajv = new Ajv2020({ strict: false });
    const out = compactTool(TOOL, ALL);
    for (const key of ['inputSchema', 'outputSchema']) {
      assert.deepEqual(validationPart(out[key]), validationPart(TOOL[key]), key);
      const before = ajv.compile(TOOL[key] as object);
      const after = ajv.compile(out[key] as object);
      const samples = [{}, { query: '' }, { query: 'x' }, { query: 'x', state: 'done' }, { query: 'x', examples: ['a', 1] }, { query: 'x', filters: { a: 1 } }, { query: 'x', filters: { a: 'b' } }, { issues: 3 }, { issues: [] }];
      for (const sample of samples) assert.equal(after(sample), before(sample), `${key} ${JSON.stringify(sample)}`);
    }
  });

  it('returns the very same objects when there is nothing to do', () => {
    assert.equal(compactTool(TOOL, NONE), TOOL);
    const tidy: JsonObject = { name: 'a', description: 'Short.', inputSchema: { type: 'object', properties: { x: { type: 'string', description: 'An x' } } } };
    assert.equal(compactTool(tidy, ALL), tidy);
    assert.equal(compactSchema(true, ALL, 5), true, 'boolean schemas pass');
  });

  it('cuts at sentences, or inside a first sentence that alone is too long, in any script', () => {
    assert.equal(truncateToTokens('One. Two. Three.', 100), 'One. Two. Three.');
    assert.equal(truncateToTokens('First sentence here. Second sentence is longer than that.', 6), 'First sentence here.…');
    const cjk = truncateToTokens('使用必应搜索指定的关键词，并返回搜索结果列表，包括标题、链接和摘要，以及更多的详细信息和其他内容。第二句。', 10);
    assert.ok(countTokens(cjk) <= 10 && cjk.endsWith('…'), cjk);
    assert.equal(compactText('  a\n\n\n  b  ', { ...NONE, whitespace: true }, 0), 'a\nb');
  });

  it('as a stage: rewrites tools lists only, remembering each definition', () => {
    assert.equal(createCompactionStage({ enabled: false, ...ALL }), null);
    const stage = createCompactionStage({ enabled: true, ...ALL })!;
    const ctx = {} as never;
    const [first] = stage.onList!(ctx, 'tools', [TOOL]);
    assert.notEqual(first, TOOL);
    assert.equal(stage.onList!(ctx, 'tools', [TOOL])[0], first, 'compacted once');
    const prompts = [{ name: 'p', description: '  spaced  ' }];
    assert.equal(stage.onList!(ctx, 'prompts', prompts), prompts);
  });
});
