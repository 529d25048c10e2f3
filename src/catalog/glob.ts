/** Name globs for selections: `*` matches any run of characters, `?` one character; the rest is literal. */

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    cache.set(glob, re);
  }
  return re;
}

export function matchesAny(name: string, globs: readonly string[]): boolean {
  for (const g of globs) if (globToRegExp(g).test(name)) return true;
  return false;
}
