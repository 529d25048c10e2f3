/**
 * Rule matching: a policy rule compiled once into two tests, one on the principal (`when`) and one on the target
 * (`on`). Globs share the catalog's glob syntax (`*`, `?`), so `on.tools` reads like a virtual server's selection.
 */
import type { Principal } from '../auth/principal.ts';
import { globToRegExp } from '../catalog/glob.ts';
import { compileCel } from './cel.ts';
import type { CelCondition, CelVariables } from './cel.ts';
import type { PolicyRuleConfig } from './config.ts';

export type TargetKind = 'tool' | 'prompt' | 'resource' | 'resourceTemplate';

/** What a decision is about: an item as a virtual server lists it, and the upstream behind it. */
export interface PolicyTarget {
  readonly virtualServer: string;
  /** null when the name is not in the virtual server's view (an unknown tool). */
  readonly upstream: string | null;
  readonly kind: TargetKind;
  /** The listed name (tools, prompts) or URI (resources) or URI template (resource templates). */
  readonly name: string;
}

export interface CompiledRule {
  readonly name: string;
  readonly effect: 'allow' | 'deny';
  /** Every `when` condition except `cel`, which needs the target too. */
  matchesPrincipal(principal: Principal): boolean;
  matchesTarget(target: PolicyTarget): boolean;
  /** The rule's CEL condition, or null. */
  readonly cel: CelCondition | null;
}

type Test<T> = (value: T) => boolean;

export function compileRule(rule: PolicyRuleConfig): CompiledRule {
  const principalTests: Test<Principal>[] = [];
  const { when, on } = rule;
  if (when.subjects) {
    const set = new Set(when.subjects);
    principalTests.push((p) => p.subject !== null && set.has(p.subject));
  }
  if (when.groups) {
    const set = new Set(when.groups);
    principalTests.push((p) => p.groups.some((g) => set.has(g)));
  }
  if (when.scopes) {
    const required = when.scopes;
    principalTests.push((p) => required.every((s) => p.scopes.includes(s)));
  }
  if (when.claims) {
    for (const [key, expected] of Object.entries(when.claims)) {
      const wanted = Array.isArray(expected) ? expected : [expected];
      principalTests.push((p) => claimMatches(Object.hasOwn(p.claims, key) ? p.claims[key] : undefined, wanted));
    }
  }
  if (when.apiKeyOwners) {
    const set = new Set(when.apiKeyOwners);
    principalTests.push((p) => p.apiKey !== null && set.has(p.apiKey.owner));
  }
  if (when.principalKinds) {
    const set = new Set<string>(when.principalKinds);
    principalTests.push((p) => set.has(p.kind));
  }

  const targetTests: Test<PolicyTarget>[] = [];
  if (on.virtualServers) targetTests.push(globTest(on.virtualServers, (t) => t.virtualServer));
  if (on.upstreams) {
    const test = globTest(on.upstreams, (t) => t.upstream ?? '');
    targetTests.push((t) => t.upstream !== null && test(t));
  }
  // Kind keys: the rule is about the kinds named, and within each kind about the names its globs match.
  if (on.tools || on.prompts || on.resources) {
    const byKind: Partial<Record<TargetKind, Test<PolicyTarget>>> = {};
    if (on.tools) byKind.tool = globTest(on.tools, (t) => t.name);
    if (on.prompts) byKind.prompt = globTest(on.prompts, (t) => t.name);
    if (on.resources) byKind.resource = byKind.resourceTemplate = globTest(on.resources, (t) => t.name);
    targetTests.push((t) => byKind[t.kind]?.(t) ?? false);
  }

  return {
    name: rule.name,
    effect: rule.effect,
    matchesPrincipal: all(principalTests),
    matchesTarget: all(targetTests),
    cel: when.cel === undefined ? null : compileCel(when.cel),
  };
}

/** The CEL view of a principal: built once per principal, not per decision. */
export function celPrincipal(p: Principal): CelVariables['principal'] {
  return { id: p.id, kind: p.kind, subject: p.subject, issuer: p.issuer, scopes: p.scopes, groups: p.groups, claims: p.claims };
}

function claimMatches(actual: unknown, wanted: readonly (string | number | boolean)[]): boolean {
  if (Array.isArray(actual)) return actual.some((a) => wanted.includes(a as string));
  return wanted.includes(actual as string);
}

function globTest(globs: readonly string[], pick: (t: PolicyTarget) => string): Test<PolicyTarget> {
  const res = globs.map(globToRegExp);
  return (t) => {
    const value = pick(t);
    for (const re of res) if (re.test(value)) return true;
    return false;
  };
}

function all<T>(tests: readonly Test<T>[]): Test<T> {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (value) => {
    for (const test of tests) if (!test(value)) return false;
    return true;
  };
}
