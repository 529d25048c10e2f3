/**
 * `${VAR}`, `${VAR:-default}` and `${file:/path/to/secret}` in config values. Runs on the parsed YAML tree,
 * before validation, and only on string scalars that are values: keys, numbers and booleans are never touched,
 * so a reference can never change the document's structure. `$${` writes a literal `${`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type Scalar } from 'yaml';

export interface InterpolateOptions {
  /** Where `${VAR}` looks; usually process.env. */
  env: Readonly<Record<string, string | undefined>>;
  /** Relative `${file:…}` paths are resolved against this directory (the config file's). */
  baseDir: string;
  /** Reads a `${file:…}` secret; defaults to a synchronous UTF-8 read (config loading is not the hot path). */
  readFile?: (path: string) => string;
}

/** A reference that cannot be resolved; `variable` names it (`GITHUB_TOKEN`, `file:/run/secrets/x`). */
export class InterpolationError extends Error {
  readonly variable: string | undefined;
  constructor(message: string, variable?: string) {
    super(message);
    this.name = 'InterpolationError';
    this.variable = variable;
  }
}

const VAR = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Resolve every reference in `text`. `resolved` says whether any `${…}` was substituted, so the caller knows the
 * value may hold a secret and must not be echoed in error messages.
 */
export function interpolate(text: string, options: InterpolateOptions): { value: string; resolved: boolean } {
  let out = '';
  let resolved = false;
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$', i);
    if (start < 0) break;
    out += text.slice(i, start);
    if (text.startsWith('$${', start)) {
      out += '${';
      i = start + 3;
    } else if (text.startsWith('${', start)) {
      const end = closingBrace(text, start + 2);
      if (end < 0) throw new InterpolationError(`unterminated "\${" (write "$\${" for a literal "\${")`);
      out += resolveReference(text.slice(start + 2, end), options);
      resolved = true;
      i = end + 1;
    } else {
      out += '$';
      i = start + 1;
    }
  }
  out += text.slice(i);
  return { value: out, resolved };
}

/** Index of the `}` closing a reference whose body starts at `from`; nested `${…}` (in defaults) and `$${…}` pair up. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text.startsWith('$${', i)) {
      depth++;
      i += 2;
    } else if (text.startsWith('${', i)) {
      depth++;
      i += 1;
    } else if (text[i] === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function resolveReference(body: string, options: InterpolateOptions): string {
  if (body.startsWith('file:')) {
    const path = body.slice('file:'.length);
    if (path === '') throw new InterpolationError('"${file:}" needs a path, like ${file:/run/secrets/token}', body);
    const full = isAbsolute(path) ? path : resolve(options.baseDir, path);
    try {
      return (options.readFile ?? readUtf8)(full).trim();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new InterpolationError(`cannot read secret file ${full} (${reason})`, body);
    }
  }
  const m = VAR.exec(body);
  if (!m) {
    throw new InterpolationError(`"\${${body}}" is not a valid reference; write \${NAME}, \${NAME:-default} or \${file:/path} ("$\${" for a literal "\${")`);
  }
  const [, name, fallback] = m;
  const value = options.env[name];
  if (fallback === undefined) {
    if (value === undefined) throw new InterpolationError(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`, name);
    return value;
  }
  // `:-` as in the shell: the default also replaces an empty value.
  return value === undefined || value === '' ? interpolate(fallback, options).value : value;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

/** A reference that failed, with the node and key path to report it at. */
export interface InterpolationProblem {
  node: Node;
  path: PropertyKey[];
  error: InterpolationError;
}

/**
 * Interpolate every string value scalar of `doc` in place. Returns the original text of each scalar that had a
 * reference substituted (so errors can show `${PORT}` rather than the value) and every reference that failed.
 * An aliased node is visited once, where its anchor is.
 */
export function interpolateDocument(doc: Document, options: InterpolateOptions): { sources: Map<Node, string>; problems: InterpolationProblem[] } {
  const sources = new Map<Node, string>();
  const problems: InterpolationProblem[] = [];
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (isAlias(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        walk(pair.value, [...path, String(key)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      const scalar = node as Scalar<string>;
      try {
        const { value, resolved } = interpolate(scalar.value, options);
        if (resolved) sources.set(scalar, scalar.value);
        scalar.value = value;
      } catch (err) {
        if (!(err instanceof InterpolationError)) throw err;
        problems.push({ node: scalar, path, error: err });
      }
    }
  };
  walk(doc.contents, []);
  return { sources, problems };
}
