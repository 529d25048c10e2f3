/**
 * Seeded random policies, principals and tool names for the policy property tests, and an oracle: the documented
 * semantics read literally, written apart from src/policy so the two can check each other.
 */
import type { Principal } from '../../src/auth/principal.ts';
import type { PolicyTarget } from '../../src/policy/rules.ts';

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random principals, rules and tool names over small vocabularies, so that rules often collide. */
export function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const some = <T>(xs: readonly T[]): T[] => {
    const out = xs.filter(() => r() < 0.4);
    return out.length > 0 ? out : [pick(xs)];
  };
  const maybe = (p: number) => r() < p;
  const UPSTREAMS = ['fs', 'gh'];
  const TOOLS = UPSTREAMS.flatMap((u) => ['read_file', 'write_file', 'delete_file', 'list_dir', 'search'].map((t) => `${u}__${t}`));
  const GLOBS = ['*__delete_*', '*__write_*', 'fs__*', 'gh__*', '*', 'gh__search', '*_?ile', 'nothing'];
  // Each CEL expression with an independent JS reading; 'error' = fails at run time.
  const CELS: [string, (p: Principal, t: PolicyTarget) => boolean | 'error'][] = [
    ['"eng" in principal.groups', (p) => p.groups.includes('eng')],
    ['target.name.startsWith("gh__")', (_p, t) => t.name.startsWith('gh__')],
    ['principal.claims.level > 1', (p) => (p.claims.level === undefined ? 'error' : (p.claims.level as number) > 1)],
    ['target.upstream == "fs" && principal.subject == "alice"', (p, t) => t.upstream === 'fs' && p.subject === 'alice'],
    ['principal.scopes.exists(s, s == "mcp:admin")', (p) => p.scopes.includes('mcp:admin')],
  ];
  return {
    tools: TOOLS,
    principal(): Principal {
      const subject = maybe(0.85) ? pick(['alice', 'bob', 'carl', 'dana']) : null;
      const claims: Record<string, unknown> = {};
      if (maybe(0.6)) claims.org = pick(['acme', 'globex']);
      if (maybe(0.5)) claims.level = pick([1, 2, 3]);
      if (maybe(0.3)) claims.roles = some(['admin', 'dev', 'viewer']);
      const apiKey = !subject && maybe(0.5) ? { id: 'k', owner: pick(['ci-bot', 'deployer']) } : null;
      const kind = subject ? 'oauth' : apiKey ? 'api-key' : 'anonymous';
      return {
        id: subject ? `oauth:idp#${subject}` : apiKey ? 'key:k' : 'anonymous',
        kind,
        subject,
        issuer: subject ? 'idp' : null,
        scopes: maybe(0.8) ? some(['mcp:tools', 'mcp:read', 'mcp:admin']) : [],
        groups: maybe(0.8) ? some(['eng', 'ops', 'contractors', 'sales']) : [],
        claims,
        apiKey,
      };
    },
    rules(): { config: Record<string, unknown>; cel: Map<string, (p: Principal, t: PolicyTarget) => boolean | 'error'> } {
      const cel = new Map<string, (p: Principal, t: PolicyTarget) => boolean | 'error'>();
      const rules = Array.from({ length: Math.floor(r() * 6) }, (_, i) => {
        const when: Record<string, unknown> = {};
        if (maybe(0.2)) when.subjects = some(['alice', 'bob', 'carl', 'dana']);
        if (maybe(0.35)) when.groups = some(['eng', 'ops', 'contractors', 'sales']);
        if (maybe(0.2)) when.scopes = some(['mcp:tools', 'mcp:read', 'mcp:admin']);
        if (maybe(0.15)) when.claims = maybe(0.5) ? { org: pick(['acme', 'globex']) } : { roles: some(['admin', 'dev', 'viewer']) };
        if (maybe(0.1)) when.apiKeyOwners = some(['ci-bot', 'deployer']);
        if (maybe(0.1)) when.principalKinds = some(['anonymous', 'oauth', 'api-key']);
        if (maybe(0.15)) {
          const [source, reading] = pick(CELS);
          when.cel = source;
          cel.set(`r${i}`, reading);
        }
        const on: Record<string, unknown> = {};
        if (maybe(0.25)) on.upstreams = some(UPSTREAMS);
        if (maybe(0.5)) on.tools = some(GLOBS);
        if (maybe(0.1)) on.virtualServers = some(['', 'ops']);
        if (maybe(0.1)) on.prompts = some(GLOBS);
        return { name: `r${i}`, effect: maybe(0.4) ? 'deny' : 'allow', when, on };
      });
      return { config: { default: maybe(0.5) ? 'allow' : 'deny', rules }, cel };
    },
    virtualServer: () => (maybe(0.7) ? '' : 'ops'),
  };
}

/** A naive wildcard match, written apart from the catalog's glob compiler. */
function wildcard(glob: string, s: string): boolean {
  if (glob === '') return s === '';
  if (glob[0] === '*') return wildcard(glob.slice(1), s) || (s !== '' && wildcard(glob, s.slice(1)));
  return s !== '' && (glob[0] === '?' || glob[0] === s[0]) && wildcard(glob.slice(1), s.slice(1));
}

/** The documented semantics, read literally. */
export function oracle(config: any, cel: Map<string, (p: Principal, t: PolicyTarget) => boolean | 'error'>, p: Principal, t: PolicyTarget): boolean {
  const applies = (rule: any): boolean => {
    const w = rule.when;
    if (w.subjects && !(p.subject !== null && w.subjects.includes(p.subject))) return false;
    if (w.groups && !w.groups.some((g: string) => p.groups.includes(g))) return false;
    if (w.scopes && !w.scopes.every((s: string) => p.scopes.includes(s))) return false;
    for (const [k, v] of Object.entries(w.claims ?? {})) {
      const wanted = Array.isArray(v) ? v : [v];
      const actual = p.claims[k];
      if (!(Array.isArray(actual) ? actual.some((a) => wanted.includes(a)) : wanted.includes(actual))) return false;
    }
    if (w.apiKeyOwners && !(p.apiKey && w.apiKeyOwners.includes(p.apiKey.owner))) return false;
    if (w.principalKinds && !w.principalKinds.includes(p.kind)) return false;
    const o = rule.on;
    if (o.virtualServers && !o.virtualServers.some((g: string) => wildcard(g, t.virtualServer))) return false;
    if (o.upstreams && !(t.upstream !== null && o.upstreams.some((g: string) => wildcard(g, t.upstream!)))) return false;
    if (o.tools || o.prompts || o.resources) {
      const globs = t.kind === 'tool' ? o.tools : t.kind === 'prompt' ? o.prompts : o.resources;
      if (!globs || !globs.some((g: string) => wildcard(g, t.name))) return false;
    }
    if (w.cel) {
      const v = cel.get(rule.name)!(p, t);
      if (v === 'error' ? rule.effect !== 'deny' : !v) return false;
    }
    return true;
  };
  const applicable = config.rules.filter(applies);
  if (applicable.some((x: any) => x.effect === 'deny')) return false;
  if (applicable.some((x: any) => x.effect === 'allow')) return true;
  return config.default === 'allow';
}

