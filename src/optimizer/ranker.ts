// Full-text ranking of a tool catalog (issue 6). BM25 via MiniSearch over per-field text, a server-first pass, and
// reciprocal rank fusion of the two. The catalog changes one upstream at a time (tools/list_changed), so updates
// replace that upstream's tools in place rather than rebuilding the index.
import MiniSearch, { type SearchResult } from 'minisearch';
import { splitIdentifier, splitSegments, tokenize } from './tokenize.ts';

export interface CatalogTool {
  /** The name a session calls the tool by; unique in the catalog. */
  name: string;
  /** The upstream's own name for the tool, when `name` carries a namespace prefix. Indexed instead of `name`. */
  upstreamName?: string;
  description?: string;
  inputSchema: { properties?: Record<string, unknown> } & Record<string, unknown>;
  upstream: string;
  serverTitle?: string;
  serverDescription?: string;
  tags?: string[];
}

export interface Ranked {
  name: string;
  score: number;
}

export interface RankerOptions {
  /** Servers kept by the server-first pass. */
  topServers?: number;
  /**
   * Fuse a server-first pass into `search` (default off: on LiveMCPBench it cost ~3 points of Hit@10, since the
   * tools a task needs often span servers; `npm run bench:context` prints both).
   */
  serverFirst?: boolean;
  /** Weight of the server-first list against the flat one (1) in the fusion. */
  serverFirstWeight?: number;
  /** Per-field BM25 weights (name, description, params, tags, server). */
  fieldWeights?: Partial<typeof TOOL_BOOST>;
  /** BM25+ parameters (MiniSearch's `k`, `b`, `d`). */
  bm25?: { k: number; b: number; d: number };
  /**
   * Exponent on the number of distinct query terms a tool matches, which multiplies its score (MiniSearch's own
   * coordination factor is that count to the power 1). Below 1 a long query's common words weigh less against one
   * rare, telling word; 0.5–0.8 was a plateau on both LiveMCPBench query sets, 0 or 1.5 lost on one of them.
   */
  coordination?: number;
  /**
   * Most clauses of a multi-step request searched on their own (see `splitClauses` in tokenize.ts); 0 or 1 turns decomposition off.
   * A query with one clause ranks as without decomposition.
   */
  maxClauses?: number;
  /**
   * Share of the results that keep the whole query's order before the clauses' rankings are interleaved in. On
   * LiveMCPBench's user tasks (limit 10) 0.3–0.7 was a plateau (Recall@10 +1.9, Hit@10 +3.2, nDCG@10 +0.7; 0 lost
   * nDCG); the agent queries are one clause each, so they rank as before.
   */
  clauseHead?: number;
  /**
   * Pseudo-relevance feedback (see `feedbackTerms`); off when absent or `weight` is 0. Off by default: on LiveMCPBench
   * (docs 3–10, terms 5–20, weight 0.1–0.5) it lost 1–9 points of agent Hit@5 everywhere and moved the user tasks by
   * under a point; the tools' texts are short, so the top tools' other words drift more than they help.
   */
  feedback?: FeedbackOptions;
  /**
   * Extra weight of a query term by its rarity: (idf / most idf) ^ termWeight multiplies its BM25 score; 0 = off (the
   * default). BM25's own IDF already does this: 0.5–3 lost 2–9 points of agent Hit@5 on LiveMCPBench.
   */
  termWeight?: number;
}

export interface FeedbackOptions {
  /** Top tools of the first pass whose text is read. */
  docs: number;
  /** Expansion terms kept. */
  terms: number;
  /** Weight of the expansion terms' ranking against the query's (both scaled to a best score of 1). */
  weight: number;
}

interface ToolDoc {
  id: string;
  upstream: string;
  name: string;
  description: string;
  params: string;
  tags: string;
  server: string;
}

interface ServerDoc {
  id: string;
  server: string;
  tools: string;
}

// Field weights: the name and the server say what a tool is; the parameter text mostly how it is called. The server
// field (the upstream's name, title and description, shared by its tools) weighs as much as the name: a task names the
// service ("on arXiv", "in a PPT") more often than the operation. 2–4 was a plateau on both LiveMCPBench query sets
// (server 1 → 3: agent Hit@5 +3, task Recall@10 +4); 6 lost on the agent queries.
const TOOL_BOOST = { name: 3, description: 2, tags: 1.5, server: 3, params: 0.5 };
const SERVER_BOOST = { server: 2, tools: 1 };
/** Index terms a clause needs to be searched on its own: one word says too little about a step. */
const MIN_CLAUSE_TERMS = 2;
/** Reciprocal rank fusion constant (Cormack et al. 2009). */
export const RRF_K = 60;

const analyse = { tokenize, processTerm: (term: string) => term };

function paramText(schema: CatalogTool['inputSchema']): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    parts.push(splitIdentifier(key));
    if (value !== null && typeof value === 'object' && typeof (value as { description?: unknown }).description === 'string') {
      parts.push((value as { description: string }).description);
    }
  }
  return parts.join('\n');
}

function serverText(tool: CatalogTool): string {
  return [splitIdentifier(tool.upstream), tool.serverTitle ?? '', tool.serverDescription ?? ''].join('\n');
}

/**
 * Fuses ranked lists: each item scores Σ weight / (k + rank), weights default to 1. Items missing from a list get
 * nothing from it.
 */
export function reciprocalRankFusion(
  lists: readonly (readonly Ranked[])[],
  limit: number,
  { k = RRF_K, weights = [] }: { k?: number; weights?: readonly number[] } = {},
): Ranked[] {
  const scores = new Map<string, number>();
  lists.forEach((list, l) => {
    const weight = weights[l] ?? 1;
    list.forEach((item, index) => scores.set(item.name, (scores.get(item.name) ?? 0) + weight / (k + index + 1)));
  });
  return [...scores]
    .map(([name, score]) => ({ name, score }))
    .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1))
    .slice(0, limit);
}

export class Ranker {
  readonly #tools: MiniSearch<ToolDoc>;
  readonly #servers: MiniSearch<ServerDoc>;
  readonly #boost: typeof TOOL_BOOST;
  readonly #byUpstream = new Map<string, CatalogTool[]>();
  readonly #topServers: number;
  readonly #serverFirst: boolean;
  readonly #serverFirstWeight: number;
  readonly #coordination: number;
  readonly #maxClauses: number;
  readonly #clauseHead: number;
  readonly #feedback: FeedbackOptions | undefined;
  readonly #termWeight: number;
  /** Each tool's index terms with their field-weighted, length-normalised frequency: what feedback reads. */
  readonly #termsOf = new Map<string, Map<string, number>>();
  /** Tools that hold each term (document frequency), for the IDF of feedback terms and of `termWeight`. */
  readonly #df = new Map<string, number>();

  constructor(tools: Iterable<CatalogTool> = [], options: RankerOptions = {}) {
    this.#topServers = options.topServers ?? 3;
    this.#serverFirst = options.serverFirst ?? false;
    this.#serverFirstWeight = options.serverFirstWeight ?? 0.3;
    this.#coordination = options.coordination ?? 0.7;
    this.#maxClauses = options.maxClauses ?? 4;
    this.#clauseHead = options.clauseHead ?? 0.5;
    this.#boost = { ...TOOL_BOOST, ...options.fieldWeights };
    this.#termWeight = options.termWeight ?? 0;
    this.#feedback = options.feedback !== undefined && options.feedback.weight > 0 ? options.feedback : undefined;
    const searchOptions = options.bm25 ? { bm25: options.bm25 } : {};
    this.#tools = new MiniSearch<ToolDoc>({
      fields: ['name', 'description', 'params', 'tags', 'server'],
      storeFields: ['upstream'],
      ...analyse,
      searchOptions,
    });
    this.#servers = new MiniSearch<ServerDoc>({ fields: ['server', 'tools'], ...analyse, searchOptions });
    for (const [upstream, list] of Map.groupBy(tools, (tool) => tool.upstream)) this.setUpstream(upstream, list);
  }

  get size(): number {
    return this.#tools.documentCount;
  }

  /** Replaces every tool of one upstream (an empty list removes the upstream). */
  setUpstream(upstream: string, tools: readonly CatalogTool[]): void {
    this.removeUpstream(upstream);
    if (tools.length === 0) return;
    const own = tools.map((tool) => ({ ...tool, upstream }));
    this.#byUpstream.set(upstream, own);
    const docs = own.map(toToolDoc);
    this.#tools.addAll(docs);
    this.#servers.add(toServerDoc(upstream, own));
    if (this.#feedback !== undefined || this.#termWeight > 0) for (const doc of docs) this.#addTerms(doc);
  }

  removeUpstream(upstream: string): void {
    const previous = this.#byUpstream.get(upstream);
    if (previous === undefined) return;
    this.#tools.discardAll(previous.map((tool) => tool.name));
    for (const tool of previous) this.#removeTerms(tool.name);
    this.#servers.discard(upstream);
    this.#byUpstream.delete(upstream);
  }

  /** BM25 over the tools alone. */
  searchFlat(query: string, limit: number): Ranked[] {
    return this.#rank(this.#searchTools(query), limit);
  }

  #searchTools(query: string, filter?: (hit: SearchResult) => boolean) {
    const boostTerm = this.#termWeight > 0 ? this.#rarity() : undefined;
    return this.#tools.search(query, { boost: this.#boost, combineWith: 'OR', ...(filter ? { filter } : {}), ...(boostTerm ? { boostTerm } : {}) });
  }

  #rarity(): (term: string) => number {
    const n = this.size;
    const most = Math.log(1 + n);
    const power = this.#termWeight;
    return (term) => (Math.log(1 + n / (this.#df.get(term) ?? 1)) / most) ** power;
  }

  /** Re-weights MiniSearch's coordination factor (score × matched terms) to matched terms ^ `coordination`. */
  #rank(hits: readonly { id: unknown; score: number; queryTerms: string[] }[], limit: number): Ranked[] {
    const power = this.#coordination - 1;
    const ranked = hits.map((hit) => ({ name: hit.id as string, score: hit.score * hit.queryTerms.length ** power }));
    if (power !== 0) ranked.sort((a, b) => b.score - a.score);
    return ranked.slice(0, limit);
  }

  /** Servers ranked by BM25 over their title, description and their tools' names and descriptions. */
  searchServers(query: string, limit: number): Ranked[] {
    return this.#servers
      .search(query, { boost: SERVER_BOOST, combineWith: 'OR' })
      .slice(0, limit)
      .map((hit) => ({ name: hit.id as string, score: hit.score }));
  }

  /** Tools of the top servers, in flat BM25 order. */
  searchServerFirst(query: string, limit: number): Ranked[] {
    const servers = new Set(this.searchServers(query, this.#topServers).map((s) => s.name));
    const filter = (hit: SearchResult) => servers.has(hit.upstream as string);
    return this.#rank(this.#searchTools(query, filter), limit);
  }

  /**
   * The ranking served to sessions: flat BM25 (fused with the server-first pass when that is on). A request with
   * several steps ("find the trending repositories, then write an intro to a Markdown file") is also searched clause
   * by clause: the whole query's best results come first, then each clause's ranking and the whole query's take turns,
   * so that a step whose words are outnumbered in the whole query still gets a place in the top `limit`.
   */
  search(query: string, limit: number): Ranked[] {
    const depth = Math.max(limit, 50);
    const segments = this.#maxClauses > 1 ? splitSegments(query) : [];
    const terms = segments.map((segment) => tokenize(segment).length);
    if (terms.filter((n) => n >= MIN_CLAUSE_TERMS).length < 2) {
      return this.#withFeedback(query, this.#searchWhole(query, this.searchFlat(query, depth), depth), depth).slice(0, limit);
    }
    // Each piece is searched once; the whole query's BM25 is the sum of its pieces' (every term scores on its own, and
    // the pieces' terms are the query's), so decomposing costs about what one search of the whole query does.
    const hitsOf = segments.map((segment, i) => (terms[i] > 0 ? this.#searchTools(segment) : []));
    const whole = this.#withFeedback(query, this.#searchWhole(query, this.#combine(hitsOf, depth), depth), depth);
    // A clause needs only its first `limit` results: the interleave never takes more from one list.
    const perClause = hitsOf
      .filter((_, i) => terms[i] >= MIN_CLAUSE_TERMS)
      .slice(0, this.#maxClauses)
      .map((hits) => this.#rank(hits, limit));
    return interleave([whole, ...perClause], limit, Math.floor(limit * this.#clauseHead));
  }

  /**
   * Pseudo-relevance feedback (Rocchio / RM3 style): the words that weigh most in the first pass's top tools, and are
   * rare in the catalog, are searched too, and that ranking is blended into the first. A query that says "slides"
   * reaches the tools that say "presentation" through the tools that say both.
   */
  #withFeedback(query: string, first: Ranked[], depth: number): Ranked[] {
    const feedback = this.#feedback;
    if (feedback === undefined || first.length === 0) return first;
    const expansion = feedbackTerms(first.slice(0, feedback.docs), this.#termsOf, this.#df, this.size, new Set(tokenize(query)), feedback.terms);
    if (expansion.size === 0) return first;
    const hits = this.#tools.search([...expansion.keys()].join(' '), {
      boost: this.#boost,
      combineWith: 'OR',
      tokenize: (text) => text.split(' '),
      processTerm: (term) => term,
      boostTerm: (term) => expansion.get(term) ?? 1,
    });
    const firstBest = first[0].score || 1;
    const hitsBest = hits[0]?.score || 1;
    const scores = new Map<string, number>();
    for (const item of first) scores.set(item.name, item.score / firstBest);
    for (const hit of hits) scores.set(hit.id as string, (scores.get(hit.id as string) ?? 0) + (feedback.weight * hit.score) / hitsBest);
    return [...scores]
      .map(([name, score]) => ({ name, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, depth);
  }

  #addTerms(doc: ToolDoc): void {
    const weights = new Map<string, number>();
    let total = 0;
    for (const field of ['name', 'description', 'params', 'tags', 'server'] as const) {
      const boost = this.#boost[field];
      for (const term of tokenize(doc[field])) {
        weights.set(term, (weights.get(term) ?? 0) + boost);
        total += boost;
      }
    }
    for (const [term, weight] of weights) {
      weights.set(term, weight / total);
      this.#df.set(term, (this.#df.get(term) ?? 0) + 1);
    }
    this.#termsOf.set(doc.id, weights);
  }

  #removeTerms(name: string): void {
    const weights = this.#termsOf.get(name);
    if (weights === undefined) return;
    this.#termsOf.delete(name);
    for (const term of weights.keys()) {
      const n = (this.#df.get(term) ?? 1) - 1;
      if (n > 0) this.#df.set(term, n);
      else this.#df.delete(term);
    }
  }

  /** The flat ranking of a query from its pieces' hits, as one search of the whole query would score it. */
  #combine(hitsOf: readonly (readonly SearchResult[])[], limit: number): Ranked[] {
    // Distinct matched terms per tool: the first piece's array as is (pieces rarely share a term), copied on merge.
    const sums = new Map<string, { raw: number; terms: readonly string[] }>();
    for (const hits of hitsOf) {
      for (const hit of hits) {
        // MiniSearch's score is the sum over matched terms times the number of distinct query terms matched.
        const raw = hit.score / (hit.queryTerms.length || 1);
        const sum = sums.get(hit.id as string);
        if (sum === undefined) sums.set(hit.id as string, { raw, terms: hit.queryTerms });
        else {
          sum.raw += raw;
          const added = hit.queryTerms.filter((term) => !sum.terms.includes(term));
          if (added.length > 0) sum.terms = [...sum.terms, ...added];
        }
      }
    }
    const power = this.#coordination;
    const ranked: Ranked[] = [];
    for (const [name, { raw, terms }] of sums) ranked.push({ name, score: raw * (terms.length || 1) ** power });
    return ranked.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  #searchWhole(query: string, flat: Ranked[], depth: number): Ranked[] {
    if (!this.#serverFirst) return flat;
    return reciprocalRankFusion([flat, this.searchServerFirst(query, depth)], depth, {
      weights: [1, this.#serverFirstWeight],
    });
  }
}

/**
 * The first `head` items of the first list, then one new item from each list in turn (round robin: the other lists
 * first, the first list last) until `limit`.
 * Scores are clamped to be non-increasing, so the order stays the score order for callers that show scores.
 */
export function interleave(lists: readonly (readonly Ranked[])[], limit: number, head = 0): Ranked[] {
  const out: Ranked[] = [];
  const seen = new Set<string>();
  const take = (item: Ranked) => {
    seen.add(item.name);
    const score = out.length === 0 ? item.score : Math.min(item.score, out[out.length - 1].score);
    out.push({ name: item.name, score });
  };
  for (const item of (lists[0] ?? []).slice(0, head)) if (out.length < limit && !seen.has(item.name)) take(item);
  const next = lists.map((_, l) => (l === 0 ? Math.min(head, lists[0].length) : 0));
  for (let progress = true; progress && out.length < limit; ) {
    progress = false;
    for (let turn = 1; turn <= lists.length && out.length < limit; turn++) {
      const l = turn % lists.length;
      const list = lists[l];
      while (next[l] < list.length && seen.has(list[next[l]].name)) next[l]++;
      if (next[l] === list.length) continue;
      take(list[next[l]++]);
      progress = true;
    }
  }
  return out;
}

/**
 * Expansion terms from the top tools of a first pass: each term's share of a tool's (field-weighted) text, weighted by
 * the tool's share of the top scores, times the term's IDF in the catalog. Query terms are left out (they are searched
 * already). Returns term → weight, the best term weighing 1.
 */
export function feedbackTerms(
  top: readonly Ranked[],
  termsOf: ReadonlyMap<string, ReadonlyMap<string, number>>,
  df: ReadonlyMap<string, number>,
  size: number,
  exclude: ReadonlySet<string>,
  count: number,
): Map<string, number> {
  const total = top.reduce((sum, item) => sum + item.score, 0) || 1;
  const relevance = new Map<string, number>();
  for (const item of top) {
    const share = item.score / total;
    for (const [term, weight] of termsOf.get(item.name) ?? []) {
      if (exclude.has(term)) continue;
      relevance.set(term, (relevance.get(term) ?? 0) + share * weight);
    }
  }
  const scored = [...relevance].map(([term, r]) => [term, r * Math.log(1 + size / (df.get(term) ?? 1))] as const);
  scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = scored.slice(0, count);
  const best = kept[0]?.[1] || 1;
  return new Map(kept.map(([term, w]) => [term, w / best]));
}

function toToolDoc(tool: CatalogTool): ToolDoc {
  return {
    id: tool.name,
    upstream: tool.upstream,
    name: splitIdentifier(tool.upstreamName ?? tool.name),
    description: tool.description ?? '',
    params: paramText(tool.inputSchema),
    tags: (tool.tags ?? []).join('\n'),
    server: serverText(tool),
  };
}

function toServerDoc(upstream: string, tools: readonly CatalogTool[]): ServerDoc {
  const first = tools[0];
  return {
    id: upstream,
    server: serverText(first),
    tools: tools.map((t) => `${splitIdentifier(t.upstreamName ?? t.name)}\n${t.description ?? ''}`).join('\n'),
  };
}
