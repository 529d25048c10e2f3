/**
 * The tool-poisoning scanner's shapes (issue 4): what is scanned (a ScanItem), what a detector reports (a Finding),
 * and the context every detector gets — one text-field walk per definition and the tools of other servers.
 */
import type { TextField } from './text-fields.ts';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** Severities from least to most serious; the index is the rank used for comparisons. */
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The rank of a severity (info 0 … critical 4). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export type ScanKind = 'tool' | 'prompt' | 'resource' | 'resourceTemplate' | 'server';

/** One definition to scan: a listed tool, prompt, resource or template, or a server's initialize result. */
export interface ScanItem {
  readonly kind: ScanKind;
  /** The definition's own name (a resource's name, a server's name). */
  readonly name: string;
  /** The upstream that listed it; shadowing compares it with the other tools' upstreams. */
  readonly upstream?: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

/** One suspicious thing in a definition. */
export interface Finding {
  /** A stable id, e.g. `hidden.conceal-from-user`; `disabledRules` takes these (or a family prefix like `encoded`). */
  readonly rule: string;
  readonly severity: Severity;
  /** Where in the definition: `description`, `inputSchema.properties.path.description`, `arguments[0].name`. */
  readonly path: string;
  /** `[start, end)` in UTF-16 units of the field's text. */
  readonly start: number;
  readonly end: number;
  /** The offending span with a little context, invisible characters shown as `\u{…}`. */
  readonly excerpt: string;
  readonly explanation: string;
}

/** A tool another server lists, for cross-server shadowing. */
export interface KnownTool {
  readonly upstream: string;
  readonly name: string;
}

export interface ScanContext {
  /** Tools of every server; a detector compares an item's upstream with each tool's. */
  readonly knownTools: readonly KnownTool[];
  /** `knownTools` by lower-cased name, so a text's words are looked up instead of every name searched for. */
  readonly toolsByName: KnownLookup;
  /** `knownTools` by the skeleton of their names (src/guard/scanner/invisible-text.ts), for look-alike names. */
  readonly skeletons: KnownLookup;
  /** Every text field of a definition, walked once per scan and shared by the detectors. */
  fields(item: ScanItem): readonly TextField[];
  /** Bytes of canonical JSON above which a definition is abnormally large. */
  readonly maxDefinitionBytes: number;
  /** Model scores at which the directive-language detector reports high, medium and low findings. */
  readonly directive: { readonly high: number; readonly medium: number; readonly low: number };
}

/** A detector: a pure function from one definition to its findings (async only for the HTTP classifier). */
export type Detector = (item: ScanItem, ctx: ScanContext) => readonly Finding[] | Promise<readonly Finding[]>;

/** Known tools by a key (a lower-cased name, a skeleton): all a detector needs of an index is `get`. */
export interface KnownLookup {
  get(key: string): readonly KnownTool[] | undefined;
}
