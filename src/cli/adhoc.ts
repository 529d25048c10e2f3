/**
 * `--upstream NAME=COMMAND_OR_URL` for config-free use: a URL becomes a streamable-HTTP upstream (legacy SSE
 * when its path ends in /sse), anything else a stdio command line, split like a shell would (quotes kept).
 */

export type AdhocUpstream = { transport: 'stdio'; command: string; args: string[] } | { transport: 'http' | 'sse'; url: string };

/** What a set of `--upstream` flags configures: the same NAME given again adds a replica of that upstream. */
export type AdhocReplicated = { transport: 'stdio'; command: string; args: string[]; replicas: number } | { transport: 'http' | 'sse'; url: string[] };

export function parseUpstreamFlags(flags: readonly string[]): Record<string, AdhocReplicated> {
  const upstreams: Record<string, AdhocReplicated> = {};
  for (const flag of flags) {
    const { name, upstream } = parseUpstreamFlag(flag);
    const seen = upstreams[name];
    if (seen === undefined) {
      upstreams[name] = upstream.transport === 'stdio' ? { ...upstream, replicas: 1 } : { transport: upstream.transport, url: [upstream.url] };
    } else if (seen.transport === 'stdio' && upstream.transport === 'stdio') {
      if (seen.command !== upstream.command || seen.args.join('\0') !== upstream.args.join('\0')) {
        throw new Error(`--upstream ${name} is given with two different commands; replicas of a stdio upstream run the same command`);
      }
      seen.replicas++;
    } else if (seen.transport !== 'stdio' && seen.transport === upstream.transport) {
      seen.url.push((upstream as { url: string }).url);
    } else {
      throw new Error(`--upstream ${name} is given as both ${seen.transport} and ${upstream.transport}; every replica of an upstream speaks the same transport`);
    }
  }
  return upstreams;
}

export function parseUpstreamFlag(flag: string): { name: string; upstream: AdhocUpstream } {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new Error(`--upstream expects NAME=COMMAND_OR_URL, got "${flag}"`);
  const name = flag.slice(0, eq).trim();
  const value = flag.slice(eq + 1).trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`--upstream name "${name}" may use letters, digits, "_", "-" and "." only`);
  if (value === '') throw new Error(`--upstream ${name}= needs a command or a URL`);
  if (/^https?:\/\//i.test(value)) {
    const path = new URL(value).pathname;
    return { name, upstream: { transport: /\/sse\/?$/.test(path) ? 'sse' : 'http', url: value } };
  }
  const [command, ...args] = splitCommandLine(value);
  return { name, upstream: { transport: 'stdio', command, args } };
}

/** Split a command line into words: whitespace separates, single/double quotes group, backslash escapes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in "${line}"`);
  if (inWord) words.push(word);
  return words;
}
