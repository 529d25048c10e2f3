/**
 * `gatehouse scan`: the tool-poisoning scanner offline (issue 4). Scans the upstreams of a config, a live server
 * (streamable HTTP or a stdio command) or a file of definitions, prints a report (text, JSON or SARIF) and exits 1
 * when a finding reaches `--fail-on`, so CI can gate on it.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { loadConfig } from '../config/load.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { Gateway } from '../gateway.ts';
import { scannerSchema } from '../guard/scanner/config.ts';
import type { ScannerConfig } from '../guard/scanner/config.ts';
import { itemsOfList, jsonReport, scanDefinitions, serverItem } from '../guard/scanner/index.ts';
import type { KnownTool, ScanItem, ScanResult } from '../guard/scanner/index.ts';
import { toSarif } from '../guard/scanner/sarif.ts';
import { SEVERITIES, severityRank } from '../guard/scanner/types.ts';
import type { ScanKind, Severity } from '../guard/scanner/types.ts';
import type { DefinitionKind } from '../store/pins.ts';
import { VERSION } from '../version.ts';

export const SCAN_HELP = `Usage:
  gatehouse scan -c FILE | --url URL | --command "CMD ARGS" | --file PATH
                 [--json | --sarif] [--fail-on SEVERITY] [--other-tools NAME,...] [--disable RULE ...] [--all]

Scan tool, prompt and resource definitions (and server instructions) for poisoning: instructions aimed at the
model, exfiltration cues, cross-server shadowing, invisible or deceptive text, encoded payloads, hidden comments,
abnormal size.

Inputs (exactly one):
  -c, --config FILE     start every upstream of a gatehouse config and scan what each lists
      --url URL         a live MCP server over streamable HTTP
      --command "CMD"   a stdio MCP server, started with this command line
      --file PATH       a tools/list result, a JSON array of tools, or JSON Lines (one tool per line)

Options:
      --json            one entry per definition: { name, kind, upstream, verdict, score, findings: [...] }
      --sarif           SARIF 2.1.0, for code-scanning uploads
      --fail-on SEV     exit 1 when a finding is at or above SEV: info|low|medium|high|critical|none (default high)
      --other-tools N   names of other servers' tools (comma separated), checked for shadowing
      --disable RULE    drop a rule id (hidden.coercion) or family (encoded); repeatable
      --all             the text report lists allowed definitions too
  -h, --help            this help

Exit status: 0 clean, 1 a finding at or above --fail-on, 2 bad usage or an input that could not be read.
`;

/** A usage or input problem: printed as one line, exit status 2. */
class ScanUsageError extends Error {}

const LIST_KINDS: readonly DefinitionKind[] = ['tools', 'prompts', 'resources', 'resourceTemplates'];
const KIND_BY_NAME: Record<string, ScanKind> = { tool: 'tool', prompt: 'prompt', resource: 'resource', resourceTemplate: 'resourceTemplate', server: 'server' };

/** Run `gatehouse scan …` with the arguments after `scan`; resolves to the exit status. */
export async function runScan(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    return await scan(argv, out);
  } catch (e) {
    err.write(`gatehouse scan: ${(e as Error).message}\n`);
    return 2;
  }
}

async function scan(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        url: { type: 'string' },
        command: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean' },
        sarif: { type: 'boolean' },
        'fail-on': { type: 'string' },
        'other-tools': { type: 'string' },
        disable: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new ScanUsageError(`${(e as Error).message} (see gatehouse scan --help)`);
  }
  const { values } = parsed;
  if (values.help) {
    out.write(SCAN_HELP);
    return 0;
  }
  const inputs = (['config', 'url', 'command', 'file'] as const).filter((k) => values[k] !== undefined);
  if (inputs.length !== 1) throw new ScanUsageError(inputs.length === 0 ? 'give one input: -c FILE, --url URL, --command "CMD ARGS" or --file PATH (see --help)' : `give only one input, got --${inputs.join(' and --')}`);
  if (values.json && values.sarif) throw new ScanUsageError('--json and --sarif are exclusive; pick one output format');
  const failOn = values['fail-on'] ?? 'high';
  if (failOn !== 'none' && !SEVERITIES.includes(failOn as Severity)) throw new ScanUsageError(`--fail-on must be one of ${SEVERITIES.join(', ')} or none, got "${failOn}"`);
  if (values.url !== undefined && !URL.canParse(values.url)) throw new ScanUsageError(`--url must be a URL like http://127.0.0.1:3000/mcp, got "${values.url}"`);

  let scanner: ScannerConfig = scannerSchema.parse({});
  let items: ScanItem[];
  let source: string;
  if (values.config !== undefined) {
    const loaded = await fromConfig(values.config);
    items = loaded.items;
    scanner = loaded.scanner;
    source = values.config;
  } else if (values.url !== undefined) {
    items = await fromClient(new StreamableHTTPClientTransport(new URL(values.url)), new URL(values.url).host);
    source = values.url;
  } else if (values.command !== undefined) {
    const [command, ...args] = splitCommand(values.command);
    if (!command) throw new ScanUsageError('--command needs a command line, e.g. --command "node server.js"');
    items = await fromClient(new StdioClientTransport({ command, args, stderr: 'ignore' }), basename(command));
    source = values.command;
  } else {
    items = await fromFile(values.file!);
    source = values.file!;
  }
  if (values.disable?.length) scanner = { ...scanner, disabledRules: [...scanner.disabledRules, ...values.disable] };
  const knownTools: KnownTool[] = (values['other-tools'] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((name) => ({ upstream: '(other)', name }));

  const results = await scanDefinitions(items, { config: scanner, knownTools });
  if (values.json) out.write(`${JSON.stringify(jsonReport(results), null, 2)}\n`);
  else if (values.sarif) out.write(`${JSON.stringify(toSarif(results, source), null, 2)}\n`);
  else out.write(textReport(results, source, values.all === true));
  if (failOn === 'none') return 0;
  const bar = severityRank(failOn as Severity);
  return results.some((r) => r.findings.some((f) => severityRank(f.severity) >= bar)) ? 1 : 0;
}

/** Splits a command line on blanks, keeping quoted parts ("a b" or 'a b') together. */
export function splitCommand(line: string): string[] {
  const parts: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) parts.push(m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]);
  return parts;
}

async function fromConfig(file: string): Promise<{ items: ScanItem[]; scanner: ScannerConfig }> {
  const { config } = await loadConfig(file);
  // Look, do not approve: pins stay in memory, and the lists are read as the upstreams sent them (`raw`), so
  // whatever the gateway's own gate would keep back is scanned too.
  const looked = { ...config, server: { ...config.server, port: 0, host: '127.0.0.1' }, pinning: { ...config.pinning, store: 'memory' as const } };
  const own = (config as { scanner?: unknown }).scanner;
  const scanner = scannerSchema.parse(own ?? {});
  const gateway = new Gateway(looked, pino({ level: 'silent' }));
  try {
    await gateway.start();
    const items: ScanItem[] = [];
    const failed: string[] = [];
    for (const [name, entry] of gateway.catalog.entries) {
      if (entry.status !== 'ready') {
        failed.push(`${name} (${entry.error ?? entry.status})`);
        continue;
      }
      if (entry.info) items.push(serverItem(name, entry.info));
      for (const kind of LIST_KINDS) items.push(...itemsOfList(name, kind, entry.raw[kind]));
    }
    if (failed.length > 0) throw new ScanUsageError(`could not start upstream ${failed.join(', ')}; fix the config (gatehouse check -c ${file}) and scan again`);
    return { items, scanner };
  } finally {
    await gateway.close();
  }
}

/** Every page of a list, through a cursor. */
async function allPages<T>(page: (cursor?: string) => Promise<{ nextCursor?: string } & Record<string, unknown>>, key: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const res = await page(cursor);
    out.push(...((res[key] as T[] | undefined) ?? []));
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return out;
}

async function fromClient(transport: StreamableHTTPClientTransport | StdioClientTransport, upstream: string): Promise<ScanItem[]> {
  const client = new Client({ name: 'gatehouse-scan', version: VERSION });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new ScanUsageError(`could not connect to the server: ${(e as Error).message}`);
  }
  try {
    const caps = client.getServerCapabilities() ?? {};
    const info = client.getServerVersion();
    const items: ScanItem[] = [serverItem(upstream, { instructions: client.getInstructions(), serverInfo: info })];
    const lists: [DefinitionKind, () => Promise<JsonObject[]>][] = [];
    if (caps.tools) lists.push(['tools', () => allPages((cursor) => client.listTools(cursor ? { cursor } : undefined), 'tools')]);
    if (caps.prompts) lists.push(['prompts', () => allPages((cursor) => client.listPrompts(cursor ? { cursor } : undefined), 'prompts')]);
    if (caps.resources) {
      lists.push(['resources', () => allPages((cursor) => client.listResources(cursor ? { cursor } : undefined), 'resources')]);
      lists.push(['resourceTemplates', () => allPages((cursor) => client.listResourceTemplates(cursor ? { cursor } : undefined), 'resourceTemplates')]);
    }
    for (const [kind, list] of lists) items.push(...itemsOfList(upstream, kind, await list()));
    return items;
  } finally {
    await client.close();
  }
}

/** A tools/list result (or a JSON-RPC response holding one), a JSON array of tools, or JSON Lines of tools. */
async function fromFile(path: string): Promise<ScanItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ScanUsageError(`cannot read --file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const upstream = basename(path).replace(/\.[^.]+$/, '');
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    return text.split('\n').map((line, i) => [line.trim(), i] as const).filter(([line]) => line !== '').map(([line, i]) => {
      try {
        return lineItem(JSON.parse(line), upstream);
      } catch (e) {
        throw new ScanUsageError(`--file ${path} line ${i + 1} is not a JSON object (${(e as Error).message}); expected a tools/list result, a JSON array of tools, or one tool per line`);
      }
    });
  }
  const result = (whole as { result?: unknown } | null)?.result ?? whole;
  if (Array.isArray(result)) return result.map((t) => lineItem(t, upstream));
  if (result && typeof result === 'object') {
    const lists = LIST_KINDS.filter((k) => Array.isArray((result as Record<string, unknown>)[k]));
    if (lists.length > 0) return lists.flatMap((k) => itemsOfList(upstream, k, (result as Record<string, JsonObject[]>)[k]));
    return [lineItem(result, upstream)];
  }
  throw new ScanUsageError(`--file ${path}: expected a tools/list result, a JSON array of tools, or JSON Lines`);
}

/** One definition: a bare tool, or `{ kind, upstream, definition }` as the test corpus writes them. */
function lineItem(value: unknown, upstream: string): ScanItem {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
  const v = value as Record<string, unknown>;
  if (v.definition && typeof v.definition === 'object') {
    const def = v.definition as Record<string, unknown>;
    const kind = KIND_BY_NAME[String(v.kind ?? 'tool')] ?? 'tool';
    const up = typeof v.upstream === 'string' ? v.upstream : upstream;
    return { kind, upstream: up, name: String(def.name ?? def.uri ?? def.uriTemplate ?? up), definition: def };
  }
  const kind: ScanKind = 'inputSchema' in v ? 'tool' : 'uriTemplate' in v ? 'resourceTemplate' : 'uri' in v ? 'resource' : 'arguments' in v ? 'prompt' : 'tool';
  return { kind, upstream, name: String(v.name ?? v.uri ?? v.uriTemplate ?? ''), definition: v };
}

const MARK: Record<string, string> = { allow: 'allow     ', warn: 'WARN      ', quarantine: 'QUARANTINE' };

function textReport(results: readonly ScanResult[], source: string, all: boolean): string {
  const lines = [`Scanned ${results.length} definition(s) from ${source}`];
  for (const r of results) {
    if (r.verdict === 'allow' && !all) continue;
    lines.push('', `${MARK[r.verdict]}  ${r.kind} ${r.upstream ? `${r.upstream}/` : ''}${r.name}  (score ${r.score})`);
    for (const f of r.findings) {
      lines.push(`  ${f.severity.padEnd(8)} ${f.rule}  at ${f.path || '(definition)'}`);
      lines.push(`           ${f.explanation}`);
      lines.push(`           » ${f.excerpt}`);
    }
  }
  const count = (v: string) => results.filter((r) => r.verdict === v).length;
  lines.push('', `${count('quarantine')} quarantine, ${count('warn')} warn, ${count('allow')} allow`);
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) runScan(process.argv.slice(2)).then((code) => process.exit(code));
