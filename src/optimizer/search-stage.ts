/**
 * Search mode (issue 6): a session lists its pinned tools plus two meta-tools, `search_tools` and `call_tool`; the
 * tools a search finds join that session's list (announced with tools/list_changed) and become callable. Listing
 * and calling agree per session: a tool neither pinned nor found is refused exactly like an unknown one.
 *
 * Two stages, because one verdict order cannot serve both jobs: `tool-search` goes FIRST, so a meta-tool call is
 * answered before authorization looks for a tool by that name (there is none upstream), and an unfound tool is
 * refused before anything else; `tool-search-list` goes AFTER policy, so a session's list and what a search can
 * return are the tools the principal may see (`ctx.listBefore('tool-search-list', 'tools')`). `call_tool` serves the
 * real tool with `ctx.dispatch`, so policy, rate limits and every other stage apply to it unchanged.
 */
import { matchesAny } from '../catalog/glob.ts';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { CONTINUE } from '../core/stage.ts';
import type { RequestVerdict, Stage, StageContext } from '../core/stage.ts';
import type { Embedders } from './embedders.ts';
import type { ToolSearchConfig } from './config.ts';
import { createHybridSearcher, createRankerSearcher } from './searcher.ts';
import type { ServerInfo, ToolSearcher } from './searcher.ts';
import type { GatewayMetrics } from '../observe/metrics.ts';

export const SEARCH_TOOL = 'search_tools';
export const CALL_TOOL = 'call_tool';
export const REQUEST_STAGE = 'tool-search';
export const LIST_STAGE = 'tool-search-list';

/** Sessions whose found tools are kept; beyond that the least recently active one forgets them. */
const MAX_SESSIONS = 10_000;
/** Longest query searched (longer ones are cut): a search is local CPU work that no rate limit meters. */
const MAX_QUERY = 1_000;

export interface ToolSearchOptions {
  readonly config: ToolSearchConfig;
  /** Per upstream name: title, description and tags (indexed as the tool's server). */
  readonly servers?: Readonly<Record<string, ServerInfo>>;
  /** The namespacing separator: `everything__echo` is indexed as `echo` of server `everything`. */
  readonly separator?: string;
  readonly searcher?: ToolSearcher;
  /** Where found tools are kept; pass one that outlives the pipeline (config reloads rebuild it) to keep them. */
  readonly found?: FoundTools;
  /** Where search timings and outcomes are counted. */
  readonly metrics?: GatewayMetrics;
  /** The gateway's embedders, for `ranker: hybrid` (one per embedder config, kept across reloads). */
  readonly embedders?: Embedders;
  /**
   * Index the list as it is before this stage (a list stage placed before search's own, e.g. compaction): searches
   * then rank the full definitions while returning them as the session sees them. Names must be the same in both.
   */
  readonly indexBefore?: string;
  /** The virtual server this stage serves, for metric labels. */
  readonly virtualServer?: string;
}

/**
 * The tools each session found, oldest first; sessions least recently active first, at most `maxSessions`. Session
 * ids are unique across virtual servers, so one instance can serve every pipeline of a gateway.
 */
export class FoundTools {
  readonly #sessions = new Map<string, Set<string>>();
  readonly #maxSessions: number;

  constructor(maxSessions = MAX_SESSIONS) {
    this.#maxSessions = maxSessions;
  }

  /** The session's found tools (marking it active), or undefined when it found none. */
  of(sessionId: string): ReadonlySet<string> | undefined {
    const set = this.#sessions.get(sessionId);
    if (set !== undefined) {
      this.#sessions.delete(sessionId);
      this.#sessions.set(sessionId, set);
    }
    return set;
  }

  has(sessionId: string, name: string): boolean {
    return this.#sessions.get(sessionId)?.has(name) === true;
  }

  /** Adds names, dropping the oldest beyond `max`; true when the session's set changed. */
  remember(sessionId: string, names: readonly string[], max: number): boolean {
    let set = this.of(sessionId) as Set<string> | undefined;
    if (set === undefined) {
      if (names.length === 0) return false;
      if (this.#sessions.size >= this.#maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
      this.#sessions.set(sessionId, (set = new Set()));
    }
    let changed = false;
    for (const name of names) {
      if (set.has(name)) continue;
      while (set.size >= max) set.delete(set.values().next().value!);
      set.add(name);
      changed = true;
    }
    return changed;
  }

  end(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  get size(): number {
    return this.#sessions.size;
  }
}

export interface ToolSearchStages {
  /** Goes first in the pipeline: answers meta-tool calls, refuses tools the session has not found. */
  readonly request: Stage;
  /** Goes after policy: a session lists its pinned and found tools plus the meta-tools. */
  readonly list: Stage;
}

const SEARCH_DEFINITION = (config: ToolSearchConfig): JsonObject => ({
  name: SEARCH_TOOL,
  title: 'Search tools',
  description:
    'Find the tools that can do a task. Describe what you want to do in a few words; the best matching tools are returned with ' +
    'their input schemas and become available to call (directly, or through call_tool).',
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'What you want to do, e.g. "create a GitHub issue" or "weather forecast for a city".' },
      limit: { type: 'integer', minimum: 1, maximum: config.maxLimit, default: config.limit, description: 'How many tools to return.' },
    },
    required: ['query'],
  },
  outputSchema: {
    type: 'object',
    properties: {
      tools: {
        type: 'array',
        items: {
          type: 'object',
          properties: { name: { type: 'string' }, description: { type: 'string' }, inputSchema: { type: 'object' }, score: { type: 'number' } },
          required: ['name', 'description', 'inputSchema', 'score'],
        },
      },
    },
    required: ['tools'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
});

const CALL_DEFINITION: JsonObject = {
  name: CALL_TOOL,
  title: 'Call a tool',
  description: 'Call a tool that search_tools returned, by its name, with its arguments.',
  inputSchema: {
    type: 'object',
    properties: {
      name: { type: 'string', description: 'The tool name as search_tools returned it.' },
      arguments: { type: 'object', description: "The tool's arguments, following its inputSchema." },
    },
    required: ['name'],
  },
};

/** null in `all` mode: the pipeline then has nothing of search mode to run. */
export function createToolSearchStages(options: ToolSearchOptions): ToolSearchStages | null {
  const { config } = options;
  if (config.mode !== 'search') return null;
  const searcher = options.searcher ?? defaultSearcher(options);
  const metaTools = [SEARCH_DEFINITION(config), CALL_DEFINITION];
  const isMeta = (name: unknown) => name === SEARCH_TOOL || name === CALL_TOOL;
  const isPinned = (name: string) => config.pinned.length > 0 && matchesAny(name, config.pinned);
  const found = options.found ?? new FoundTools();
  /** Params of nested calls that call_tool already checked: let through once, by identity. */
  const granted = new WeakSet<JsonObject>();

  // A 2026-07-28 request is its own session ("stateless:<principal>", src/server/stateless.ts): nothing found
  // outlives it, so such a client reaches what it found through call_tool, which then checks visibility itself.
  const stateless = (ctx: StageContext) => ctx.sessionId.startsWith('stateless:');

  const callable = (ctx: StageContext, name: string) => isPinned(name) || (!stateless(ctx) && found.has(ctx.sessionId, name));

  function visible(ctx: StageContext): JsonObject[] {
    return ctx.listBefore(LIST_STAGE, 'tools').filter((t) => !isMeta(t.name));
  }

  const { metrics } = options;
  const outcome = (ctx: StageContext, value: 'found' | 'empty' | 'invalid') => metrics?.toolSearches.inc({ virtual_server: ctx.virtualServer, outcome: value });

  async function search(ctx: StageContext, args: JsonObject): Promise<RequestVerdict> {
    const { query, limit = config.limit } = args;
    if (typeof query !== 'string' || query.trim() === '') {
      outcome(ctx, 'invalid');
      return toolError('search_tools needs a non-empty string "query"');
    }
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > config.maxLimit) {
      outcome(ctx, 'invalid');
      return toolError(`search_tools "limit" must be an integer from 1 to ${config.maxLimit}`);
    }
    const started = performance.now();
    const tools = visible(ctx);
    const indexed = options.indexBefore === undefined ? tools : ctx.listBefore(options.indexBefore, 'tools');
    const ranked = await searcher.search(indexed, query.slice(0, MAX_QUERY), limit, (t) => ctx.upstreamOf('tools', t));
    metrics?.toolSearchSeconds.observe({ virtual_server: ctx.virtualServer }, (performance.now() - started) / 1000);
    const byName = new Map<string, JsonObject>();
    const wanted = new Set(ranked.map((r) => r.name));
    for (const t of tools) if (wanted.has(t.name as string)) byName.set(t.name as string, t);
    const results: JsonObject[] = [];
    for (const r of ranked) {
      const t = byName.get(r.name);
      if (t === undefined) continue;
      results.push({ name: r.name, description: (t.description as string | undefined) ?? '', inputSchema: t.inputSchema as JsonObject, score: Math.round(r.score * 1e4) / 1e4 });
    }
    outcome(ctx, results.length > 0 ? 'found' : 'empty');
    if (!stateless(ctx) && remember(ctx.sessionId, results.map((r) => r.name as string))) ctx.notify('notifications/tools/list_changed');
    return { action: 'respond', value: { content: [{ type: 'text', text: render(query, results) }], structuredContent: { tools: results } } };
  }

  /** Adds what a search found to the session's tools (bounded); true when its list changed. */
  function remember(sessionId: string, names: string[]): boolean {
    return found.remember(sessionId, names.filter((n) => !isPinned(n)), config.maxFound);
  }

  async function callTool(ctx: StageContext, args: JsonObject, outer: JsonObject): Promise<RequestVerdict> {
    const { name, arguments: toolArgs } = args;
    if (typeof name !== 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['call_tool needs a string "name"']);
    if (toolArgs !== undefined && (toolArgs === null || typeof toolArgs !== 'object' || Array.isArray(toolArgs))) {
      throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['call_tool "arguments" must be an object']);
    }
    if (isMeta(name)) throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['call_tool calls the tools search_tools finds, not the meta-tools']);
    const allowed = stateless(ctx) ? isPinned(name) || visible(ctx).some((t) => t.name === name) : callable(ctx, name);
    if (!allowed) throw new GatehouseError('GH_ERR_TOOL_NOT_FOUND', [name]);
    const nested: JsonObject = { name };
    if (toolArgs !== undefined) nested.arguments = toolArgs;
    if (outer._meta !== undefined) nested._meta = outer._meta;
    granted.add(nested);
    return { action: 'respond', value: await ctx.dispatch('tools/call', nested) };
  }

  const request: Stage = {
    name: REQUEST_STAGE,
    onRequest(ctx, params) {
      if (ctx.method !== 'tools/call' || params === undefined) return CONTINUE;
      if (granted.has(params)) {
        granted.delete(params);
        return CONTINUE;
      }
      const name = params.name;
      if (typeof name !== 'string') return CONTINUE; // the router answers the malformed call
      if (isMeta(name)) {
        const args = params.arguments ?? {};
        if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new GatehouseError('GH_ERR_RPC_INVALID_PARAMS', ['tools/call "arguments" must be an object']);
        return name === SEARCH_TOOL ? search(ctx, args as JsonObject) : callTool(ctx, args as JsonObject, params);
      }
      if (callable(ctx, name)) return CONTINUE;
      return { action: 'reject', error: new GatehouseError('GH_ERR_TOOL_NOT_FOUND', [name]) };
    },
    onSessionEnd(sessionId) {
      found.end(sessionId);
    },
  };

  const list: Stage = {
    name: LIST_STAGE,
    onList(ctx, kind, items) {
      if (kind !== 'tools') return items;
      const set = stateless(ctx) ? undefined : found.of(ctx.sessionId);
      const kept = items.filter((t) => !isMeta(t.name) && (isPinned(t.name as string) || set?.has(t.name as string) === true));
      return [...kept, ...metaTools];
    },
  };

  return { request, list };
}

function toolError(text: string): RequestVerdict {
  return { action: 'respond', value: { content: [{ type: 'text', text }], isError: true } };
}

function render(query: string, tools: readonly JsonObject[]): string {
  if (tools.length === 0) return `No tools match "${query}". Try other words.`;
  const lines = tools.map((t, i) => {
    const description = ((t.description as string).split('\n')[0] ?? '').slice(0, 160);
    return `${i + 1}. ${t.name as string}${description ? ` — ${description}` : ''}`;
  });
  return `Tools for "${query}" (call them directly or through call_tool):\n${lines.join('\n')}`;
}

function defaultSearcher(options: ToolSearchOptions): ToolSearcher {
  const { config, servers = {}, separator = '__', embedders } = options;
  if (config.ranker === 'hybrid' && config.embedder !== undefined && embedders !== undefined) {
    const labels = { virtual_server: options.virtualServer ?? '' };
    return createHybridSearcher(servers, separator, embedders.get(config.embedder), {
      serverFirst: config.serverFirst,
      onPending: (n) => options.metrics?.toolSearchPendingEmbeddings.set(labels, n),
    });
  }
  return createRankerSearcher(servers, separator, { serverFirst: config.serverFirst });
}
