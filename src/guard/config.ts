/**
 * The `resultGuard` config keys (issue 4, src/guard/result-guard.ts): top level for the default endpoint and as the
 * default of every virtual server, and per virtual server, where each key given replaces the top-level one.
 * Configured PII patterns are compiled here, so a bad regex is a config error that names its key.
 */
import { z } from 'zod';
import { PII_BUILTINS } from './redact.ts';

const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const bytes = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(1024).max(1 << 30));

const piiPattern = z.strictObject({
  /** Names the kind in `[REDACTED:<name>]` and in findings. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'a name of letters, digits, "_", "-" and "."'),
  /** A JavaScript regular expression; what it matches is replaced. */
  pattern: z.string().min(1),
  /** Regex flags besides `g` (which is always set): i, m, s, u, v. */
  flags: z.string().regex(/^[imsuv]*$/, 'regex flags among i, m, s, u, v').optional(),
  /** Literal text written instead (no `$1` references); default `[REDACTED:<name>]`. */
  replacement: z.string().optional(),
}).superRefine((p, ctx) => {
  let compiled: RegExp;
  try {
    compiled = new RegExp(p.pattern, p.flags ?? '');
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['pattern'], input: p.pattern, message: `a valid JavaScript regular expression (${(err as Error).message})` });
    return;
  }
  // A pattern that matches nothing at all would "redact" between every character.
  if (compiled.test('')) ctx.addIssue({ code: 'custom', path: ['pattern'], input: p.pattern, message: 'a pattern that cannot match the empty string' });
});

const fields = {
  /** Scan tools/call, resources/read and prompts/get results on this endpoint. */
  enabled: flag,
  /**
   * What a suspected prompt injection in a result does: off (not scanned), flag (delivered with a warning item and
   * the findings in `_meta["io.gatehouse/guard"]`), strip (the suspicious spans removed, and said so), block (the
   * result withheld, GH_ERR_GUARD_BLOCKED).
   */
  injection: z.enum(['off', 'flag', 'strip', 'block']),
  /** Findings below this severity are ignored (low < medium < high). */
  minSeverity: z.enum(['low', 'medium', 'high']),
  /** Replace cloud keys, tokens, private keys, JWTs and URL passwords in results with `[REDACTED:<kind>]`. */
  redactSecrets: flag,
  /** Personal data redacted in results as well. */
  pii: z.strictObject({
    /** Built-in detectors: email, phone, credit-card (Luhn), iban (mod 97), us-ssn. */
    builtins: z.array(z.enum(PII_BUILTINS)).default([]),
    patterns: z.array(piiPattern).default([]),
  }).prefault({}),
  /**
   * Text scanned per result (UTF-16 units, which equal bytes for ASCII). The rest passes unscanned and is counted in
   * `_meta`; with `injection: block` a result too large to scan is withheld (fail closed).
   */
  maxScanBytes: bytes,
};

export const resultGuardSchema = z.strictObject({
  enabled: fields.enabled.default(false),
  injection: fields.injection.default('flag'),
  minSeverity: fields.minSeverity.default('medium'),
  redactSecrets: fields.redactSecrets.default(true),
  pii: fields.pii,
  maxScanBytes: fields.maxScanBytes.default(1 << 20),
}).prefault({});

/** A virtual server's `resultGuard`: the keys it gives replace the top-level ones. */
export const resultGuardOverrideSchema = z.strictObject({
  enabled: fields.enabled.optional(),
  injection: fields.injection.optional(),
  minSeverity: fields.minSeverity.optional(),
  redactSecrets: fields.redactSecrets.optional(),
  pii: fields.pii.optional(),
  maxScanBytes: fields.maxScanBytes.optional(),
}).optional();

export type ResultGuardConfig = z.output<typeof resultGuardSchema>;
export type ResultGuardOverride = z.output<typeof resultGuardOverrideSchema>;
