import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { virtualServerSchema } from '../config/schema.ts';
import { Catalog } from './catalog.ts';
import { buildView, DEFAULT_VIEW_CONFIG, deriveSchema } from './view.ts';

function catalogOf(upstreams: Record<string, { tools: string[]; tags?: string[]; prompts?: string[] }>): Catalog {
  const c = new Catalog();
  for (const [name, u] of Object.entries(upstreams)) {
    const e = c.declare(name, u.tags ?? [], undefined);
    e.status = 'ready';
    e.info = { protocolVersion: '2025-11-25', capabilities: { tools: {}, prompts: {} }, serverInfo: { name, version: '1' } };
    e.tools = u.tools.map((t) => ({ name: t, description: `${t} tool`, inputSchema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'number' } }, required: ['city', 'days'] } }));
    e.prompts = (u.prompts ?? []).map((p) => ({ name: p }));
  }
  return c;
}

const ns = { mode: 'conditional' as const, separator: '__' };

describe('virtual-server views', () => {
  it('keeps a lone upstream\'s names and prefixes several (conditional)', () => {
    const one = buildView('', DEFAULT_VIEW_CONFIG, catalogOf({ a: { tools: ['echo'] } }), ns);
    assert.deepEqual(one.tools.map((t) => t.name), ['echo']);
    const two = buildView('', DEFAULT_VIEW_CONFIG, catalogOf({ a: { tools: ['echo'] }, b: { tools: ['echo'], prompts: ['p'] } }), ns);
    assert.deepEqual(two.tools.map((t) => t.name), ['a__echo', 'b__echo']);
    assert.deepEqual(two.toolRoutes.get('b__echo'), { upstream: 'b', original: 'echo', fixed: null, defaults: null, repeatable: false });
    assert.deepEqual(two.prompts.map((p) => p.name), ['b__p']);
  });

  it('always / never modes and a custom separator', () => {
    const always = buildView('', DEFAULT_VIEW_CONFIG, catalogOf({ a: { tools: ['echo'] } }), { mode: 'always', separator: '.' });
    assert.deepEqual(always.tools.map((t) => t.name), ['a.echo']);
    const never = buildView('', DEFAULT_VIEW_CONFIG, catalogOf({ a: { tools: ['echo', 'x'] }, b: { tools: ['echo'] } }), { mode: 'never', separator: '__' });
    assert.deepEqual(never.tools.map((t) => t.name), ['echo', 'x']);
    assert.match(never.warnings[0], /offered by a and b/);
  });

  it('selects by upstream, tag and glob, and what it does not list it cannot route', () => {
    const cfg = virtualServerSchema.parse({ include: [{ upstreams: ['a'], tools: ['a__get_*'] }, { tags: ['blue'], excludeTools: ['*secret*'] }] });
    const v = buildView('team', cfg, catalogOf({ a: { tools: ['get_x', 'put_x'] }, b: { tools: ['y', 'secret_z'], tags: ['blue'] }, c: { tools: ['z'] } }), ns);
    assert.deepEqual(v.tools.map((t) => t.name), ['a__get_x', 'b__y']);
    for (const name of ['a__put_x', 'b__secret_z', 'c__z']) assert.equal(v.toolRoutes.get(name), undefined);
    assert.deepEqual(v.upstreams, ['a', 'b']);
  });

  it('applies overrides: rename, title, description replace and append, annotations', () => {
    const cfg = virtualServerSchema.parse({
      tools: { echo: { name: 'say', title: 'Say', descriptionAppend: 'Mind the tone.', annotations: { readOnlyHint: true } } },
    });
    const v = buildView('x', cfg, catalogOf({ a: { tools: ['echo'] } }), ns);
    assert.equal(v.tools[0].name, 'say');
    assert.equal(v.tools[0].title, 'Say');
    assert.equal(v.tools[0].description, 'echo tool\n\nMind the tone.');
    assert.deepEqual(v.tools[0].annotations, { readOnlyHint: true });
    assert.equal(v.toolRoutes.get('say')!.original, 'echo');
    assert.equal(v.toolRoutes.get('echo'), undefined);
  });

  it('derives tools that fix or default arguments and hides them from the schema', () => {
    const cfg = virtualServerSchema.parse({ derived: [{ name: 'paris', from: 'forecast', fixed: { city: 'Paris' }, defaults: { days: 3 } }], hideDerivedSources: true });
    const v = buildView('x', cfg, catalogOf({ a: { tools: ['forecast'] } }), ns);
    assert.deepEqual(v.tools.map((t) => t.name), ['paris']);
    const schema = v.tools[0].inputSchema as { properties: Record<string, { default?: unknown }>; required?: string[] };
    assert.equal(schema.properties.city, undefined);
    assert.equal(schema.properties.days.default, 3);
    assert.equal(schema.required, undefined);
    assert.deepEqual(v.toolRoutes.get('paris'), { upstream: 'a', original: 'forecast', fixed: { city: 'Paris' }, defaults: { days: 3 }, repeatable: false });
    assert.equal(v.toolRoutes.get('forecast'), undefined);
  });

  it('warns about overrides and derived tools that match nothing', () => {
    const cfg = virtualServerSchema.parse({ tools: { nope: { title: 'x' } }, derived: [{ name: 'd', from: 'missing' }] });
    const v = buildView('x', cfg, catalogOf({ a: { tools: ['echo'] } }), ns);
    assert.equal(v.warnings.length, 2);
  });

  it('merges capabilities honestly', () => {
    const v = buildView('', DEFAULT_VIEW_CONFIG, catalogOf({ a: { tools: ['echo'] } }), ns);
    assert.deepEqual(v.capabilities, { tools: { listChanged: true }, prompts: { listChanged: true } });
    const empty = buildView('', DEFAULT_VIEW_CONFIG, new Catalog(), ns);
    assert.deepEqual(empty.capabilities, {});
  });

  it('deriveSchema leaves other keys alone', () => {
    const s = deriveSchema({ type: 'object', $schema: 'x', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a', 'b'], additionalProperties: false }, { a: 1 }, {});
    assert.deepEqual(s, { type: 'object', $schema: 'x', properties: { b: { type: 'string' } }, required: ['b'], additionalProperties: false });
  });
});
