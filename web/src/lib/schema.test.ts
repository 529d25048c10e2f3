import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonSchema } from './schema.ts';
import { collect, describeType, fieldKind, fromJson, initialValue, propertiesOf } from './schema.ts';

const schema: JsonSchema = {
  type: 'object',
  required: ['city', 'days'],
  properties: {
    city: { type: 'string', description: 'Where' },
    days: { type: 'integer', minimum: 1, default: 3 },
    units: { enum: ['metric', 'imperial'], default: 'metric' },
    detailed: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    window: { type: 'object', properties: { from: { type: 'string', format: 'date' }, to: { type: 'string' } }, required: ['from'] },
    note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    point: { $ref: '#/$defs/point' },
    extra: { type: 'object', additionalProperties: true },
  },
  $defs: { point: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } } } },
};

describe('JSON Schema for the portal', () => {
  it('describes types, nullable, enums, arrays, formats and refs', () => {
    const p = Object.fromEntries(propertiesOf(schema, schema).map((x) => [x.name, x]));
    assert.equal(describeType(p.city.schema, schema), 'string');
    assert.equal(describeType(p.units.schema, schema), '"metric" | "imperial"');
    assert.equal(describeType(p.tags.schema, schema), 'array of string');
    assert.equal(describeType(schema.properties!.note, schema), 'string | null');
    assert.equal(describeType(p.window.schema.properties!.from, schema), 'string (date)');
    assert.equal(fieldKind(schema.properties!.point, schema), 'object');
    assert.equal(fieldKind(schema.properties!.extra, schema), 'json');
    assert.deepEqual(propertiesOf(schema, schema).filter((x) => x.required).map((x) => x.name), ['city', 'days']);
  });

  it('turns the form into arguments: typed, defaults kept, empty optional fields left out', () => {
    const v = initialValue(schema, schema) as Record<string, unknown>;
    assert.equal(v.days, '3');
    assert.equal(v.units, '"metric"');
    const missing = collect(schema, v as never, schema);
    assert.deepEqual(missing.errors, { city: 'required' });
    const filled = collect(schema, { ...v, city: 'Oslo', tags: ['a', 'b'], window: { from: '2026-01-01', to: '' }, point: { lat: '59.9', lon: '' }, extra: '{"x": 1}' } as never, schema);
    assert.deepEqual(filled.errors, {});
    assert.deepEqual(filled.value, { city: 'Oslo', days: 3, units: 'metric', tags: ['a', 'b'], window: { from: '2026-01-01' }, point: { lat: 59.9 }, extra: { x: 1 } });
  });

  it('reports bad numbers, bad JSON and missing nested fields by path', () => {
    const v = initialValue(schema, schema) as Record<string, unknown>;
    const r = collect(schema, { ...v, city: 'x', days: '2.5', window: { from: '', to: 'y' }, extra: '{nope' } as never, schema);
    assert.deepEqual(r.errors, { days: 'must be a whole number', 'window.from': 'required', extra: 'not valid JSON' });
  });

  it('round-trips JSON arguments into the form', () => {
    const args = { city: 'Rome', days: 2, units: 'imperial', detailed: true, tags: ['x'] };
    assert.deepEqual(collect(schema, fromJson(args, schema, schema), schema).value, args);
  });
});
