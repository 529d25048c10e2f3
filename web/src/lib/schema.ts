/**
 * JSON Schema as the portal shows and fills it: a readable type for each property, local `$ref`s resolved, and the
 * "try it" form's values turned into a tool's arguments (numbers parsed, empty optional fields left out, required
 * ones reported by path). Only the parts of JSON Schema that tools use in practice; the rest falls back to JSON text.
 */

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  examples?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  [key: string]: unknown;
}

/** What a form field holds: text for inputs (parsed on submit), booleans, lists and objects of those. */
export type FormValue = string | boolean | undefined | FormValue[] | { [key: string]: FormValue };

const MAX_DEPTH = 12;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `schema` with a local `$ref` (`#/$defs/x`, `#/definitions/x`, `#/properties/…`) replaced by its target. */
export function resolve(schema: JsonSchema | undefined, root: JsonSchema): JsonSchema {
  let s: JsonSchema = isObject(schema) ? schema : {};
  for (let i = 0; i < MAX_DEPTH && typeof s.$ref === 'string'; i++) {
    if (!s.$ref.startsWith('#')) break;
    let target: unknown = root;
    for (const part of s.$ref.slice(1).split('/').filter(Boolean)) {
      target = isObject(target) ? target[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    if (!isObject(target)) break;
    const { $ref: _ref, ...rest } = s;
    s = { ...(target as JsonSchema), ...rest };
  }
  return s;
}

/** The types a schema admits, `null` apart: `["string"]`, `["integer"]`, or [] when it does not say. */
export function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type.filter((t) => t !== 'null');
  if (typeof schema.type === 'string') return schema.type === 'null' ? [] : [schema.type];
  if (schema.enum !== undefined && schema.enum.length > 0) return [...new Set(schema.enum.filter((v) => v !== null).map(jsonType))];
  if (schema.const !== undefined) return [jsonType(schema.const)];
  if (schema.properties !== undefined) return ['object'];
  if (schema.items !== undefined) return ['array'];
  return [];
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Whether null is allowed (`type: [x, "null"]`, or a `null` branch of anyOf/oneOf). */
export function nullable(schema: JsonSchema): boolean {
  if (Array.isArray(schema.type) && schema.type.includes('null')) return true;
  return [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].some((b) => b.type === 'null');
}

/** The one non-null branch of `anyOf: [X, {type: null}]` (how optional fields often come), else the schema itself. */
export function unwrapNullable(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches === undefined) return schema;
  const real = branches.filter((b) => b.type !== 'null');
  if (real.length !== 1) return schema;
  const { anyOf: _a, oneOf: _o, ...rest } = schema;
  return { ...resolve(real[0], root), ...rest };
}

/** A short human type: `string`, `integer ≥ 0`, `array of string`, `"a" | "b"`, `object`, `string | number`. */
export function describeType(input: JsonSchema, root: JsonSchema, depth = 0): string {
  const schema = unwrapNullable(resolve(input, root), root);
  const orNull = nullable(schema) || nullable(resolve(input, root)) ? ' | null' : '';
  if (depth > MAX_DEPTH) return 'any';
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches !== undefined && typesOf(schema).length === 0) return branches.map((b) => describeType(b, root, depth + 1)).join(' | ');
  const types = typesOf(schema);
  if (types.length === 0) return `any${orNull}`;
  const parts = types.map((t) => {
    if (t === 'array') {
      const items = Array.isArray(schema.items) ? schema.items[0] : schema.items;
      return items === undefined ? 'array' : `array of ${describeType(items, root, depth + 1)}`;
    }
    if (t === 'string' && schema.format !== undefined) return `string (${schema.format})`;
    return t;
  });
  return parts.join(' | ') + orNull;
}

/** Constraints worth showing beside the type: bounds, lengths, a pattern. */
export function constraints(schema: JsonSchema): string[] {
  const out: string[] = [];
  if (schema.minimum !== undefined) out.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) out.push(`≤ ${schema.maximum}`);
  if (typeof schema.exclusiveMinimum === 'number') out.push(`> ${schema.exclusiveMinimum}`);
  if (typeof schema.exclusiveMaximum === 'number') out.push(`< ${schema.exclusiveMaximum}`);
  if (schema.minLength !== undefined) out.push(`min length ${schema.minLength}`);
  if (schema.maxLength !== undefined) out.push(`max length ${schema.maxLength}`);
  if (typeof schema.minItems === 'number') out.push(`min ${schema.minItems} items`);
  if (typeof schema.maxItems === 'number') out.push(`max ${schema.maxItems} items`);
  if (schema.pattern !== undefined) out.push(`pattern ${schema.pattern}`);
  return out;
}

/** How the form edits a schema: one input kind per shape; `json` for what the form cannot model. */
export type FieldKind = 'enum' | 'boolean' | 'number' | 'integer' | 'string' | 'object' | 'array' | 'json';

export function fieldKind(input: JsonSchema, root: JsonSchema): FieldKind {
  const schema = unwrapNullable(resolve(input, root), root);
  if (schema.enum !== undefined && schema.enum.length > 0) return 'enum';
  if (schema.const !== undefined) return 'enum';
  const types = typesOf(schema);
  if (types.length !== 1) return 'json';
  const [t] = types;
  if (t === 'object') return schema.properties !== undefined && Object.keys(schema.properties).length > 0 ? 'object' : 'json';
  if (t === 'array') {
    const items = Array.isArray(schema.items) ? undefined : schema.items;
    if (items === undefined) return 'json';
    const k = fieldKind(items, root);
    return k === 'json' || k === 'array' ? 'json' : 'array';
  }
  if (t === 'boolean' || t === 'number' || t === 'integer' || t === 'string') return t;
  return 'json';
}

/** The enum's choices (a `const` is a one-choice enum). */
export function choices(input: JsonSchema, root: JsonSchema): unknown[] {
  const schema = unwrapNullable(resolve(input, root), root);
  return schema.enum ?? (schema.const !== undefined ? [schema.const] : []);
}

/** The form's starting value for `schema`: its default, shown as the input would show it. */
export function initialValue(input: JsonSchema, root: JsonSchema, depth = 0): FormValue {
  const schema = unwrapNullable(resolve(input, root), root);
  const kind = fieldKind(schema, root);
  const d = schema.default;
  if (depth > MAX_DEPTH) return undefined;
  switch (kind) {
    case 'enum':
      return d === undefined ? '' : JSON.stringify(d);
    case 'boolean':
      return typeof d === 'boolean' ? d : undefined;
    case 'number':
    case 'integer':
    case 'string':
      return d === undefined || d === null ? '' : String(d);
    case 'object': {
      const out: Record<string, FormValue> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = initialValue(v, root, depth + 1);
      return out;
    }
    case 'array': {
      if (!Array.isArray(d)) return [];
      const items = schema.items as JsonSchema;
      return d.map((item) => fromJson(item, items, root));
    }
    case 'json':
      return d === undefined ? '' : JSON.stringify(d, null, 2);
  }
}

/** A JSON value as the form holds it under `schema` (for array defaults and "edit as form" after JSON). */
export function fromJson(value: unknown, input: JsonSchema, root: JsonSchema): FormValue {
  const schema = unwrapNullable(resolve(input, root), root);
  const kind = fieldKind(schema, root);
  if (value === undefined) return initialValue(schema, root);
  switch (kind) {
    case 'enum':
      return JSON.stringify(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    case 'number':
    case 'integer':
    case 'string':
      return value === null ? '' : String(value);
    case 'object': {
      const out: Record<string, FormValue> = {};
      const obj = isObject(value) ? value : {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = fromJson(obj[k], v, root);
      return out;
    }
    case 'array':
      return Array.isArray(value) ? value.map((item) => fromJson(item, schema.items as JsonSchema, root)) : [];
    case 'json':
      return JSON.stringify(value, null, 2);
  }
}

export interface Collected {
  value: unknown;
  /** Field path (`a.b.0`) -> what is wrong with it. */
  errors: Record<string, string>;
}

/**
 * The tool's arguments from the form's value: typed, with empty optional fields left out, and an error for each
 * required field left empty or a number or JSON that does not parse. `value` is undefined for "left out".
 */
export function collect(input: JsonSchema, value: FormValue, root: JsonSchema, path = '', required = true): Collected {
  const errors: Record<string, string> = {};
  const schema = unwrapNullable(resolve(input, root), root);
  const kind = fieldKind(schema, root);
  const missing = (): Collected => {
    if (required && path !== '') errors[path] = 'required';
    return { value: undefined, errors };
  };
  switch (kind) {
    case 'enum': {
      if (value === '' || value === undefined) return missing();
      try {
        return { value: JSON.parse(String(value)), errors };
      } catch {
        return { value, errors };
      }
    }
    case 'boolean':
      if (typeof value !== 'boolean') return missing();
      return { value, errors };
    case 'number':
    case 'integer': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (text === '') return missing();
      const n = Number(text);
      if (!Number.isFinite(n)) errors[path] = 'not a number';
      else if (kind === 'integer' && !Number.isInteger(n)) errors[path] = 'must be a whole number';
      return { value: n, errors };
    }
    case 'string': {
      const text = typeof value === 'string' ? value : '';
      if (text === '') return missing();
      return { value: text, errors };
    }
    case 'object': {
      const obj = isObject(value) ? (value as Record<string, FormValue>) : {};
      const req = new Set(schema.required ?? []);
      const out: Record<string, unknown> = {};
      const inner: Record<string, string> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) {
        const sub = collect(v, obj[k], root, path === '' ? k : `${path}.${k}`, req.has(k));
        Object.assign(inner, sub.errors);
        if (sub.value !== undefined) out[k] = sub.value;
      }
      // An optional object nobody filled in is left out (not sent as {}), and its required fields are not asked for.
      if (!required && Object.keys(out).length === 0) return { value: undefined, errors };
      Object.assign(errors, inner);
      return { value: out, errors };
    }
    case 'array': {
      const list = Array.isArray(value) ? value : [];
      if (list.length === 0 && !required) return { value: undefined, errors };
      const out: unknown[] = [];
      list.forEach((item, i) => {
        const sub = collect(schema.items as JsonSchema, item, root, `${path}.${i}`, true);
        Object.assign(errors, sub.errors);
        out.push(sub.value);
      });
      return { value: out, errors };
    }
    case 'json': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (text === '') return missing();
      try {
        return { value: JSON.parse(text), errors };
      } catch {
        errors[path] = 'not valid JSON';
        return { value: undefined, errors };
      }
    }
  }
}

/** The properties of an object schema in order, each with its resolved schema and whether it is required. */
export function propertiesOf(input: JsonSchema, root: JsonSchema): { name: string; schema: JsonSchema; required: boolean }[] {
  const schema = unwrapNullable(resolve(input, root), root);
  const req = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({ name, schema: unwrapNullable(resolve(s, root), root), required: req.has(name) }));
}

/** The item schema of an array schema, resolved; undefined for tuples and untyped arrays. */
export function itemsOf(input: JsonSchema, root: JsonSchema): JsonSchema | undefined {
  const schema = unwrapNullable(resolve(input, root), root);
  if (schema.items === undefined || Array.isArray(schema.items)) return undefined;
  return unwrapNullable(resolve(schema.items, root), root);
}
