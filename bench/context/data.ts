// The context bench's data and scores: LiveMCPBench tools, user tasks and agent route queries, MCP-Bench tasks
// (../shared/data/tool-retrieval/, see its SOURCE.md), the padding that grows the catalog to 5,000 real-looking tools,
// and the retrieval metrics. Shared by the gateway run (gateway.ts) and the in-process ranker comparison (retrieval.ts).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_DATA = resolve(import.meta.dirname, '../../../shared/data/tool-retrieval');

export interface ToolRow {
  id: string;
  server: string;
  server_title: string;
  server_description: string;
  category: string;
  name: string;
  description: string;
  inputSchema: { properties?: Record<string, unknown> } & Record<string, unknown>;
}
export interface TaskRow {
  query: string;
  gold_tool_names: string[];
  gold_tool_ids: string[];
}
export interface RouteRow {
  route_query: string;
  executed_next: string[];
}
export interface McpBenchRow {
  query_fuzzy: string;
  gold_servers: string[];
  distraction_servers: string[];
  tool_mentions: string[];
}

export interface BenchData {
  tools: ToolRow[];
  /** User tasks with at least one resolvable gold tool. */
  tasks: TaskRow[];
  /** Agent-phrased search queries followed by at least one executed tool. */
  routes: RouteRow[];
  mcpBench: McpBenchRow[];
}

const jsonl = <T>(dir: string, path: string): T[] =>
  readFileSync(join(dir, path), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);

export function loadData(dir = DEFAULT_DATA): BenchData {
  return {
    tools: jsonl<ToolRow>(dir, 'livemcpbench/tools.jsonl'),
    tasks: jsonl<TaskRow>(dir, 'livemcpbench/queries.jsonl').filter((t) => t.gold_tool_ids.length > 0),
    routes: jsonl<RouteRow>(dir, 'livemcpbench/route_queries.jsonl').filter((r) => r.executed_next.length > 0),
    mcpBench: jsonl<McpBenchRow>(dir, 'mcp-bench/queries.jsonl'),
  };
}

/** Markup such as `<tool_assistant>` is not part of what the caller is asking for. */
export const clean = (query: string): string => query.replace(/<\/?[\w-]+>/g, ' ');

/**
 * MCP-Bench ships no tool definitions, so a server's tools are the tool names its tasks mention (the closest thing to
 * its tools/list the data holds); a server no task mentions a tool of gets one tool named after itself.
 */
export function mcpBenchServers(rows: readonly McpBenchRow[]): Map<string, string[]> {
  const servers = new Map<string, Set<string>>();
  for (const row of rows) {
    for (const s of [...row.gold_servers, ...row.distraction_servers]) if (!servers.has(s)) servers.set(s, new Set());
    for (const mention of row.tool_mentions) {
      const [server, tool] = mention.split('::');
      servers.get(server)?.add(tool);
    }
  }
  return new Map([...servers].map(([server, tools]) => [server, tools.size > 0 ? [...tools] : [server]]));
}

/**
 * Grows the catalog to `target` tools with recombinations of real ones (two real tools' name parts, first and last
 * description sentences, one of their schemas), eight per synthetic server: real vocabulary, so they compete.
 */
export function padCatalog(tools: readonly ToolRow[], target: number): ToolRow[] {
  const out: ToolRow[] = [];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = () => tools[Math.floor(rand() * tools.length)];
  for (let i = 0; tools.length + out.length < target; i++) {
    const server = `synthetic-${Math.floor(i / 8)}`;
    const a = pick();
    const b = pick();
    const words = [...a.name.split(/[_-]/).slice(0, 2), ...b.name.split(/[_-]/).slice(-1)];
    const first = a.description.split(/(?<=[.!?。])\s*/)[0];
    const last = b.description.split(/(?<=[.!?。])\s*/).slice(-1)[0];
    const name = `${words.join('_')}_${i}`;
    out.push({
      id: `${server}::${name}`,
      server,
      server_title: `${a.server_title} ${b.server_title}`,
      server_description: `${a.server_description} ${b.server_description}`.slice(0, 400),
      category: a.category,
      name,
      description: `${first} ${last}`,
      inputSchema: rand() < 0.5 ? a.inputSchema : b.inputSchema,
    });
  }
  return out;
}

// ---- scores -----------------------------------------------------------------------------------------------------

/** 1 when any of the first k names is gold. */
export const hitAt = (ranked: readonly string[], gold: ReadonlySet<string>, k: number): number =>
  ranked.slice(0, k).some((name) => gold.has(name)) ? 1 : 0;

/**
 * Recall, hit and nDCG at k for a task whose gold is a set of tool *names* (the annotators named tools, not servers):
 * `nameOf` maps a ranked id to its tool name, and each gold name counts once.
 */
export function taskScores(ranked: readonly string[], goldNames: ReadonlySet<string>, k: number, nameOf: (id: string) => string) {
  const seen = new Set<string>();
  let dcg = 0;
  ranked.slice(0, k).forEach((id, i) => {
    const name = nameOf(id);
    if (goldNames.has(name) && !seen.has(name)) {
      seen.add(name);
      dcg += 1 / Math.log2(i + 2);
    }
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(goldNames.size, k); i++) ideal += 1 / Math.log2(i + 2);
  return { recall: seen.size / goldNames.size, hit: seen.size > 0 ? 1 : 0, ndcg: dcg / ideal };
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
export const pct = (x: number): number => Math.round(x * 1000) / 10;
export const quantile = (xs: readonly number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
