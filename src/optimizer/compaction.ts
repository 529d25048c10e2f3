/**
 * Compaction (issue 6): trims tool definitions before they reach a model — whitespace, examples, and descriptions
 * longer than a token budget — touching annotations only (`description`, `title`, `examples`, `$comment`), so every
 * schema validates exactly what it validated before. A stage rewrites tools/list (and, placed before search mode's
 * list stage, what search_tools returns); each definition is compacted once and remembered.
 */
import { o200k } from './token-count.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { Stage } from '../core/stage.ts';
import type { CompactionConfig } from './config.ts';

export const COMPACTION_STAGE = 'compaction';

export interface CompactOptions {
  /** Collapse runs of blanks and blank lines, trim. */
  readonly whitespace: boolean;
  /** Drop `examples`/`example`/`$comment` from schemas and example blocks from descriptions. */
  readonly examples: boolean;
  /** Longest tool description in o200k tokens (0 = any). */
  readonly maxDescriptionTokens: number;
  /** Longest description of a parameter or other nested schema (0 = any). */
  readonly maxParameterTokens: number;
}

/** JSON Schema keywords whose value is a map of name -> schema. */
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
/** Keywords whose value is one schema. */
const SCHEMA_ONE = ['additionalProperties', 'additionalItems', 'items', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties', 'contentSchema'];
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
/** Annotations that only show examples or notes to a reader; dropping them changes no validation. */
const EXAMPLE_KEYWORDS = ['examples', 'example', '$comment'];

const FENCED = /```[\s\S]*?(?:```|$)/g;
const EXAMPLE_TAGS = /<(examples?|example_usage)>[\s\S]*?<\/\1>/gi;
/** A paragraph introduced as examples: "Example:", "Examples:", "## Usage examples", "For example:" on its own line. */
const EXAMPLE_HEADING = /^\s*(?:#{1,6}\s*)?(?:for\s+)?(?:usage\s+|sample\s+)?examples?(?:\s+usage)?\s*:?\s*(?:\n|$)/i;
const EXAMPLE_LEAD = /^\s*(?:#{1,6}\s*)?(?:usage\s+)?examples?\s*:/i;

/** A description's text, compacted; the same string when nothing changed. */
export function compactText(text: string, options: CompactOptions, maxTokens: number): string {
  let out = text;
  if (options.examples) out = stripExamples(out);
  if (options.whitespace || options.examples) out = collapseWhitespace(out);
  if (maxTokens > 0) out = truncateToTokens(out, maxTokens);
  return out === text ? text : out;
}

function stripExamples(text: string): string {
  const withoutBlocks = text.replace(FENCED, '').replace(EXAMPLE_TAGS, '');
  return withoutBlocks
    .split(/\n[ \t]*\n/)
    .filter((paragraph) => !EXAMPLE_HEADING.test(paragraph) && !EXAMPLE_LEAD.test(paragraph))
    .join('\n\n');
}

function collapseWhitespace(text: string): string {
  return text
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{2,}/g, '\n')
    .trim();
}

/** Whole sentences while they fit; a first sentence longer than the budget is cut. Ends with "…" when shortened. */
export function truncateToTokens(text: string, maxTokens: number): string {
  const { encode, decode } = o200k();
  const tokens = encode(text);
  if (tokens.length <= maxTokens) return text;
  const budget = Math.max(1, maxTokens - 1); // room for the ellipsis
  const sentences = text.split(/(?<=[.!?。！？])\s+/);
  let kept = '';
  for (const sentence of sentences) {
    const next = kept === '' ? sentence : `${kept} ${sentence}`;
    if (encode(next).length > budget) break;
    kept = next;
  }
  if (kept === '') kept = decode(tokens.slice(0, budget)).replace(/\s+\S*$/, '');
  return `${kept.trimEnd()}…`;
}

/** A schema with its annotations compacted; the same object when nothing changed. Anything not an object passes. */
export function compactSchema(schema: unknown, options: CompactOptions, maxTokens: number): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const input = schema as JsonObject;
  let out: JsonObject | undefined;
  const set = (key: string, value: unknown) => {
    if (value === input[key]) return;
    out ??= { ...input };
    if (value === undefined) delete out[key];
    else out[key] = value as JsonObject[string];
  };
  if (typeof input.description === 'string') set('description', compactText(input.description, options, maxTokens) || undefined);
  if (typeof input.title === 'string' && options.whitespace) set('title', collapseWhitespace(input.title));
  if (options.examples) for (const key of EXAMPLE_KEYWORDS) if (key in input) set(key, undefined);
  for (const key of SCHEMA_MAPS) {
    const map = input[key];
    if (map === null || typeof map !== 'object' || Array.isArray(map)) continue;
    let changed: JsonObject | undefined;
    for (const [name, sub] of Object.entries(map)) {
      const next = compactSchema(sub, options, maxTokens);
      if (next !== sub) (changed ??= { ...map })[name] = next as JsonObject[string];
    }
    if (changed) set(key, changed);
  }
  for (const key of SCHEMA_ONE) if (!Array.isArray(input[key])) set(key, compactSchema(input[key], options, maxTokens));
  for (const key of SCHEMA_LISTS) {
    const list = input[key];
    if (!Array.isArray(list)) continue;
    const next = list.map((sub) => compactSchema(sub, options, maxTokens));
    if (next.some((sub, i) => sub !== list[i])) set(key, next);
  }
  return out ?? input;
}

/** A tool definition compacted: its description, title, and the annotations of its input and output schemas. */
export function compactTool(tool: JsonObject, options: CompactOptions): JsonObject {
  let out: JsonObject | undefined;
  const set = (key: string, value: unknown) => {
    if (value === tool[key]) return;
    out ??= { ...tool };
    if (value === undefined) delete out[key];
    else out[key] = value as JsonObject[string];
  };
  if (typeof tool.description === 'string') set('description', compactText(tool.description, options, options.maxDescriptionTokens));
  if (typeof tool.title === 'string' && options.whitespace) set('title', collapseWhitespace(tool.title));
  for (const key of ['inputSchema', 'outputSchema']) {
    if (tool[key] !== undefined) set(key, compactSchema(tool[key], options, options.maxParameterTokens));
  }
  return out ?? tool;
}

/** null when compaction is off: the pipeline then has nothing of it to run. */
export function createCompactionStage(config: CompactionConfig): Stage | null {
  if (!config.enabled) return null;
  const compacted = new WeakMap<JsonObject, JsonObject>();
  const compact = (tool: JsonObject) => {
    let out = compacted.get(tool);
    if (out === undefined) compacted.set(tool, (out = compactTool(tool, config)));
    return out;
  };
  return {
    name: COMPACTION_STAGE,
    onList(_ctx, kind, items) {
      return kind === 'tools' ? items.map(compact) : items;
    },
  };
}
