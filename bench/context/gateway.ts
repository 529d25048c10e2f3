// The context bench (issue 6), through the gateway: a real MCP upstream process (examples/catalog-http) serves the
// LiveMCPBench catalog, padding up to 5,000 tools and the MCP-Bench servers; a real gateway process federates them
// in search mode; the official SDK client asks search_tools. Everything measured is what a client would see.
//   node bench/context/gateway.ts [--data DIR] [--ranker bm25|hybrid] [--rounds N]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { clean, DEFAULT_DATA, hitAt, loadData, mcpBenchServers, mean, padCatalog, pct, quantile, taskScores } from './data.ts';
import type { ToolRow } from './data.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    ranker: { type: 'string', default: 'bm25' },
    rounds: { type: 'string', default: '3' },
    tools: { type: 'string', default: '5000' },
  },
});
const ROOT = resolve(import.meta.dirname, '../..');
const SEPARATOR = '__';
const rounds = Number(args.rounds);
const data = loadData(args.data);

// ---- the catalog the upstream serves ---------------------------------------------------------------------------
/** Upstream names in the gateway's config: letters, digits, "_", "-", "."; LiveMCPBench has "Ant Design Components". */
const upstreamName = (server: string) => server.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
const callName = (row: { server: string; name: string }) => `${upstreamName(row.server)}${SEPARATOR}${row.name}`;
const MB_PREFIX = 'mcpbench-';

const padding = padCatalog(data.tools, Number(args.tools));
const mbServers = mcpBenchServers(data.mcpBench);
const mbRows = [...mbServers].flatMap(([server, tools]) => tools.map((name) => ({ server: `${MB_PREFIX}${server}`, server_title: server, name })));
const rows: Array<Partial<ToolRow> & { server: string; name: string }> = [...data.tools, ...padding, ...mbRows];

const work = mkdtempSync(join(tmpdir(), 'gatehouse-context-bench-'));
const catalogFile = join(work, 'tools.jsonl');
writeFileSync(catalogFile, rows.map((r) => JSON.stringify(r)).join('\n'));

// ---- processes ---------------------------------------------------------------------------------------------------
const children: ChildProcess[] = [];
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
};
process.once('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

async function startProcess(script: string, argv: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 120_000): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, script), ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    for await (const line of lines) {
      const match = ready.exec(line);
      if (match) return match[1];
    }
    throw new Error(`${script} exited before it was ready:\n${stderr}`);
  } finally {
    clearTimeout(timer);
    child.stdout!.resume();
  }
}

const t0 = performance.now();
const catalogUrl = await startProcess('examples/catalog-http/server.ts', [], { CATALOG_FILE: catalogFile }, /^LISTENING (http:\/\/[^/]+)/);

const byServer = Map.groupBy(rows, (r) => r.server);
const tagOf = (server: string) => (server.startsWith(MB_PREFIX) ? 'mcpbench' : server.startsWith('synthetic-') ? 'padding' : 'livemcpbench');
const upstreams = Object.fromEntries(
  [...byServer].map(([server, list]) => [
    upstreamName(server),
    {
      url: `${catalogUrl}/mcp/${encodeURIComponent(server)}`,
      tags: [tagOf(server)],
      ...(list[0].server_title && { title: list[0].server_title }),
      ...(list[0].server_description && { description: list[0].server_description }),
    },
  ]),
);
const ranker = args.ranker === 'hybrid' ? { ranker: 'hybrid', embedder: { kind: 'local' } } : {};
const config = {
  server: { host: '127.0.0.1', port: 0, pageSize: 0 },
  store: { path: join(work, 'gatehouse.db') },
  namespacing: { mode: 'always', separator: SEPARATOR },
  toolSearch: { mode: 'search', limit: 5, maxLimit: 50, ...ranker },
  virtualServers: {
    live: { include: [{ tags: ['livemcpbench'] }] },
    'live-all': { include: [{ tags: ['livemcpbench'] }], toolSearch: { mode: 'all' } },
    'live-compact': { include: [{ tags: ['livemcpbench'] }], compaction: { enabled: true } },
    'live-all-compact': { include: [{ tags: ['livemcpbench'] }], toolSearch: { mode: 'all' }, compaction: { enabled: true } },
    padded: { include: [{ tags: ['livemcpbench', 'padding'] }], toolSearch: { ranker: 'bm25' } },
    mcpbench: { include: [{ tags: ['mcpbench'] }] },
  },
  upstreams,
};
const configFile = join(work, 'gatehouse.yaml');
writeFileSync(configFile, JSON.stringify(config, null, 1)); // JSON is YAML
const mcpUrl = await startProcess('src/cli/main.ts', ['start', '-c', configFile], { GATEHOUSE_LOG_LEVEL: 'warn' }, /gatehouse listening on (http:\/\/\S+)/);
const readyMs = performance.now() - t0;
await waitReady(new URL('/readyz', mcpUrl).href);

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok) return;
    await res?.body?.cancel();
    await new Promise((r) => setTimeout(r, 100)); // polling an HTTP endpoint: there is no event to await from outside
  }
  const last = await fetch(url).then((r) => r.text(), (err: unknown) => String(err));
  throw new Error(`gateway never became ready: ${last.slice(0, 2000)}`);
}

async function connect(path: string): Promise<Client> {
  const client = new Client({ name: 'context-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${mcpUrl}/${path}`)));
  return client;
}

interface Found {
  name: string;
  description: string;
  inputSchema: unknown;
  score: number;
}
async function search(client: Client, query: string, limit: number): Promise<Found[]> {
  const result = await client.callTool({ name: 'search_tools', arguments: { query, limit } });
  if (result.isError) throw new Error(`search_tools failed: ${JSON.stringify(result.content)}`);
  return (result.structuredContent as { tools: Found[] }).tools;
}
const tokensOf = (tools: unknown[]) => countTokens(JSON.stringify({ tools }));

// ---- quality and tokens (the 527 real tools), plain and compacted -----------------------------------------------
const nameOf = new Map(data.tools.map((t) => [callName(t), t.name]));
const fullTokens = tokensOf((await listAll('live-all')));
const compactFullTokens = tokensOf((await listAll('live-all-compact')));

async function listAll(path: string): Promise<unknown[]> {
  const client = await connect(path);
  const { tools } = await client.listTools();
  await client.close();
  return tools;
}

async function quality(path: string) {
  const live = await connect(path);
  const listed = tokensOf((await live.listTools()).tools);
  const agentHit: number[] = [];
  for (const r of data.routes) {
    const gold = new Set(r.executed_next.map((id) => callName({ server: id.split('::')[0], name: id.split('::').slice(1).join('::') })));
    agentHit.push(hitAt((await search(live, clean(r.route_query), 5)).map((t) => t.name), gold, 5));
  }
  await live.close();
  const perTask: { recall: number; hit: number; ndcg: number }[] = [];
  const sessionTokens: number[] = [];
  for (const t of data.tasks) {
    // A fresh session per task: what it lists after one search is exactly what its model would carry.
    const session = await connect(path);
    const found = await search(session, t.query, 10);
    perTask.push(taskScores(found.map((f) => f.name), new Set(t.gold_tool_names), 10, (id) => nameOf.get(id) ?? id));
    sessionTokens.push(tokensOf((await session.listTools()).tools));
    await session.close();
  }
  return { listed, agentHit, perTask, sessionTokens };
}
// The hybrid ranker embeds a list on its first search and ranks with BM25 alone until it is done: wait for that.
if (args.ranker === 'hybrid') {
  const t1 = performance.now();
  for (const path of ['live', 'live-compact', 'mcpbench']) {
    const client = await connect(path);
    await search(client, 'warm up', 1);
    await client.close();
  }
  await embeddingsDone();
  console.log(`embedded the catalogs in ${Math.round(performance.now() - t1)} ms (worker thread)`);
}

async function embeddingsDone(): Promise<void> {
  for (;;) {
    const text = await (await fetch(new URL('/metrics', mcpUrl))).text();
    const pending = [...text.matchAll(/^gatehouse_tool_search_pending_embeddings\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
    if (pending.every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 250)); // polling the gateway's metrics: there is no event to await from outside
  }
}

const plain = await quality('live');
const compact = await quality('live-compact');
const { agentHit, perTask, sessionTokens } = plain;
const listedTokens = plain.listed;

// ---- server routing (MCP-Bench): the first servers among the task's candidates in the ranked tools ---------------
const mb = await connect('mcpbench');
const routing: number[] = [];
const routingRecall: number[] = [];
for (const row of data.mcpBench) {
  const candidates = new Set([...row.gold_servers, ...row.distraction_servers].map((s) => upstreamName(`${MB_PREFIX}${s}`)));
  const order: string[] = [];
  for (const tool of await search(mb, row.query_fuzzy, 50)) {
    const upstream = tool.name.slice(0, tool.name.indexOf(SEPARATOR));
    if (candidates.has(upstream) && !order.includes(upstream)) order.push(upstream);
  }
  const top = order.slice(0, 3);
  const gold = row.gold_servers.map((s) => upstreamName(`${MB_PREFIX}${s}`));
  routing.push(gold.some((g) => top.includes(g)) ? 1 : 0);
  routingRecall.push(gold.filter((g) => top.includes(g)).length / gold.length);
}

// ---- latency at 5,000 tools: search_tools round trips over plain HTTP (a lean client: the SDK's own parsing of the
// answer is the client's cost, not the gateway's), one session, keep-alive ----------------------------------------
const paddedCount = data.tools.length + padding.length;
const paddedUrl = `${mcpUrl}/padded`;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const opened = await fetch(paddedUrl, { method: 'POST', headers: HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'context-bench', version: '1.0.0' } } }) });
const sessionHeaders = { ...HEADERS, 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
await opened.text();
await (await fetch(paddedUrl, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
let nextId = 1;
async function rawSearch(query: string): Promise<void> {
  const res = await fetch(paddedUrl, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: 'search_tools', arguments: { query, limit: 10 } } }) });
  const text = await res.text();
  if (!res.ok || !text.includes('"structuredContent"')) throw new Error(`search_tools failed: ${res.status} ${text.slice(0, 200)}`);
}
const queries = [...data.routes.map((r) => clean(r.route_query)), ...data.tasks.map((t) => t.query)];
for (const q of queries.slice(0, 30)) await rawSearch(q); // warm-up
const latencies: number[][] = [];
for (let round = 0; round < rounds; round++) {
  const ms: number[] = [];
  for (const q of queries) {
    const start = performance.now();
    await rawSearch(q);
    ms.push(performance.now() - start);
  }
  latencies.push(ms);
}
const p50s = latencies.map((ms) => quantile(ms, 0.5));
const p95s = latencies.map((ms) => quantile(ms, 0.95));
const median = (xs: number[]) => quantile(xs, 0.5);

await mb.close();

// ---- report ------------------------------------------------------------------------------------------------------
const round2 = (x: number) => Math.round(x * 100) / 100;
const figures = {
  tokens_full: fullTokens,
  tokens_listed: listedTokens,
  tokens_session: Math.round(mean(sessionTokens)),
  tokens_saved_pct: pct(1 - mean(sessionTokens) / fullTokens),
  tokens_full_compact: compactFullTokens,
  tokens_session_compact: Math.round(mean(compact.sessionTokens)),
  tokens_saved_compact_pct: pct(1 - mean(compact.sessionTokens) / fullTokens),
  compact_agent_hit5: pct(mean(compact.agentHit)),
  compact_task_recall10: pct(mean(compact.perTask.map((p) => p.recall))),
  compact_task_hit10: pct(mean(compact.perTask.map((p) => p.hit))),
  agent_hit5: pct(mean(agentHit)),
  task_recall10: pct(mean(perTask.map((p) => p.recall))),
  task_hit10: pct(mean(perTask.map((p) => p.hit))),
  task_ndcg10: pct(mean(perTask.map((p) => p.ndcg))),
  server_hit3: pct(mean(routing)),
  server_recall3: pct(mean(routingRecall)),
  search_p50_ms: round2(median(p50s)),
  search_p95_ms: round2(median(p95s)),
};
const goal = (value: number, target: number, higher = true) => `${value} ${(higher ? value >= target : value <= target) ? '✓' : '✗'}`;
console.log(`Gatehouse context bench — through the gateway (ranker: ${args.ranker})`);
console.log(`catalog: ${data.tools.length} LiveMCPBench tools / ${new Set(data.tools.map((t) => t.server)).size} servers; ` +
  `${paddedCount} with padding; ${mbRows.length} MCP-Bench tool names / ${mbServers.size} servers; gateway ready in ${Math.round(readyMs)} ms`);
console.log(`queries: ${data.routes.length} agent route queries, ${data.tasks.length} user tasks, ${data.mcpBench.length} MCP-Bench tasks\n`);
console.log(`tokens (o200k): full tools/list ${fullTokens}; search-mode list ${listedTokens}; a session after one search (top 10) ` +
  `${figures.tokens_session} on average: ${goal(figures.tokens_saved_pct, 95)}% fewer (goal >= 95%)`);
console.log(`compaction: full tools/list ${compactFullTokens} (${pct(1 - compactFullTokens / fullTokens)}% fewer); a compacted session ` +
  `after one search ${figures.tokens_session_compact}: ${figures.tokens_saved_compact_pct}% fewer than the full list; with compaction ` +
  `agent Hit@5 ${figures.compact_agent_hit5}%, Recall@10 ${figures.compact_task_recall10}%, Hit@10 ${figures.compact_task_hit10}%`);
console.log(`agent queries Hit@5 ${goal(figures.agent_hit5, 85)}% (goal >= 85%)`);
console.log(`user tasks Recall@10 ${goal(figures.task_recall10, 60)}% (>= 60%), Hit@10 ${goal(figures.task_hit10, 85)}% (>= 85%), ` +
  `nDCG@10 ${goal(figures.task_ndcg10, 45)} (>= 45)`);
console.log(`server routing Hit@3 ${goal(figures.server_hit3, 90)}% (>= 90%), Recall@3 ${figures.server_recall3}%`);
console.log(`search_tools at ${paddedCount} tools, round trip: p50 ${figures.search_p50_ms} ms, p95 ${goal(figures.search_p95_ms, 20, false)} ms ` +
  `(goal <= 20 ms; median of ${rounds} rounds × ${queries.length} queries; per round p95 ${p95s.map(round2).join(', ')})`);
console.log(JSON.stringify({ bench: 'context', through: 'gateway', ranker: args.ranker, ...figures }));
process.exit(0);
