/**
 * The `policy` (authorization rules) and `rateLimits` sections of the config. A policy rule's CEL expression is
 * compiled here once to reject a bad one at load, naming the rule; src/policy/rules.ts compiles it for use.
 */
import { z } from 'zod';
import { compileCel } from './cel.ts';

/** A non-empty list: an empty `groups: []` would silently match nobody (or, for scopes, everybody). */
const list = z.array(z.string().min(1)).min(1, 'a non-empty list');

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

/** Who a rule is about: every key given must match the principal; an absent key matches everyone. */
const whenSchema = z.strictObject({
  /** Any of these token subjects. */
  subjects: list.optional(),
  /** Any of these groups. */
  groups: list.optional(),
  /** All of these scopes. */
  scopes: list.optional(),
  /** Every listed claim equals the value (or any of the values); an array claim matches when it contains one. */
  claims: z.record(z.string(), z.union([claimValue, z.array(claimValue).min(1, 'a non-empty list')])).optional(),
  /** Any of these API-key owners. */
  apiKeyOwners: list.optional(),
  /** Any of these principal kinds. */
  principalKinds: z.array(z.enum(['anonymous', 'oauth', 'api-key'])).min(1, 'a non-empty list').optional(),
  /** A CEL expression over `principal` and `target` that must be true. */
  cel: z.string().min(1).optional(),
});

/**
 * What a rule is about: every key given must match the target; an absent key matches everything. `tools`,
 * `prompts` and `resources` also restrict the rule to those kinds of target.
 */
const onSchema = z.strictObject({
  /** Virtual-server name globs; the default endpoint is "". */
  virtualServers: z.array(z.string()).min(1, 'a non-empty list').optional(),
  /** Upstream name globs. */
  upstreams: list.optional(),
  /** Tool-name globs over the names the virtual server lists ("fs__delete_*"). */
  tools: list.optional(),
  /** Prompt-name globs. */
  prompts: list.optional(),
  /** URI globs over resources and resource templates ("file:///public/*"). */
  resources: list.optional(),
});

const ruleSchema = z.strictObject({
  /** Appears in denial logs and in `gatehouse policy explain`. */
  name: z.string().min(1),
  effect: z.enum(['allow', 'deny']),
  when: whenSchema.default({}),
  on: onSchema.default({}),
});

export const policyConfigSchema = z.strictObject({
  /** What happens when no rule applies. */
  default: z.enum(['allow', 'deny']).default('allow'),
  /** Evaluate and log, but do not enforce: denials are counted and logged as shadow denials. */
  shadow: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(false),
  /** Any applicable deny wins over any applicable allow; otherwise any applicable allow allows; otherwise `default`. */
  rules: z.array(ruleSchema).default([]),
}).superRefine((policy, ctx) => {
  const seen = new Set<string>();
  policy.rules.forEach((rule, i) => {
    if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', input: rule.name, path: ['rules', i, 'name'], message: 'a rule name used only once' });
    seen.add(rule.name);
    if (rule.when.cel === undefined) return;
    try {
      compileCel(rule.when.cel);
    } catch (err) {
      ctx.addIssue({ code: 'custom', input: rule.when.cel, path: ['rules', i, 'when', 'cel'], message: `a valid CEL expression (rule "${rule.name}": ${(err as Error).message})` });
    }
  });
}).prefault({});

const RATE = 'a rate like 10/s, 600/m or 10000/h';
const RATE_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `10/s`, `600/m`, `10000/h` (also `10/sec`, `600/min`, `1/hour`): how many calls per window. */
export function parseRate(text: string): { count: number; windowMs: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/.exec(text);
  if (!m || Number(m[1]) <= 0) throw new Error(`not a rate: ${text}`);
  return { count: Number(m[1]), windowMs: RATE_UNIT_MS[m[2][0] as 's' | 'm' | 'h'] };
}

const rate = z.string({ error: RATE }).refine((v) => {
  try {
    parseRate(v);
    return true;
  } catch {
    return false;
  }
}, RATE);

const rateLimit = z.strictObject({
  /** Stable name: it keys the counters and appears in the error's `data.limit`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "-" and "." only, starting with a letter or digit'),
  /** What gets its own bucket. */
  per: z.enum(['principal', 'tool', 'upstream', 'principal+tool', 'principal+upstream']).default('principal'),
  /** Sustained rate (the bucket's refill). */
  rate,
  /** Bucket size: calls allowed at once after a quiet spell. Default: the rate's count (10/s -> 10). */
  burst: z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().positive()).optional(),
  /** Which calls count; absent = every tools/call, prompts/get and resources/read. */
  match: z.strictObject({
    /** Tool-name globs as the virtual server lists them; when set (with no prompts/resources), only tools/call counts. */
    tools: z.array(z.string()).optional(),
    /** Prompt-name globs (prompts/get). */
    prompts: z.array(z.string()).optional(),
    /** Resource-URI globs (resources/read). */
    resources: z.array(z.string()).optional(),
    /** Upstream names. */
    upstreams: z.array(z.string()).optional(),
    /** Virtual-server names; the default endpoint is "". */
    virtualServers: z.array(z.string()).optional(),
  }).optional(),
});

/** Token-bucket limits on calls; every limit that applies to a call must allow it. */
export const rateLimitsSchema = z.array(rateLimit).default([]).superRefine((limits, ctx) => {
  const seen = new Set<string>();
  limits.forEach((l, i) => {
    if (seen.has(l.name)) ctx.addIssue({ code: 'custom', input: l.name, path: [i, 'name'], message: 'a name used by no other rate limit' });
    seen.add(l.name);
  });
});

export type PolicyConfig = z.output<typeof policyConfigSchema>;
export type PolicyRuleConfig = PolicyConfig['rules'][number];
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
export type RateLimitConfig = RateLimitsConfig[number];
