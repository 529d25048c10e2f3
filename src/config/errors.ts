/**
 * The one error a bad config file produces: every problem found, each pinned to file, line, column and the
 * dotted key, worded like a compiler diagnostic so editors and terminals can jump to it.
 */

/** One problem in a config file. `line` and `column` are 1-based; absent when the file could not be read. */
export interface ConfigIssue {
  line?: number;
  column?: number;
  /** Dotted path of the offending key, e.g. `upstreams.everything.timeouts.request`; '' for the document itself. */
  key: string;
  /** What the key should hold, e.g. `a duration like 500ms, 30s, 5m or 1h`. */
  expected?: string;
  /** The whole explanation after `key: `, e.g. `expected a number, got "abc"`. */
  detail: string;
}

const brand = Symbol.for('gatehouse.config-error');

/**
 * A config file that cannot be used. The message lists every issue, one per line, as
 * `file:line:column: key: detail`; the first issue's fields are copied onto the error itself.
 * Local to the operator (CLI, reload log), never sent to an MCP client; `code` matches the error table's
 * GH_ERR_CONFIG_INVALID for when the admin API reports it.
 */
export class ConfigError extends Error {
  readonly code = 'GH_ERR_CONFIG_INVALID';
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly key: string;
  readonly expected: string | undefined;
  readonly issues: readonly ConfigIssue[];
  readonly [brand] = true;

  constructor(file: string, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    if (issues.length === 0) throw new TypeError('ConfigError needs at least one issue');
    super(issues.map((issue) => formatIssue(file, issue)).join('\n'), options);
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
    const first = issues[0];
    this.line = first.line;
    this.column = first.column;
    this.key = first.key;
    this.expected = first.expected;
  }

  /** True for a ConfigError from any copy of this module (the brand is a global symbol). */
  static is(value: unknown): value is ConfigError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** `config.yaml:12:5: upstreams.everything.timeouts.request: expected …, got "fast"` */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
  return issue.key === '' ? `${where}: ${issue.detail}` : `${where}: ${issue.key}: ${issue.detail}`;
}

/** Join a path into `upstreams.everything.args[0]`; keys that are not plain words are quoted: `upstreams["my server"]`. */
export function formatKey(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * Describe a value for "got …" without flooding the terminal: strings quoted and cut at 40 characters,
 * collections by kind only.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/**
 * The known word closest to `word`, if it is close enough to be a likely typo. Case, `_` and `-` are ignored
 * (`virtual_servers` finds `virtualServers`); the allowed edit distance grows with the word, a third of its length.
 */
export function suggest(word: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const w = norm(word);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(w.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(w, norm(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps ("hots" → "host" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}
