/**
 * Walks a definition and yields every text it carries, with its path: names, titles, descriptions, defaults, enums,
 * examples, nested schemas, prompt arguments, annotations, instructions — and property names, which a model reads
 * too. Every string is walked, not only known keys, so an unknown field cannot hide text from the scanner.
 */

/** What a text is, which decides which detectors care (names get homoglyph checks, prose gets intent rules). */
export type FieldRole = 'name' | 'prose' | 'value';

export interface TextField {
  /** `description`, `inputSchema.properties.path.description`, `arguments[0].name`, `enum[2]`. */
  readonly path: string;
  readonly text: string;
  readonly role: FieldRole;
}

const NAME_KEYS = new Set(['name', 'title', 'uri', 'uriTemplate', 'mimeType']);
const PROSE_KEYS = new Set(['description', 'instructions', 'summary', '$comment', 'message', 'text', 'help']);
/** Keys whose object values are maps from a name to a schema: the names themselves are shown to the model. */
const NAMED_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const MAX_DEPTH = 40;
const MAX_FIELDS = 5_000;

/** Every text field of `definition`, depth-first in key order; stops quietly past 40 levels or 5,000 fields. */
export function textFields(definition: unknown): TextField[] {
  const out: TextField[] = [];
  walk(definition, '', '', 0, out);
  return out;
}

function walk(value: unknown, path: string, key: string, depth: number, out: TextField[]): void {
  if (out.length >= MAX_FIELDS || depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    out.push({ path, text: value, role: roleOf(key) });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, key, depth + 1, out));
    return;
  }
  const named = NAMED_MAPS.has(key);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const child = path === '' ? k : `${path}.${k}`;
    if (named) out.push({ path: child, text: k, role: 'name' });
    walk(v, child, k, depth + 1, out);
  }
}

function roleOf(key: string): FieldRole {
  if (NAME_KEYS.has(key)) return 'name';
  if (PROSE_KEYS.has(key)) return 'prose';
  return 'value';
}
