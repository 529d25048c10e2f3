/**
 * `gatehouse policy explain`: the decision the policy makes for one principal and one target, and the rule that
 * made it, computed by the same `decide` the gateway runs, plus every rule's outcome to show why.
 */
import type { Principal } from '../auth/principal.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { compilePolicy } from './authorize.ts';
import type { Decision, RuleOutcome } from './authorize.ts';
import type { PolicyTarget, TargetKind } from './rules.ts';

export interface ExplainQuery {
  readonly kind: TargetKind;
  /** As the virtual server lists it (tools, prompts) or the URI (resources). */
  readonly name: string;
  /** '' (the default endpoint) when absent. */
  readonly virtualServer?: string;
  /** Inferred from a namespaced name (`fs__read` → `fs`) or a single upstream when absent. */
  readonly upstream?: string;
}

export interface Explanation {
  readonly principal: Principal;
  readonly target: PolicyTarget;
  /** How `target.upstream` was found: given, inferred from the name, the only upstream, or unknown. */
  readonly upstreamFrom: 'given' | 'name' | 'only-upstream' | 'unknown';
  readonly decision: Decision;
  readonly default: 'allow' | 'deny';
  readonly shadow: boolean;
  readonly rules: readonly RuleOutcome[];
}

/**
 * A principal from JSON: either token claims (`sub`, `iss`, `groups`, `scope` or `scopes`, any other claim) or the
 * Principal's own fields (`subject`, `kind`, `apiKey: {id, owner}`, ...). Throws on anything else.
 */
export function principalFromJson(value: unknown): Principal {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the principal must be a JSON object');
  const v = value as Record<string, unknown>;
  const str = (x: unknown, key: string): string | null => {
    if (x === undefined || x === null) return null;
    if (typeof x !== 'string') throw new Error(`principal.${key} must be a string`);
    return x;
  };
  const strings = (x: unknown, key: string): string[] => {
    if (x === undefined) return [];
    if (typeof x === 'string') return x.split(' ').filter(Boolean);
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string')) throw new Error(`principal.${key} must be a list of strings`);
    return x;
  };
  const subject = str(v.subject ?? v.sub, 'sub');
  const issuer = str(v.issuer ?? v.iss, 'iss');
  let apiKey: Principal['apiKey'] = null;
  if (v.apiKey !== undefined && v.apiKey !== null) {
    const k = v.apiKey as Record<string, unknown>;
    if (typeof k !== 'object' || typeof k.owner !== 'string') throw new Error('principal.apiKey must be {"id": ..., "owner": ...}');
    apiKey = { id: typeof k.id === 'string' ? k.id : 'explain', owner: k.owner };
  }
  const kind = v.kind ?? (apiKey ? 'api-key' : subject !== null ? 'oauth' : 'anonymous');
  if (kind !== 'anonymous' && kind !== 'oauth' && kind !== 'api-key') throw new Error('principal.kind must be anonymous, oauth or api-key');
  const id = str(v.id, 'id') ?? (kind === 'api-key' ? `key:${apiKey?.id ?? 'explain'}` : kind === 'oauth' ? `oauth:${issuer ?? ''}#${subject ?? ''}` : 'anonymous');
  const claims = v.claims !== undefined && typeof v.claims === 'object' && v.claims !== null ? (v.claims as Record<string, unknown>) : v;
  return { id, kind, subject, issuer, scopes: strings(v.scopes ?? v.scope, 'scopes'), groups: strings(v.groups, 'groups'), claims, apiKey };
}

export function explain(config: GatehouseConfig, principal: Principal, query: ExplainQuery): Explanation {
  const virtualServer = query.virtualServer ?? '';
  if (virtualServer !== '' && !Object.hasOwn(config.virtualServers, virtualServer)) {
    throw new Error(`no virtual server "${virtualServer}" in the config (known: ${Object.keys(config.virtualServers).join(', ') || 'none'})`);
  }
  let upstream: string | null = query.upstream ?? null;
  let upstreamFrom: Explanation['upstreamFrom'] = upstream === null ? 'unknown' : 'given';
  if (upstream === null) {
    const names = Object.keys(config.upstreams);
    const prefixed = query.kind === 'tool' || query.kind === 'prompt' ? names.filter((u) => query.name.startsWith(u + config.namespacing.separator)) : [];
    if (prefixed.length > 0) {
      upstream = prefixed.sort((a, b) => b.length - a.length)[0];
      upstreamFrom = 'name';
    } else if (names.length === 1) {
      upstream = names[0];
      upstreamFrom = 'only-upstream';
    }
  }
  const target: PolicyTarget = { virtualServer, upstream, kind: query.kind, name: query.name };
  const authorizer = compilePolicy(config.policy);
  return {
    principal,
    target,
    upstreamFrom,
    decision: authorizer.decide(principal, target),
    default: config.policy.default,
    shadow: config.policy.shadow,
    rules: authorizer.outcomes(principal, target),
  };
}

/** The human-readable report the CLI prints. */
export function formatExplanation(e: Explanation): string {
  const { decision, target } = e;
  const enforced = decision.shadowed ? 'deny (shadow mode: logged, not enforced)' : decision.allowed ? 'allow' : 'deny';
  const by = decision.rule === null ? `the default (policy.default: ${e.default})` : `rule "${decision.rule}" (${e.rules.find((r) => r.name === decision.rule)?.effect})`;
  const upstreamNote = { given: '', name: ' (from the name)', 'only-upstream': ' (the only upstream)', unknown: '' }[e.upstreamFrom];
  const lines = [
    `decision: ${enforced}`,
    `rule: ${by}`,
    `principal: ${e.principal.id} (kind ${e.principal.kind}; groups [${e.principal.groups.join(', ')}]; scopes [${e.principal.scopes.join(', ')}])`,
    `target: ${target.kind} "${target.name}" on virtual server ${target.virtualServer === '' ? '(default endpoint)' : `"${target.virtualServer}"`}, upstream ${target.upstream ?? '(unknown: pass --upstream)'}${upstreamNote}`,
  ];
  if (e.rules.length > 0) {
    lines.push('rules:');
    for (const r of e.rules) {
      const why = r.applies ? 'applies' : !r.principal ? 'principal does not match "when"' : !r.target ? 'target does not match "on"' : typeof r.cel === 'string' ? 'cel failed, so this allow does not apply' : 'cel is false';
      const celNote = typeof r.cel === 'string' ? ` (cel error: ${r.cel})` : '';
      lines.push(`  ${r.applies ? '*' : '-'} ${r.name} (${r.effect}): ${why}${celNote}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
