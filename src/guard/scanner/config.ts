/**
 * The `scanner` config keys (issue 4, src/guard/scanner/): whether listed definitions are scanned, the policy that
 * turns findings into allow / warn / quarantine, rules switched off, the optional HTTP classifier, and the size limit.
 */
import { z } from 'zod';

const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const int = (min: number, max: number) => z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(min).max(max));
const severity = z.enum(['info', 'low', 'medium', 'high', 'critical']);

const DURATION = 'a duration like 500ms, 2s or 1m';
const duration = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m)$/, DURATION)], { error: DURATION })
  .transform((v) => (typeof v === 'number' ? v : Number(v.slice(0, v.search(/[a-z]/))) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[v.replace(/^\d+/, '') as 'ms' | 's' | 'm']));

/** How findings become a verdict: the worst severity decides, and many weaker findings add up by score. */
export const scanPolicySchema = z.strictObject({
  /** A finding at or above this severity quarantines the definition. */
  quarantine: severity.default('high'),
  /** A finding at or above this severity (and below `quarantine`) warns. */
  warn: severity.default('medium'),
  /** A score (sum of weights: low 1, medium 4, high 10, critical 25) at or above this quarantines. */
  quarantineScore: int(1, 1_000).default(16),
  /** A score at or above this warns (three low findings by default). */
  warnScore: int(1, 1_000).default(3),
}).prefault({});

export const classifierSchema = z.strictObject({
  /** POSTed `{ kind, name, upstream, fields: [{ path, text }] }`; answers `{ findings: [...] }` or `{ label, score }`. */
  url: z.url({ error: 'a URL like http://127.0.0.1:8000/classify' }),
  timeout: duration.default(2_000),
  /** open: a classifier that fails or times out adds nothing; closed: it quarantines the definition. */
  failMode: z.enum(['open', 'closed']).default('open'),
  /** `label`/`score` answers at or above this score are findings. */
  threshold: z.number().min(0).max(1).default(0.5),
  /** Sent as a Bearer token; use ${ENV} rather than writing it here. */
  apiKey: z.string().min(1).optional(),
});

const score = z.number().min(0).max(1);

/** Scores of the directive-language model at which a sentence is a finding of each severity. */
export const directiveThresholdsSchema = z.strictObject({
  /** At or above: high (quarantines by the default policy). */
  high: score.default(0.97),
  /** At or above: medium (warns). */
  medium: score.default(0.9),
  /** At or above: low (adds to the score). */
  low: score.default(0.75),
}).prefault({}).refine((t) => t.high >= t.medium && t.medium >= t.low, { error: 'high must be at least medium, and medium at least low' });

export const scannerSchema = z.strictObject({
  enabled: flag.default(true),
  policy: scanPolicySchema,
  /** Rule ids (`hidden.conceal-from-user`) or families (`encoded`) whose findings are dropped. */
  disabledRules: z.array(z.string().regex(/^[a-z][a-z0-9.-]*$/, 'a rule id like hidden.coercion or a family like encoded')).default([]),
  classifier: classifierSchema.optional(),
  /** Canonical JSON bytes above which a definition is abnormally large. */
  maxDefinitionBytes: int(1_024, 16 << 20).default(32_768),
  directive: directiveThresholdsSchema,
}).prefault({});

export type ScannerConfig = z.output<typeof scannerSchema>;
export type ScanPolicy = z.output<typeof scanPolicySchema>;
export type ClassifierConfig = z.output<typeof classifierSchema>;
