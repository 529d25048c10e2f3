// Ranking variants of issue 6 with two-fold cross-validation, in process, on the catalogs as the gateway indexes them
// (namespaced names, server title and description, one tag per catalog). Each family's parameter is chosen on one half
// of the queries (split by task id, so the agent queries of one task stay together) and reported on the other half.
//   node bench/context/methods-cv.ts [--data DIR] [--embeddings]
// The objective is agent Hit@5 + task Recall@10 + Hit@10 + nDCG@10, with server Hit@3 >= 90 as a constraint.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { clean, DEFAULT_DATA, hitAt, loadData, mcpBenchServers, mean, pct, taskScores } from './data.ts';
import type { ToolRow } from './data.ts';
import { type CatalogTool, type Ranked, Ranker, type RankerOptions, reciprocalRankFusion } from '../../src/optimizer/ranker.ts';
import { splitClauses } from '../../src/optimizer/tokenize.ts';

const { values: args } = parseArgs({ options: { data: { type: 'string', default: DEFAULT_DATA }, embeddings: { type: 'boolean', default: false } } });
const data = loadData(args.data);
const SEP = '__';
const upstreamName = (server: string) => server.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
const callName = (id: string) => `${upstreamName(id.split('::')[0])}${SEP}${id.split('::').slice(1).join('::')}`;
const half = (id: string) => createHash('sha1').update(id).digest()[0] & 1;
const taskId = (row: object) => (row as { task_id?: string }).task_id ?? '';

const live: CatalogTool[] = data.tools.map((r: ToolRow) => ({
  name: `${upstreamName(r.server)}${SEP}${r.name}`,
  upstreamName: r.name,
  description: r.description,
  inputSchema: r.inputSchema,
  upstream: upstreamName(r.server),
  serverTitle: r.server_title,
  serverDescription: r.server_description,
  tags: ['livemcpbench'],
}));
const mb: CatalogTool[] = [...mcpBenchServers(data.mcpBench)].flatMap(([server, tools]) =>
  tools.map((name) => ({ name: `${upstreamName(`mcpbench-${server}`)}${SEP}${name}`, upstreamName: name, inputSchema: {}, upstream: upstreamName(`mcpbench-${server}`), serverTitle: server, tags: ['mcpbench'] })),
);
const toolName = new Map(live.map((t) => [t.name, t.upstreamName!]));

type Search = (query: string, limit: number) => Ranked[] | Promise<Ranked[]>;
interface Figures { agent: number; recall: number; hit: number; ndcg: number; server: number }

async function evaluate(liveSearch: Search, mbSearch: Search): Promise<[Figures, Figures]> {
  const rows: { h: number; kind: 'agent' | 'task' | 'server'; v: number[] }[] = [];
  for (const r of data.routes) rows.push({ h: half(taskId(r)), kind: 'agent', v: [hitAt((await liveSearch(clean(r.route_query), 5)).map((x) => x.name), new Set(r.executed_next.map(callName)), 5)] });
  for (const t of data.tasks) {
    const s = taskScores((await liveSearch(t.query, 10)).map((x) => x.name), new Set(t.gold_tool_names), 10, (id) => toolName.get(id) ?? id);
    rows.push({ h: half(taskId(t)), kind: 'task', v: [s.recall, s.hit, s.ndcg] });
  }
  for (const row of data.mcpBench) {
    // As the gateway bench routes: the order in which the candidates' servers first appear among the top 50 tools.
    const candidates = new Set([...row.gold_servers, ...row.distraction_servers].map((s) => upstreamName(`mcpbench-${s}`)));
    const order: string[] = [];
    for (const tool of await mbSearch(row.query_fuzzy, 50)) {
      const upstream = tool.name.slice(0, tool.name.indexOf(SEP));
      if (candidates.has(upstream) && !order.includes(upstream)) order.push(upstream);
    }
    rows.push({ h: half(taskId(row)), kind: 'server', v: [row.gold_servers.some((g) => order.slice(0, 3).includes(upstreamName(`mcpbench-${g}`))) ? 1 : 0] });
  }
  const fig = (h: number): Figures => {
    const of = (kind: string, i: number) => pct(mean(rows.filter((r) => r.h === h && r.kind === kind).map((r) => r.v[i])));
    return { agent: of('agent', 0), recall: of('task', 0), hit: of('task', 1), ndcg: of('task', 2), server: of('server', 0) };
  };
  return [fig(0), fig(1)];
}

const objective = (f: Figures) => (f.server >= 90 ? f.agent + f.recall + f.hit + f.ndcg : -Infinity);
const fmt = (f: Figures) => `agent ${f.agent} | R@10 ${f.recall} H@10 ${f.hit} nDCG ${f.ndcg} | srv ${f.server}`;
const both = (o: RankerOptions) => ({ live: new Ranker(live, o), mb: new Ranker(mb, o) });

/** A family: a label per parameter setting and the searchers it builds for both catalogs. */
type Family = [string, () => { live: Search; mb: Search }][];
const ranker = (o: RankerOptions) => () => {
  const r = both(o);
  return { live: (q: string, n: number) => r.live.search(q, n), mb: (q: string, n: number) => r.mb.search(q, n) };
};
/** Wraps the default ranker's list: server-score smoothing, per-clause fusion, a per-server cap. */
function wrapped(post: (r: Ranker, q: string, n: number, upstreamOf: Map<string, string>) => Ranked[]) {
  return () => {
    const r = both({});
    const upstreamOf = new Map([...live, ...mb].map((t) => [t.name, t.upstream]));
    return { live: (q: string, n: number) => post(r.live, q, n, upstreamOf), mb: (q: string, n: number) => post(r.mb, q, n, upstreamOf) };
  };
}
const smoothing = (lambda: number) =>
  wrapped((r, q, n, upstreamOf) => {
    const base = r.search(q, Math.max(n, 50));
    const servers = r.searchServers(q, 100);
    const best = base[0]?.score || 1;
    const serverBest = servers[0]?.score || 1;
    const serverScore = new Map(servers.map((s) => [s.name, s.score / serverBest]));
    return base.map((x) => ({ name: x.name, score: x.score / best + lambda * (serverScore.get(upstreamOf.get(x.name)!) ?? 0) })).sort((a, b) => b.score - a.score).slice(0, n);
  });
const clauseFusion = (weight: number, k: number) =>
  wrapped((r, q, n) => {
    const clauses = splitClauses(q).slice(0, 4);
    if (clauses.length < 2) return r.search(q, n);
    return reciprocalRankFusion([r.searchFlat(q, 50), ...clauses.map((c) => r.searchFlat(c, 50))], n, { k, weights: [weight] });
  });
const serverCap = (cap: number) =>
  wrapped((r, q, n, upstreamOf) => {
    const kept: Ranked[] = [];
    const rest: Ranked[] = [];
    const count = new Map<string, number>();
    for (const x of r.search(q, 50)) {
      const s = upstreamOf.get(x.name)!;
      if ((count.get(s) ?? 0) >= cap || kept.length >= n) {
        rest.push(x);
        continue;
      }
      kept.push(x);
      count.set(s, (count.get(s) ?? 0) + 1);
    }
    return [...kept, ...rest].slice(0, n);
  });

const families: Record<string, Family> = {
  'pseudo-relevance feedback': [3, 5, 10].flatMap((docs) => [5, 10, 20].flatMap((terms) => [0.1, 0.2, 0.35, 0.5].map((weight) => [`docs ${docs} terms ${terms} weight ${weight}`, ranker({ feedback: { docs, terms, weight } })] as [string, () => { live: Search; mb: Search }]))),
  'query-term rarity weight': [0.5, 1, 1.5, 2, 3].map((w) => [`termWeight ${w}`, ranker({ termWeight: w })]),
  'BM25 k1, b': [0.6, 0.9, 1.2, 1.5, 2].flatMap((k) => [0.3, 0.5, 0.7, 0.9].map((b) => [`k1 ${k} b ${b}`, ranker({ bm25: { k, b, d: 0.5 } })] as [string, () => { live: Search; mb: Search }])),
  'server-score smoothing': [0.1, 0.2, 0.4].map((l) => [`lambda ${l}`, smoothing(l)]),
  'per-clause RRF (instead of interleave)': [1, 1.5, 2, 3].flatMap((w) => [10, 60].map((k) => [`whole weight ${w} k ${k}`, clauseFusion(w, k)] as [string, () => { live: Search; mb: Search }])),
  'per-server cap in the top k': [2, 3, 4].map((c) => [`cap ${c}`, serverCap(c)]),
};

if (args.embeddings) {
  const { EmbeddingRanker, LocalEmbedder } = await import('../../src/optimizer/embedder.ts');
  const { HybridRanker } = await import('../../src/optimizer/hybrid.ts');
  const embedder = new LocalEmbedder();
  const index = async (catalog: CatalogTool[]) => {
    const e = new EmbeddingRanker(embedder);
    for (const [u, tools] of Map.groupBy(catalog, (t) => t.upstream)) await e.setUpstream(u, tools);
    return e;
  };
  const semantic = { live: await index(live), mb: await index(mb) };
  const lexical = both({});
  families['hybrid (USE) depth, weight'] = [5, 10, 15, 20].flatMap((depth) =>
    [0.2, 0.3, 0.5].map((w) => [`depth ${depth} weight ${w}`, () => {
      const opts = { depth, weights: [1, w] as const };
      const hl = new HybridRanker(lexical.live, semantic.live, opts);
      const hm = new HybridRanker(lexical.mb, semantic.mb, opts);
      return { live: (q: string, n: number) => hl.search(q, n), mb: (q: string, n: number) => hm.search(q, n) };
    }] as [string, () => { live: Search; mb: Search }]),
  );
}

const base = ranker({})();
const [b0, b1] = await evaluate(base.live, base.mb);
console.log(`default   half 0: ${fmt(b0)}\n          half 1: ${fmt(b1)}`);
const report: Record<string, unknown> = { default: [b0, b1] };
for (const [family, settings] of Object.entries(families)) {
  const scored: { label: string; halves: [Figures, Figures] }[] = [];
  for (const [label, build] of settings) {
    const s = build();
    scored.push({ label, halves: await evaluate(s.live, s.mb) });
  }
  console.log(`\n${family}`);
  const chosen: unknown[] = [];
  for (const [pick, held] of [[0, 1], [1, 0]] as const) {
    const best = scored.reduce((a, b) => (objective(b.halves[pick]) > objective(a.halves[pick]) ? b : a));
    const baseHeld = held === 0 ? b0 : b1;
    console.log(`  chosen on half ${pick}: ${best.label}\n    half ${held} (held out): ${fmt(best.halves[held])}   default: ${fmt(baseHeld)}`);
    chosen.push({ chosenOn: pick, setting: best.label, heldOut: best.halves[held], defaultHeldOut: baseHeld });
  }
  report[family] = chosen;
}
console.log(JSON.stringify({ bench: 'context-methods-cv', report }));
