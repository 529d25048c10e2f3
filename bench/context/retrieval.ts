// The ranking methods side by side, in process (npm run bench:context:methods): what each ranker of src/optimizer
// would give on the same data, to choose defaults. The figures a client sees come from bench/context/gateway.ts.
//   node bench/context/retrieval.ts [--data DIR] [--no-embeddings]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { clean, DEFAULT_DATA, hitAt, loadData, mean, padCatalog, pct, quantile, taskScores as scoreTask } from './data.ts';
import type { ToolRow } from './data.ts';
import { type Embedder, EmbeddingRanker, LocalEmbedder } from '../../src/optimizer/embedder.ts';
import { HybridRanker } from '../../src/optimizer/hybrid.ts';
import { type CatalogTool, type Ranked, Ranker, reciprocalRankFusion } from '../../src/optimizer/ranker.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    'no-embeddings': { type: 'boolean', default: false },
  },
});
const DATA = args.data;
const withEmbeddings = !args['no-embeddings'];

const data = loadData(DATA);
const rows = data.tools;
const toCatalogTool = (r: ToolRow): CatalogTool => ({
  name: r.id,
  upstreamName: r.name,
  description: r.description,
  inputSchema: r.inputSchema,
  upstream: r.server,
  serverTitle: r.server_title,
  serverDescription: r.server_description,
  tags: [r.category],
});
const catalog: CatalogTool[] = rows.map(toCatalogTool);
const toolName = new Map(rows.map((r) => [r.id, r.name]));
const { tasks, routes, mcpBench } = data;

const names = (ranked: Ranked[]) => ranked.map((r) => r.name);
const hit = (ranked: Ranked[], gold: Set<string>, k: number) => hitAt(names(ranked), gold, k);
const taskScores = (ranked: Ranked[], goldNames: Set<string>, k: number) => scoreTask(names(ranked), goldNames, k, (id) => toolName.get(id) ?? id);

// ---- rankers ---------------------------------------------------------------------------------------------------
type Search = (query: string, limit: number) => Promise<Ranked[]>;

const bm25 = new Ranker(catalog);
const bm25Servers = new Ranker(catalog, { serverFirst: true });
/** The whole query only, without searching a multi-step request clause by clause (the default before). */
const bm25Whole = new Ranker(catalog, { maxClauses: 0 });
const methods: Record<string, Search> = {
  bm25: async (q, n) => bm25.search(clean(q), n),
  'bm25-whole': async (q, n) => bm25Whole.search(clean(q), n),
  'bm25+srv': async (q, n) => bm25Servers.search(clean(q), n),
};
/** BM25 is the sharper ranker with the small offline model, so the embedding list weighs half in the fusion. */
const FUSION_WEIGHTS = [1, 0.5];
let embedding: EmbeddingRanker | undefined;
let embedder: Embedder | undefined;
/** Tool text → vector, kept so the padded catalog can reuse real vectors. */
let cache: Map<string, Float32Array> | undefined;
if (withEmbeddings) {
  const local = new LocalEmbedder();
  const c = (cache = new Map<string, Float32Array>());
  embedder = {
    embed: async (texts) => {
      const vectors = await local.embed(texts);
      texts.forEach((text, i) => c.set(text, vectors[i]));
      return vectors;
    },
  };
  embedding = new EmbeddingRanker(embedder);
  const t0 = performance.now();
  for (const [upstream, tools] of Map.groupBy(catalog, (t) => t.upstream)) await embedding.setUpstream(upstream, tools);
  console.log(`embedded ${embedding.size} tools in ${Math.round(performance.now() - t0)} ms (USE, offline)`);
  const emb = embedding;
  // The indexes are already built; HybridRanker only fuses what the two rankers return (its defaults: depth, weights).
  const hybrid = new HybridRanker(bm25, emb);
  methods.embeddings = async (q, n) => emb.search(clean(q), n);
  methods.fused = async (q, n) => hybrid.search(clean(q), n);
}

// ---- server routing (MCP-Bench: gold servers among the task's own candidates: gold + 10 distractors) ------------
// MCP-Bench ships no tool definitions, so a server's profile is its name plus every tool name the tasks mention for
// it (the closest thing to its tools/list the data holds). Fuzzy descriptions are the queries (they name no tools).
const serverTools = new Map<string, Set<string>>();
for (const row of mcpBench) {
  for (const s of [...row.gold_servers, ...row.distraction_servers]) if (!serverTools.has(s)) serverTools.set(s, new Set());
  for (const mention of row.tool_mentions) {
    const [server, tool] = mention.split('::');
    serverTools.get(server)?.add(tool);
  }
}
const serverCatalog: CatalogTool[] = [...serverTools].flatMap(([server, tools]) =>
  (tools.size > 0 ? [...tools] : [server]).map((tool) => ({
    name: `${server}::${tool}`,
    upstreamName: tool,
    inputSchema: {},
    upstream: server,
    serverTitle: server,
  })),
);
const serverRanker = new Ranker(serverCatalog);
const serverVectors = new Map<string, Float32Array>();
if (embedder) {
  const names = [...serverTools.keys()];
  const texts = names.map((s) => `${s}. ${[...serverTools.get(s)!].join(', ')}`);
  const vectors = await embedder.embed(texts);
  names.forEach((s, i) => serverVectors.set(s, unit(vectors[i])));
}
function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}
const serverMethods: Record<string, (q: string, candidates: Set<string>) => Promise<Ranked[]>> = {
  bm25: async (q, c) => serverRanker.searchServers(q, 100).filter((s) => c.has(s.name)),
};
serverMethods['bm25+srv'] = serverMethods.bm25;
serverMethods['bm25-whole'] = serverMethods.bm25;
if (embedder) {
  const e = embedder;
  const byVector = async (q: string, c: Set<string>) => {
    const [raw] = await e.embed([q]);
    const qv = unit(raw);
    return [...c]
      .map((name) => ({ name, score: serverVectors.get(name)!.reduce((acc, x, i) => acc + x * qv[i], 0) }))
      .sort((a, b) => b.score - a.score);
  };
  serverMethods.embeddings = byVector;
  serverMethods.fused = async (q, c) => {
    const lexical = await serverMethods.bm25(q, c);
    // Candidates BM25 did not match at all still take part, behind the matched ones.
    const rest = [...c].filter((s) => !lexical.some((l) => l.name === s)).map((name) => ({ name, score: 0 }));
    return reciprocalRankFusion([[...lexical, ...rest], await byVector(q, c)], 100, { weights: FUSION_WEIGHTS });
  };
}

// ---- latency at 5,000 tools: the catalog padded with recombined real tools (data.ts, as the gateway run pads it)

// ---- run ---------------------------------------------------------------------------------------------------------
const figures: Record<string, Record<string, number>> = {};
console.log('Gatehouse context bench — retrieval (ranker measured directly, in process; not yet through the gateway)');
console.log(`catalog: ${catalog.length} tools / ${new Set(catalog.map((t) => t.upstream)).size} servers (LiveMCPBench)`);
console.log(`agent queries: ${routes.length}; user tasks: ${tasks.length}; MCP-Bench tasks: ${mcpBench.length}\n`);

for (const [method, search] of Object.entries(methods)) {
  const agentHit: number[] = [];
  for (const r of routes) agentHit.push(hit(await search(r.route_query, 5), new Set(r.executed_next), 5));
  const per = [];
  for (const t of tasks) per.push(taskScores(await search(t.query, 10), new Set(t.gold_tool_names), 10));
  const routing: number[] = [];
  const routingRecall: number[] = [];
  for (const row of mcpBench) {
    const candidates = new Set([...row.gold_servers, ...row.distraction_servers]);
    const top = (await serverMethods[method](row.query_fuzzy, candidates)).slice(0, 3).map((s) => s.name);
    routing.push(row.gold_servers.some((g) => top.includes(g)) ? 1 : 0);
    routingRecall.push(row.gold_servers.filter((g) => top.includes(g)).length / row.gold_servers.length);
  }
  figures[method] = {
    agentHit5: pct(mean(agentHit)),
    taskRecall10: pct(mean(per.map((p) => p.recall))),
    taskHit10: pct(mean(per.map((p) => p.hit))),
    taskNdcg10: pct(mean(per.map((p) => p.ndcg))),
    serverHit3: pct(mean(routing)),
    serverRecall3: pct(mean(routingRecall)),
  };
}

// Tokens: the full tools/list against what a search-mode session sees (no pinned tools here, two meta-tools, top 10).
const definition = (t: CatalogTool) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema });
const metaTools = [
  {
    name: 'search_tools',
    description: 'Search the tools available through this gateway. Returns the best matches with their input schemas; found tools become callable.',
    inputSchema: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'number', default: 5 } }, required: ['query'] },
  },
  {
    name: 'call_tool',
    description: 'Call a tool found with search_tools, by name, with its arguments.',
    inputSchema: { type: 'object', properties: { name: { type: 'string' }, arguments: { type: 'object' } }, required: ['name'] },
  },
];
const byName = new Map(catalog.map((t) => [t.name, t]));
const fullTokens = countTokens(JSON.stringify({ tools: catalog.map(definition) }));
const bestMethod = methods.fused ? 'fused' : 'bm25';
const sessionTokens: number[] = [];
for (const t of tasks) {
  const top = (await methods[bestMethod](t.query, 10)).map((r) => definition(byName.get(r.name)!));
  sessionTokens.push(countTokens(JSON.stringify({ tools: [...metaTools, ...top] })));
}
const tokens = { full: fullTokens, session: Math.round(mean(sessionTokens)), savedPct: pct(1 - mean(sessionTokens) / fullTokens) };

// Latency.
const big = [...catalog, ...padCatalog(rows, 5000).map(toCatalogTool)];
const bigRanker = new Ranker(big);
const bigRankerServers = new Ranker(big, { serverFirst: true });
const queries = [...routes.map((r) => clean(r.route_query)), ...tasks.map((t) => t.query)];
const latency: Record<string, Record<string, number>> = {};
const time = async (fn: (q: string) => unknown) => {
  for (const q of queries.slice(0, 20)) await fn(q); // warm up
  const ms: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await fn(q);
    ms.push(performance.now() - t0);
  }
  return { p50: Math.round(quantile(ms, 0.5) * 100) / 100, p95: Math.round(quantile(ms, 0.95) * 100) / 100 };
};
const bigRankerWhole = new Ranker(big, { maxClauses: 0 });
latency.bm25 = await time((q) => bigRanker.search(q, 10));
latency['bm25-whole'] = await time((q) => bigRankerWhole.search(q, 10));
latency['bm25+srv'] = await time((q) => bigRankerServers.search(q, 10));
if (embedder && cache) {
  // Padded tools get the mean of two real tools' vectors rather than a fresh embedding (USE on a CPU needs minutes
  // for 4,500 texts): a cosine scan costs the same whatever the vectors hold. Queries are embedded for real.
  const real = [...cache.values()];
  let padding = true;
  const e = embedder;
  const c = cache;
  const padEmbedder = {
    embed: async (texts: string[]) =>
      padding
        ? texts.map((text, i) => c.get(text) ?? real[i % real.length].map((x, j) => (x + real[(i * 7 + 3) % real.length][j]) / 2))
        : e.embed(texts),
  };
  // No query cache here: every timed search embeds its query, as a first search would.
  const bigEmbedding = new EmbeddingRanker(padEmbedder, { queryCache: 0 });
  for (const [upstream, tools] of Map.groupBy(big, (t) => t.upstream)) await bigEmbedding.setUpstream(upstream, tools);
  padding = false;
  latency.embeddings = await time((q) => bigEmbedding.search(q, 10));
  const bigHybrid = new HybridRanker(bigRanker, bigEmbedding);
  latency.fused = await time((q) => bigHybrid.search(q, 10));
}

// ---- report ------------------------------------------------------------------------------------------------------
const goal = (value: number, target: number, unit = '', higher = true) =>
  `${value}${unit} ${(higher ? value >= target : value <= target) ? '✓' : '✗'}`;
for (const [method, f] of Object.entries(figures)) {
  console.log(
    `${method.padEnd(10)} agent Hit@5 ${goal(f.agentHit5, 85, '%')} | tasks Recall@10 ${goal(f.taskRecall10, 60, '%')} ` +
      `Hit@10 ${goal(f.taskHit10, 85, '%')} nDCG@10 ${goal(f.taskNdcg10, 45)} | servers Hit@3 ${goal(f.serverHit3, 90, '%')} ` +
      `(Recall@3 ${f.serverRecall3}%) | p95 at 5,000 tools ${goal(latency[method]?.p95 ?? NaN, 20, ' ms', false)}`,
  );
}
console.log(
  `tokens (o200k, ${bestMethod}): full tools/list ${tokens.full}; session (2 meta-tools + top 10) ${tokens.session} ` +
    `on average; ${goal(tokens.savedPct, 95, '%')} fewer`,
);
console.log(
  'goals: agent Hit@5 >= 85%, Recall@10 >= 60%, Hit@10 >= 85%, nDCG@10 >= 45, server Hit@3 >= 90%, p95 <= 20 ms, ' +
    'tokens >= 95% fewer. Embedding latency includes embedding the query with USE on the CPU.',
);
console.log(JSON.stringify({ bench: 'context-retrieval', through: 'ranker-direct', figures, latency, tokens }));
