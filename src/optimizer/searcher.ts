/**
 * Searchers: rank a list of tools, as a session sees it, for a query (issue 6). The list's tools are kept in an index
 * per distinct list (policy can give principals different lists), updated one upstream at a time when the list
 * changes. Two kinds: BM25 alone (src/optimizer/ranker.ts), and hybrid, BM25 fused with an embedding ranker
 * (src/optimizer/hybrid.ts) once every tool of the list has its vector; until then hybrid answers with BM25.
 */
import type { JsonObject } from '../core/jsonrpc.ts';
import { EmbeddingRanker } from './embedder.ts';
import type { Embedder } from './embedder.ts';
import { HybridRanker } from './hybrid.ts';
import { Ranker } from './ranker.ts';
import type { CatalogTool, Ranked } from './ranker.ts';

/** Ranks a list of tools (as the session sees them) for a query. The search stage's one seam to a ranker. */
export interface ToolSearcher {
  search(tools: readonly JsonObject[], query: string, limit: number, upstreamOf: (tool: JsonObject) => string | null): Ranked[] | Promise<Ranked[]>;
}

/** A searcher that answers at once (BM25 needs no I/O). */
export interface SyncToolSearcher extends ToolSearcher {
  search(tools: readonly JsonObject[], query: string, limit: number, upstreamOf: (tool: JsonObject) => string | null): Ranked[];
}

/** What the ranker indexes about an upstream besides its tools. */
export interface ServerInfo {
  readonly title?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
}

/** Indexes kept: one per distinct list a principal sees. */
const MAX_INDEXES = 8;

interface IndexEntry {
  tools: readonly JsonObject[];
  lexical: Ranker;
  /** What the index holds, per upstream, to update only the upstreams whose tools changed. */
  groups: Map<string, JsonObject[]>;
  hybrid?: HybridRanker;
  /** Embedding updates still running, chained so that a later list of an upstream always lands last. */
  embedding: Promise<void>;
  pendingEmbeddings: number;
}

/**
 * The index cache shared by both kinds. An index is found by the list it was built from: the same array (no policy,
 * or nothing hidden) or the same items (a policy-filtered copy); a changed list updates the index used least recently.
 */
/** How the searchers rank, besides the embedder. */
export interface SearcherOptions {
  /** Fuse a server-first pass into BM25 (src/optimizer/ranker.ts, `serverFirst`). */
  readonly serverFirst?: boolean;
}

function createIndexes(
  servers: Readonly<Record<string, ServerInfo>>,
  separator: string,
  options: SearcherOptions,
  semantic?: () => EmbeddingRanker,
  onPending?: (count: number) => void,
) {
  const entries: IndexEntry[] = [];
  let pending = 0;
  const pendingChanged = (delta: number) => {
    pending += delta;
    onPending?.(pending);
  };

  function toCatalogTool(t: JsonObject, upstream: string): CatalogTool {
    const name = t.name as string;
    const server = servers[upstream];
    const prefix = `${upstream}${separator}`;
    const tool: CatalogTool = { name, upstream, inputSchema: (t.inputSchema as CatalogTool['inputSchema'] | undefined) ?? {} };
    if (name.startsWith(prefix) && name.length > prefix.length) tool.upstreamName = name.slice(prefix.length);
    if (typeof t.description === 'string') tool.description = t.description;
    if (server?.title !== undefined) tool.serverTitle = server.title;
    if (server?.description !== undefined) tool.serverDescription = server.description;
    if (server?.tags !== undefined) tool.tags = [...server.tags];
    return tool;
  }

  function sync(entry: IndexEntry, tools: readonly JsonObject[], upstreamOf: (t: JsonObject) => string | null): void {
    const groups = Map.groupBy(tools, (t) => upstreamOf(t) ?? '');
    for (const upstream of entry.groups.keys()) {
      if (groups.has(upstream)) continue;
      entry.lexical.removeUpstream(upstream);
      if (entry.hybrid) embed(entry, (hybrid) => hybrid.semantic.removeUpstream(upstream));
    }
    for (const [upstream, list] of groups) {
      const before = entry.groups.get(upstream);
      if (before !== undefined && sameItems(before, list)) continue;
      const catalogTools = list.map((t) => toCatalogTool(t, upstream));
      entry.lexical.setUpstream(upstream, catalogTools);
      if (entry.hybrid) embed(entry, (hybrid) => hybrid.semantic.setUpstream(upstream, catalogTools));
    }
    entry.groups = groups;
  }

  function embed(entry: IndexEntry, update: (hybrid: HybridRanker) => void | Promise<void>): void {
    entry.pendingEmbeddings++;
    pendingChanged(1);
    entry.embedding = entry.embedding
      .then(() => update(entry.hybrid!))
      .catch(() => {}) // an embedder that fails leaves the tools to BM25; the next list change tries again
      .finally(() => {
        entry.pendingEmbeddings--;
        pendingChanged(-1);
      });
  }

  return {
    /** Resolves once no embedding update is running in any index. */
    async idle(): Promise<void> {
      while (entries.some((e) => e.pendingEmbeddings > 0)) await Promise.all(entries.map((e) => e.embedding));
    },
    /** The index for `tools`, created or brought up to date. */
    indexFor(tools: readonly JsonObject[], upstreamOf: (t: JsonObject) => string | null): IndexEntry {
      let at = entries.findIndex((e) => e.tools === tools || sameItems(e.tools, tools));
      if (at < 0) {
        if (entries.length < MAX_INDEXES) {
          const lexical = new Ranker([], { serverFirst: options.serverFirst ?? false });
          const entry: IndexEntry = { tools: [], lexical, groups: new Map(), embedding: Promise.resolve(), pendingEmbeddings: 0 };
          if (semantic) entry.hybrid = new HybridRanker(lexical, semantic());
          entries.push(entry);
        }
        at = entries.length - 1;
        sync(entries[at], tools, upstreamOf);
      }
      const [entry] = entries.splice(at, 1);
      entry.tools = tools;
      entries.unshift(entry);
      return entry;
    },
  };
}

/** BM25 over the tools, their upstream's title, description and tags. */
export function createRankerSearcher(servers: Readonly<Record<string, ServerInfo>>, separator: string, options: SearcherOptions = {}): SyncToolSearcher {
  const indexes = createIndexes(servers, separator, options);
  return {
    search(tools, query, limit, upstreamOf) {
      if (tools.length === 0) return [];
      return indexes.indexFor(tools, upstreamOf).lexical.search(query, limit);
    },
  };
}

/**
 * BM25 fused with cosine similarity over `embedder`'s vectors. Tools are embedded when their upstream's list
 * changes, off the request path; a search while some are still being embedded ranks with BM25 alone, so a new
 * upstream is findable at once and the fusion never favours the tools that happen to have vectors already.
 */
export function createHybridSearcher(
  servers: Readonly<Record<string, ServerInfo>>,
  separator: string,
  embedder: Embedder,
  options: SearcherOptions & {
    /** Told how many upstream lists are waiting for their vectors, whenever that changes. */
    onPending?: (count: number) => void;
  } = {},
): ToolSearcher & { idle(): Promise<void> } {
  const indexes = createIndexes(servers, separator, options, () => new EmbeddingRanker(embedder), options.onPending);
  return {
    idle: () => indexes.idle(),
    async search(tools, query, limit, upstreamOf) {
      if (tools.length === 0) return [];
      const entry = indexes.indexFor(tools, upstreamOf);
      if (entry.pendingEmbeddings > 0 || entry.hybrid === undefined) return entry.lexical.search(query, limit);
      try {
        return await entry.hybrid.search(query, limit);
      } catch {
        return entry.lexical.search(query, limit); // the embedder is down: BM25 still answers
      }
    },
  };
}

function sameItems(a: readonly JsonObject[], b: readonly JsonObject[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
