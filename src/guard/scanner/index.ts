/**
 * The tool-poisoning scanner (issue 4): runs the detector pipeline over definitions and returns one result per
 * definition in the stable JSON shape `{ name, verdict, score, findings }`. `createDefinitionScanner` adapts it to
 * the catalog gate (src/guard/pinning.ts `DefinitionScanner`).
 */
import type { JsonObject } from '../../core/jsonrpc.ts';
import type { DefinitionKind } from '../../store/pins.ts';
import type { DefinitionScanner, ScanVerdict } from '../pinning.ts';
import { comments } from './comments.ts';
import { corroborate } from './corroborate.ts';
import { directive } from './directive.ts';
import { scannerSchema } from './config.ts';
import type { ScannerConfig } from './config.ts';
import { encoded } from './encoded.ts';
import { exfiltration } from './exfiltration.ts';
import { hiddenInstructions } from './hidden-instructions.ts';
import { createHttpClassifier } from './http-classifier.ts';
import { invisibleText, skeleton } from './invisible-text.ts';
import { dedupe } from './rules.ts';
import { shadowing } from './shadowing.ts';
import { size } from './size.ts';
import { textFields } from './text-fields.ts';
import type { TextField } from './text-fields.ts';
import type { Detector, Finding, KnownLookup, KnownTool, ScanContext, ScanItem, ScanKind } from './types.ts';
import { judge } from './verdict.ts';
import type { Verdict } from './verdict.ts';

export type { Detector, Finding, KnownTool, ScanItem, ScanKind, Severity } from './types.ts';
export type { ScannerConfig } from './config.ts';
export type { Verdict } from './verdict.ts';

/** The built-in detectors, in the order their findings are reported. */
export const BUILTIN_DETECTORS: readonly Detector[] = [hiddenInstructions, exfiltration, shadowing, directive, invisibleText, encoded, comments, size];

/** One definition's result: the stable `--json` shape plus where it came from. */
export interface ScanResult {
  readonly name: string;
  readonly kind: ScanKind;
  readonly upstream?: string;
  readonly verdict: Verdict;
  readonly score: number;
  readonly findings: readonly Finding[];
}

export interface ScanOptions {
  /** The `scanner` config section (defaults when absent). */
  config?: ScannerConfig;
  /** Tools of servers beyond the scanned items (for shadowing); the items' own tools are added. */
  knownTools?: readonly KnownTool[];
  /** Replaces the pipeline (the classifier from `config.classifier` is still appended). */
  detectors?: readonly Detector[];
  /**
   * `knownTools` indexed already, by a caller that scans repeatedly (the gateway, once per upstream listing, against
   * the whole catalog): see `indexKnownTools`. Takes the place of `knownTools`.
   */
  knownIndex?: KnownIndex;
}

/** Known tools indexed by lower-cased name and by name skeleton, for the shadowing and look-alike detectors. */
export interface KnownIndex {
  readonly tools: readonly KnownTool[];
  readonly toolsByName: KnownLookup;
  readonly skeletons: KnownLookup;
}

export function indexKnownTools(tools: readonly KnownTool[]): KnownIndex {
  const skeletons = new Map<string, KnownTool[]>();
  const toolsByName = new Map<string, KnownTool[]>();
  for (const t of tools) {
    for (const [map, key] of [[skeletons, skeleton(t.name)], [toolsByName, t.name.toLowerCase()]] as const) {
      const list = map.get(key);
      if (list) list.push(t);
      else map.set(key, [t]);
    }
  }
  return { tools, toolsByName, skeletons };
}

/** The detectors a config asks for: the built-ins plus the HTTP classifier when one is configured. */
export function pipelineFor(config: ScannerConfig, detectors: readonly Detector[] = BUILTIN_DETECTORS): Detector[] {
  const c = config.classifier;
  return c ? [...detectors, createHttpClassifier({ url: c.url, timeout: c.timeout, failMode: c.failMode, threshold: c.threshold, apiKey: c.apiKey })] : [...detectors];
}

function disabled(rule: string, off: readonly string[]): boolean {
  return off.some((id) => rule === id || rule.startsWith(`${id}.`));
}

/** The defaults, parsed once (the schema's output is never mutated). */
const DEFAULT_CONFIG: ScannerConfig = scannerSchema.parse({});

/** Scans every item; results come in the items' order. A detector that throws is reported, never fatal. */
export async function scanDefinitions(items: readonly ScanItem[], options: ScanOptions = {}): Promise<ScanResult[]> {
  const config = options.config ?? DEFAULT_CONFIG;
  const detectors = pipelineFor(config, options.detectors);
  const own = items.filter((i) => i.kind === 'tool').map((i) => ({ upstream: i.upstream ?? '', name: i.name }));
  const cache = new WeakMap<ScanItem, TextField[]>();
  // The known tools' index is the caller's when it gives one (built once per catalog); the items' own tools are few.
  const known = options.knownIndex ?? indexKnownTools(options.knownTools ?? []);
  const knownTools = [...known.tools, ...own];
  const ownIndex = indexKnownTools(own);
  const both = (a: KnownLookup, b: KnownLookup): KnownLookup => ({
    get(key) {
      const x = a.get(key);
      const y = b.get(key);
      return x === undefined ? y : y === undefined ? x : [...x, ...y];
    },
  });
  const skeletons = both(known.skeletons, ownIndex.skeletons);
  const toolsByName = both(known.toolsByName, ownIndex.toolsByName);
  const ctx: ScanContext = {
    knownTools,
    skeletons,
    toolsByName,
    maxDefinitionBytes: config.maxDefinitionBytes,
    directive: config.directive,
    fields(item) {
      let f = cache.get(item);
      if (!f) cache.set(item, (f = textFields(item.definition)));
      return f;
    },
  };
  return Promise.all(items.map(async (item) => {
    const found: Finding[] = [];
    for (const detect of detectors) {
      try {
        found.push(...(await detect(item, ctx)));
      } catch (err) {
        found.push({ rule: 'scanner.detector-error', severity: 'info', path: '', start: 0, end: 0, excerpt: detect.name, explanation: `detector ${detect.name} failed: ${(err as Error).message}` });
      }
    }
    const findings = corroborate(dedupe(found.filter((f) => !disabled(f.rule, config.disabledRules))), ctx.fields(item));
    const { score, verdict } = judge(findings, config.policy);
    return { name: item.name, kind: item.kind, ...(item.upstream !== undefined ? { upstream: item.upstream } : {}), verdict, score, findings };
  }));
}

const KIND_OF_LIST: Record<DefinitionKind, ScanKind> = { tools: 'tool', prompts: 'prompt', resources: 'resource', resourceTemplates: 'resourceTemplate' };

/** Scan items for one upstream list (`tools/list` and friends). */
export function itemsOfList(upstream: string, kind: DefinitionKind, defs: readonly JsonObject[]): ScanItem[] {
  return defs.map((definition) => ({ kind: KIND_OF_LIST[kind], name: String(definition.name ?? definition.uri ?? definition.uriTemplate ?? ''), upstream, definition }));
}

/** The scan item of a server's initialize result: its `instructions` and `serverInfo` reach the model too. */
export function serverItem(upstream: string, info: { instructions?: string; serverInfo?: object }): ScanItem {
  return { kind: 'server', name: upstream, upstream, definition: { ...(info.serverInfo ? { serverInfo: info.serverInfo } : {}), ...(info.instructions !== undefined ? { instructions: info.instructions } : {}) } };
}

/**
 * The catalog gate's scanner: pass it as `scan` to PinningGate or createDefinitionGate. `knownTools` is read on
 * every call so shadowing sees the catalog as it is when a list changes.
 */
export function createDefinitionScanner(config: ScannerConfig, knownTools: () => readonly KnownTool[]): DefinitionScanner {
  // Indexed once per catalog: `knownTools` returns the same array until the catalog changes.
  let indexed: { tools: readonly KnownTool[]; index: KnownIndex } | null = null;
  return async function scanListed(upstream, kind, items) {
    const tools = knownTools();
    if (indexed?.tools !== tools) indexed = { tools, index: indexKnownTools(tools) };
    const results = await scanDefinitions(itemsOfList(upstream, kind, items), { config, knownIndex: indexed.index });
    return new Map<JsonObject, ScanVerdict>(items.map((item, i) => [item, { verdict: results[i].verdict, findings: results[i].findings.map(publicFinding) }]));
  };
}

/** A finding as the stable JSON shows it: rule, severity, path, excerpt, explanation. */
export function publicFinding(f: Finding): { rule: string; severity: string; path: string; excerpt: string; explanation: string } {
  return { rule: f.rule, severity: f.severity, path: f.path, excerpt: f.excerpt, explanation: f.explanation };
}

/** The `--json` report: one entry per definition in the stable shape. */
export function jsonReport(results: readonly ScanResult[]): object[] {
  return results.map((r) => ({ name: r.name, kind: r.kind, ...(r.upstream !== undefined ? { upstream: r.upstream } : {}), verdict: r.verdict, score: r.score, findings: r.findings.map(publicFinding) }));
}

