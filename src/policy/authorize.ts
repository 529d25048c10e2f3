/**
 * The authorization decision: one predicate, `decide(principal, target)`, used alike to filter lists and to gate
 * calls, so the two can never disagree. Denies compose: any applicable deny wins over any applicable allow (a broad
 * deny is never erased by a narrower allow); otherwise any applicable allow allows; otherwise the default.
 */
import type { Principal } from '../auth/principal.ts';
import type { CelVariables } from './cel.ts';
import type { PolicyConfig } from './config.ts';
import { celPrincipal, compileRule } from './rules.ts';
import type { CompiledRule, PolicyTarget } from './rules.ts';

export interface Decision {
  /** Whether the target may be seen and used (always true in shadow mode). */
  readonly allowed: boolean;
  /** The rule that made the decision; null when the default did. */
  readonly rule: string | null;
  /** Shadow mode: the policy would have denied, but does not enforce. */
  readonly shadowed?: true;
}

export interface RuleOutcome {
  readonly name: string;
  readonly effect: 'allow' | 'deny';
  /** The principal matched `when` (apart from cel). */
  readonly principal: boolean;
  /** The target matched `on`. */
  readonly target: boolean;
  /** The CEL condition's result: true, false, an error message, or null when the rule has none. */
  readonly cel: boolean | string | null;
  readonly applies: boolean;
}

export interface Authorizer {
  readonly default: 'allow' | 'deny';
  readonly shadow: boolean;
  /** True when nothing can ever be denied (no rules and default allow): the stage is then left out. */
  readonly permitsAll: boolean;
  decide(principal: Principal, target: PolicyTarget): Decision;
  /** Every rule's outcome, in config order, for `gatehouse policy explain`. */
  outcomes(principal: Principal, target: PolicyTarget): RuleOutcome[];
}

interface PrincipalState {
  /** Per rule: does the principal meet its `when` (apart from cel)? */
  readonly matches: readonly boolean[];
  readonly cel: CelVariables['principal'];
}

/** Compile the `policy` section once (at config load); `decide` then costs a few array walks. */
export function compilePolicy(config: PolicyConfig): Authorizer {
  const rules = config.rules.map(compileRule);
  // Principals are stable per session: remember which rules' principal conditions they meet.
  const states = new WeakMap<Principal, PrincipalState>();
  const stateOf = (p: Principal): PrincipalState => {
    let s = states.get(p);
    if (!s) {
      s = { matches: rules.map((r) => r.matchesPrincipal(p)), cel: celPrincipal(p) };
      states.set(p, s);
    }
    return s;
  };
  const allowDefault: Decision = Object.freeze({ allowed: true, rule: null });
  const denyDefault: Decision = Object.freeze(config.shadow ? { allowed: true, rule: null, shadowed: true } : { allowed: false, rule: null });

  return {
    default: config.default,
    shadow: config.shadow,
    permitsAll: rules.length === 0 && config.default === 'allow',
    decide(principal, target) {
      const state = stateOf(principal);
      let allowedBy: string | null = null;
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i];
        if (!state.matches[i] || (rule.effect === 'allow' && allowedBy !== null) || !rule.matchesTarget(target)) continue;
        if (!celApplies(rule, state.cel, target)) continue;
        if (rule.effect === 'deny') return config.shadow ? { allowed: true, rule: rule.name, shadowed: true } : { allowed: false, rule: rule.name };
        allowedBy = rule.name;
      }
      if (allowedBy !== null) return { allowed: true, rule: allowedBy };
      return config.default === 'allow' ? allowDefault : denyDefault;
    },
    outcomes(principal, target) {
      const state = stateOf(principal);
      return rules.map((rule, i) => {
        const cel = rule.cel === null ? null : celResult(rule, state.cel, target);
        const applies = state.matches[i] && rule.matchesTarget(target) && celApplies(rule, state.cel, target);
        return { name: rule.name, effect: rule.effect, principal: state.matches[i], target: rule.matchesTarget(target), cel, applies };
      });
    },
  };
}

/**
 * A CEL condition that fails at run time (a missing claim, a type mismatch) is fail-closed: it makes a deny rule
 * apply and an allow rule not apply. Use `has(principal.claims.x)` to test for a claim that may be absent.
 */
function celApplies(rule: CompiledRule, principal: CelVariables['principal'], target: PolicyTarget): boolean {
  if (rule.cel === null) return true;
  const result = celResult(rule, principal, target);
  return typeof result === 'string' ? rule.effect === 'deny' : result;
}

function celResult(rule: CompiledRule, principal: CelVariables['principal'], target: PolicyTarget): boolean | string {
  try {
    const value = rule.cel!({ principal, target });
    return typeof value === 'boolean' ? value : `the expression gave ${typeof value}, not bool`;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}
