/**
 * The `toolSearch` config keys (issue 6): top level for the default endpoint and as the default of every virtual
 * server, and per virtual server, where each key given replaces the top-level one.
 */
import { z } from 'zod';

const count = (max: number) => z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(1).max(max));

/**
 * An embedding model for the hybrid ranker: `local` runs the Universal Sentence Encoder shipped in an npm package
 * (offline, English), `http` calls an OpenAI-compatible `/v1/embeddings` endpoint.
 */
const embedderSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local') }),
  z.strictObject({
    kind: z.literal('http'),
    url: z.url({ error: 'a URL like http://127.0.0.1:11434 (the /v1/embeddings path is added)' }),
    model: z.string().min(1),
    /** Sent as a Bearer token; use ${ENV} or ${file:...} rather than writing it here. */
    apiKey: z.string().min(1).optional(),
  }),
]);

const fields = {
  /** all: every tool is listed (today's behaviour); search: pinned tools plus the search_tools and call_tool meta-tools. */
  mode: z.enum(['all', 'search']),
  /** Tools always listed in search mode: names or globs over the names as the virtual server lists them. */
  pinned: z.array(z.string().min(1)),
  /** Results of a search_tools call that gives no `limit`. */
  limit: count(50),
  /** Largest `limit` a search_tools call may ask for. */
  maxLimit: count(200),
  /** Tools found by search kept per session; beyond that the oldest found is dropped from the session's list. */
  maxFound: count(10_000),
  /** bm25: full-text ranking alone; hybrid: BM25 fused with an embedding ranker (needs `embedder`). */
  ranker: z.enum(['bm25', 'hybrid']),
  embedder: embedderSchema,
  /** Fuse a server-first pass into the ranking (rank servers, then tools within the best few). */
  serverFirst: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()),
};

export const toolSearchSchema = z.strictObject({
  mode: fields.mode.default('all'),
  pinned: fields.pinned.default([]),
  limit: fields.limit.default(5),
  maxLimit: fields.maxLimit.default(50),
  maxFound: fields.maxFound.default(100),
  ranker: fields.ranker.default('bm25'),
  embedder: fields.embedder.optional(),
  serverFirst: fields.serverFirst.default(false),
}).superRefine(needsEmbedder).prefault({});

/** A virtual server's `toolSearch`: the keys it gives replace the top-level ones. */
export const toolSearchOverrideSchema = z.strictObject({
  mode: fields.mode.optional(),
  pinned: fields.pinned.optional(),
  limit: fields.limit.optional(),
  maxLimit: fields.maxLimit.optional(),
  maxFound: fields.maxFound.optional(),
  ranker: fields.ranker.optional(),
  embedder: fields.embedder.optional(),
  serverFirst: fields.serverFirst.optional(),
}).optional();

function needsEmbedder(value: { ranker: string; embedder?: unknown }, ctx: z.RefinementCtx): void {
  if (value.ranker === 'hybrid' && value.embedder === undefined) {
    ctx.addIssue({ code: 'custom', path: ['ranker'], input: value.ranker, message: 'an embedder for ranker: hybrid (add embedder: { kind: local }), or ranker: bm25' });
  }
}

export type ToolSearchConfig = z.output<typeof toolSearchSchema>;
export type ToolSearchOverride = z.output<typeof toolSearchOverrideSchema>;
export type EmbedderConfig = z.output<typeof embedderSchema>;


const tokens = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(0).max(100_000));
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const compactionFields = {
  /** Compact the tool definitions this endpoint lists (and search_tools returns). */
  enabled: flag,
  /** Collapse runs of blanks and blank lines. */
  whitespace: flag,
  /** Drop JSON Schema `examples`/`example`/`$comment` and example blocks of descriptions. */
  examples: flag,
  /** Longest tool description in o200k tokens, cut at a sentence (0 = no limit). */
  maxDescriptionTokens: tokens,
  /** Longest parameter (nested schema) description in o200k tokens (0 = no limit). */
  maxParameterTokens: tokens,
};

/** The `compaction` config keys (issue 6), top level and per virtual server like `toolSearch`. */
export const compactionSchema = z.strictObject({
  enabled: compactionFields.enabled.default(false),
  whitespace: compactionFields.whitespace.default(true),
  examples: compactionFields.examples.default(true),
  maxDescriptionTokens: compactionFields.maxDescriptionTokens.default(200),
  maxParameterTokens: compactionFields.maxParameterTokens.default(60),
}).prefault({});

export const compactionOverrideSchema = z.strictObject({
  enabled: compactionFields.enabled.optional(),
  whitespace: compactionFields.whitespace.optional(),
  examples: compactionFields.examples.optional(),
  maxDescriptionTokens: compactionFields.maxDescriptionTokens.optional(),
  maxParameterTokens: compactionFields.maxParameterTokens.optional(),
}).optional();

export type CompactionConfig = z.output<typeof compactionSchema>;
export type CompactionOverride = z.output<typeof compactionOverrideSchema>;

/** The keys a virtual server gives replace the top-level ones (toolSearch and compaction alike). */
export function resolveSection<T extends object>(defaults: T, own: Partial<T> | undefined): T {
  if (own === undefined) return defaults;
  const merged = { ...defaults };
  for (const [key, value] of Object.entries(own)) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  return merged;
}
