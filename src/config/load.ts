/**
 * Read a config file into a validated GatehouseConfig: YAML (or JSON, or the desktop-client `mcpServers` format)
 * → `${…}` interpolation → zod validation. Every failure becomes one ConfigError that names file, line, column
 * and key, because the parse keeps each node's source range.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { z } from 'zod';
import { ConfigError, describeValue, formatKey, suggest, type ConfigIssue } from './errors.ts';
import { interpolateDocument } from './interpolate.ts';
import { convertMcpServers, isMcpServersDocument } from './mcp-servers.ts';
import { configSchema, type GatehouseConfig } from './schema.ts';

export interface LoadedConfig {
  /** The path as given, as it appears in messages. */
  file: string;
  config: GatehouseConfig;
  /** The file's text before interpolation: reloads compare it to skip saves that changed nothing. */
  text: string;
}

export interface LoadOptions {
  /** Where `${VAR}` looks; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads `${file:…}` secrets; default a UTF-8 read. */
  readFile?: (path: string) => string;
}

/** Read and validate the config at `file`; throws ConfigError, also when the file cannot be read. */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(file, [{ key: '', detail: `cannot read the config file (${reason})` }], { cause: err });
  }
  return parseConfig(text, file, options);
}

/** Validate config `text`; `file` is used in messages and to resolve relative `${file:…}` paths. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const lines = new LineCounter();
  // merge: `<<: *defaults` is common in hand-written configs with several similar upstreams.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(Math.max(0, offset));
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    // Only the first: after a syntax error the parser's further complaints are mostly echoes of it.
    const [e] = doc.errors;
    // `{ port: ${PORT} }`: in a flow collection `{` and `}` are syntax, so the reference must be quoted.
    const nearReference = text.startsWith('${', e.pos[0]) || text.startsWith('${', e.pos[0] - 1);
    const hint = nearReference ? ' (inside { } or [ ], quote a value that uses ${…}: "${VAR}")' : '';
    throw new ConfigError(file, [{ ...at(e.pos[0]), key: '', detail: `invalid YAML: ${e.message}${hint}` }]);
  }

  const { sources, problems } = interpolateDocument(doc, {
    env: options.env ?? process.env,
    baseDir: dirname(resolve(file)),
    readFile: options.readFile,
  });
  if (problems.length > 0) {
    throw new ConfigError(file, sortIssues(problems.map((p) => ({
      ...at(p.node.range?.[0] ?? 0),
      key: formatKey(p.path),
      expected: p.error.variable === undefined ? undefined : `a value for \${${p.error.variable}}`,
      detail: p.error.message,
    }))));
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(file, [{ line: 1, column: 1, key: '', detail: (err as Error).message }], { cause: err });
  }

  // Top-level `x-…` keys are free for YAML anchors (`x-defaults: &defaults`), as in Compose files.
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    data = Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('x-')));
  }

  let sourcePath = (path: readonly PropertyKey[]): PropertyKey[] => [...path];
  if (isMcpServersDocument(data)) {
    const converted = convertMcpServers(data);
    const locate = (path: PropertyKey[]) => place(doc, at, path, 'key');
    if (converted.problems.length > 0) {
      throw new ConfigError(file, converted.problems.map((p) => ({ ...locate(p.path), key: formatKey(p.path), detail: p.detail })));
    }
    data = converted.config;
    sourcePath = converted.sourcePath;
  }

  const result = configSchema.safeParse(data, { error: expectedPhrase });
  if (!result.success) {
    const ctx: IssueContext = { doc, data, at, sourcePath, sources };
    throw new ConfigError(file, sortIssues(result.error.issues.flatMap((issue) => toConfigIssues(issue, [], ctx))));
  }
  return { file, config: result.data, text };
}

type At = (offset: number) => { line: number; column: number };

interface IssueContext {
  doc: Document;
  data: unknown;
  at: At;
  sourcePath: (path: readonly PropertyKey[]) => PropertyKey[];
  /** Original text of scalars that had `${…}` substituted: shown instead of a value that may be a secret. */
  sources: Map<Node, string>;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const pos = (i: ConfigIssue) => (i.line ?? Infinity) * 1e6 + (i.column ?? 0);
  return issues.sort((a, b) => pos(a) - pos(b));
}

/** Marks the generic phrase of a union, so the reporter digs into the branches instead. */
const ANY_OF_UNION = 'one of the accepted forms';

/**
 * The per-parse zod error map: every issue's message becomes what the key should hold ("a whole number").
 * Messages set in the schema take precedence and are written the same way.
 */
const expectedPhrase: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return ({ string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list', object: 'a mapping', record: 'a mapping' } as Record<string, string>)[issue.expected] ?? `a ${issue.expected}`;
    case 'invalid_value':
      return issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'url' ? 'a URL like https://example.com/mcp' : issue.format === 'regex' ? `a string matching ${issue.pattern}` : `a valid ${issue.format}`;
    case 'too_small':
    case 'too_big':
      return bound(issue.code === 'too_small', issue.origin, Number(issue.code === 'too_small' ? issue.minimum : issue.maximum), issue.inclusive !== false);
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_union': {
      // A discriminated union that found no branch for the discriminator's value lists the values it knows.
      const options = (issue as { options?: unknown[] }).options;
      return issue.discriminator !== undefined && options !== undefined ? `one of ${options.map((v) => JSON.stringify(v)).join(', ')}` : ANY_OF_UNION;
    }
    default:
      return 'a valid value';
  }
};

function bound(min: boolean, origin: string, n: number, inclusive: boolean): string {
  if (origin === 'string') return min && n === 1 ? 'a non-empty string' : `a string of ${min ? 'at least' : 'at most'} ${n} characters`;
  if (origin === 'array' || origin === 'set') return `a list of ${min ? 'at least' : 'at most'} ${n} items`;
  if (inclusive) return `a number of ${min ? 'at least' : 'at most'} ${n}`;
  return `a number ${min ? 'greater' : 'less'} than ${n}`;
}

/** Turn one zod issue into located, worded issues. `prefix` is the path of the union whose branch it came from. */
function toConfigIssues(issue: z.core.$ZodIssue, prefix: PropertyKey[], ctx: IssueContext): ConfigIssue[] {
  const path = [...prefix, ...issue.path];
  const source = ctx.sourcePath(path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const known = knownKeys(path, issue.keys, ctx.data);
        const guess = suggest(key, known);
        const list = known.length > 0 ? `one of ${known.join(', ')}` : undefined;
        const detail = guess !== undefined ? `unknown key; did you mean "${guess}"?` : list !== undefined ? `unknown key; expected ${list}` : 'unknown key';
        const keyPath = ctx.sourcePath([...path, key]);
        return { ...place(ctx.doc, ctx.at, keyPath, 'key'), key: formatKey(keyPath), expected: list, detail };
      });
    case 'invalid_key': {
      const expected = issue.issues[0]?.message ?? 'a valid name';
      return [{ ...place(ctx.doc, ctx.at, source, 'key'), key: formatKey(source), expected, detail: `invalid name; expected ${expected}` }];
    }
    case 'invalid_union':
      if (issue.errors.length > 0 && issue.message === ANY_OF_UNION) {
        // Report the branch that came closest: the one with the fewest complaints.
        const closest = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
        return closest.flatMap((inner) => toConfigIssues(inner, path, ctx));
      }
      break;
  }
  const found = valueAt(ctx.data, path);
  if (!found.exists) {
    return [{ ...place(ctx.doc, ctx.at, source, 'key'), key: formatKey(source), expected: issue.message, detail: `missing required key; expected ${issue.message}` }];
  }
  const suggestion = issue.code === 'custom' ? (issue.params as { suggestion?: string } | undefined)?.suggestion : undefined;
  // A schema's own check on a whole mapping says all there is to say; "got a mapping" would add nothing.
  const got = issue.code === 'custom' && typeof found.value === 'object' && found.value !== null ? '' : `, got ${shown(ctx, source, found.value)}`;
  return [{
    ...place(ctx.doc, ctx.at, source, 'value'),
    key: formatKey(source),
    expected: issue.message,
    detail: `expected ${issue.message}${got}${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`,
  }];
}

/** The value for "got …"; an interpolated one is named by its reference, never shown (it may be a secret). */
function shown(ctx: IssueContext, source: PropertyKey[], value: unknown): string {
  const { node, exact } = locate(ctx.doc, source);
  const original = exact && node !== null ? ctx.sources.get(node) : undefined;
  if (original === undefined) return describeValue(value);
  return `${typeof value === 'string' ? 'a string' : describeValue(value)} from ${JSON.stringify(original)}`;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): { exists: boolean; value: unknown } {
  let value = data;
  for (const seg of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, seg)) return { exists: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[seg];
  }
  return { exists: true, value };
}

/* ----- source positions ----- */

interface Located {
  /** The deepest node found along the path. */
  node: Node | null;
  /** The pair that holds `node` as its value, when `node` sits in a mapping. */
  pair: Pair | undefined;
  /** False when the path ended early (a missing key): `node` is then the deepest ancestor found. */
  exact: boolean;
}

function locate(doc: Document, path: readonly PropertyKey[]): Located {
  let node = doc.contents as Node | null;
  let pair: Pair | undefined;
  for (const seg of path) {
    const target = deref(doc, node);
    let next: { node: Node | null; pair: Pair | undefined } | undefined;
    if (isMap(target)) {
      const p = findPair(doc, target.items as Pair[], String(seg), 0);
      if (p !== undefined) next = { node: p.value as Node | null, pair: p };
    } else if (isSeq(target) && typeof seg === 'number' && seg < target.items.length) {
      next = { node: target.items[seg] as Node | null, pair: undefined };
    }
    if (next === undefined) return { node, pair, exact: false };
    ({ node, pair } = next);
  }
  return { node, pair, exact: true };
}

function deref(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** Find `key` in a mapping's pairs, following `<<` merge keys (whose key scalar holds a symbol). */
function findPair(doc: Document, pairs: Pair[], key: string, depth: number): Pair | undefined {
  const keyOf = (k: unknown) => (isScalar(k) ? k.value : k);
  const direct = pairs.find((p) => String(keyOf(p.key)) === key);
  if (direct !== undefined || depth > 10) return direct;
  for (const p of pairs) {
    const k = keyOf(p.key);
    if (!(k === '<<' || (typeof k === 'symbol' && k.description === '<<'))) continue;
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const s of sources) {
      const target = deref(doc, s);
      const found = isMap(target) ? findPair(doc, target.items as Pair[], key, depth + 1) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Line and column for `path`: 'value' points at the value, 'key' at the key that holds it. A path that
 * ends early (a missing key) points at the key of the deepest ancestor that exists.
 */
function place(doc: Document, at: At, path: readonly PropertyKey[], how: 'key' | 'value'): { line: number; column: number } {
  const { node, pair, exact } = locate(doc, path);
  const target = how === 'value' && exact && node !== null ? node : (pair?.key as Node | undefined) ?? node;
  return at(target?.range?.[0] ?? 0);
}

/* ----- schema introspection, for "did you mean" ----- */

interface Def {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  out?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  shape?: Record<string, z.core.$ZodType>;
  valueType?: z.core.$ZodType;
  element?: z.core.$ZodType;
}

const defOf = (s: z.core.$ZodType) => s._zod.def as unknown as Def;

/** The concrete schemas a value at this level may match: wrappers, pipes and unions see through. */
function unwrap(s: z.core.$ZodType): z.core.$ZodType[] {
  const def = defOf(s);
  if (def.innerType !== undefined) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in !== undefined && def.out !== undefined) return unwrap(defOf(def.out).type === 'transform' ? def.in : def.out);
  if (def.type === 'union' && def.options !== undefined) return def.options.flatMap(unwrap);
  return [s];
}

/**
 * The keys an object at `path` may have. Of a union's object branches, those that know every other key the
 * user wrote are preferred (an upstream with `command` suggests stdio keys).
 */
function knownKeys(path: readonly PropertyKey[], unknown: readonly string[], data: unknown): string[] {
  let schemas = unwrap(configSchema);
  for (const seg of path) {
    schemas = schemas.flatMap((s) => {
      const def = defOf(s);
      if (def.shape !== undefined) return typeof seg === 'string' && Object.hasOwn(def.shape, seg) ? unwrap(def.shape[seg]) : [];
      if (def.type === 'record' && def.valueType !== undefined) return unwrap(def.valueType);
      if (def.type === 'array' && def.element !== undefined) return unwrap(def.element);
      return [];
    });
  }
  const shapes = schemas.map((s) => defOf(s).shape).filter((shape) => shape !== undefined);
  const value = valueAt(data, path).value;
  const written = typeof value === 'object' && value !== null ? Object.keys(value).filter((k) => !unknown.includes(k)) : [];
  const fitting = shapes.filter((shape) => written.every((k) => Object.hasOwn(shape, k)));
  return [...new Set((fitting.length > 0 ? fitting : shapes).flatMap((shape) => Object.keys(shape)))];
}
