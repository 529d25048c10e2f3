/**
 * Secret and PII redaction (issue 4, result guard): detectors are data — a pattern, the capture group that holds the
 * secret, and a check that tells a real secret from a look-alike — and `redactValue` walks any JSON with them,
 * copying only what changed. A redacted secret reads `[REDACTED:<kind>]`; no character of it is kept.
 */
import type { JsonObject } from '../core/jsonrpc.ts';

/** A secret or PII detector. `pattern` is global; the span replaced is capture group `group` (0 = the match). */
export interface Detector {
  readonly kind: string;
  readonly pattern: RegExp;
  /** With the `d` flag; -1 = the first group that took part (alternatives that each capture the value). */
  readonly group?: number;
  /** Cheap non-global test that must pass before `pattern` runs (a literal the secret always carries). */
  readonly hint?: RegExp;
  /** Tells a real secret from a look-alike (a checksum, a decoded header, randomness). */
  readonly validate?: (secret: string) => boolean;
  /** Written in place of the secret; default `[REDACTED:<kind>]`. */
  readonly replacement?: string;
}

/** One redaction: what was found and where (a JSON Pointer, RFC 6901, into the value given). Never the secret. */
export interface Finding {
  readonly kind: string;
  readonly path: string;
}

/** Detectors compiled once per config (`compileRedaction`). */
export interface RedactionRules {
  readonly detectors: readonly Detector[];
  /** Any hint of any detector: a string that fails it costs one regex test and nothing else. */
  readonly prefilter: RegExp | null;
  /** Redact whole string values under keys named like secrets (`password`, `apiKey`, `client_secret`, …). */
  readonly secretKeys: boolean;
}

export interface RedactResult<T> {
  /** The same object as the input when nothing was redacted. */
  readonly value: T;
  readonly findings: readonly Finding[];
}

/**
 * Several mixed-case letters and digits: what a random token has and an English word, a slug (`sk-learn-models`)
 * or a placeholder (`sk-xxxxxxxx`) does not. The chance that 20 random base62 characters lack a class is < 1e-4.
 */
function looksRandom(s: string): boolean {
  return /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s);
}

/** An env reference, template or mask, not a secret: `${DB_PASSWORD}`, `<token>`, `{{ secret }}`, `****`, `%s`. */
const PLACEHOLDER = /^(?:\$\{?[A-Za-z_]|\$\(|<[^>]*>?$|\{\{|%[sd(]|\*+$|x+$|\.\.\.|…|\[REDACTED)/i;

function notPlaceholder(s: string): boolean {
  return !PLACEHOLDER.test(s);
}

/** A JWT: the header is base64url JSON naming `alg` (RFC 7519 §7.2, RFC 7515 §4.1.1). */
function isJwt(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  try {
    const json = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && typeof (json as JsonObject).alg === 'string';
  } catch {
    return false;
  }
}

/** Luhn (ISO/IEC 7812-1) over the digits of `s`, 13–19 of them, with a known card-network prefix. */
export function isCardNumber(s: string): boolean {
  const digits = s.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19 || !/^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6(?:011|5|4[4-9]|2))/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1 && (d *= 2) > 9) d -= 9;
    sum += d;
  }
  return sum % 10 === 0;
}

/** IBAN mod-97 check (ISO 13616): the country and check digits moved to the end, letters as 10–35, remainder 1. */
export function isIban(s: string): boolean {
  const iban = s.replace(/ /g, '').toUpperCase();
  if (iban.length < 15 || iban.length > 34) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rest = (value > 9 ? rest * 100 + value : rest * 10 + value) % 97;
  }
  return rest === 1;
}

/** Only the assignment's value is replaced: `password=[REDACTED:generic-secret]` keeps the text readable. */
const ASSIGN_KEYS = String.raw`(?:password|passwd|passphrase|pwd|secret|client[_-]?secret|api[_-]?key|apikey|api[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token|token)`;

/**
 * The secret detectors, most specific first: when two overlap, the earlier wins (a JWT in an Authorization header
 * reads `Bearer [REDACTED:jwt]`, a GitHub token in `token=` reads `[REDACTED:github-token]`).
 */
export const SECRET_DETECTORS: readonly Detector[] = [
  { kind: 'private-key', hint: /PRIVATE KEY/, pattern: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----(?:[\s\S]*?-----END \1PRIVATE KEY\2-----|[A-Za-z0-9+/=\s\\:,.-]*)/g },
  { kind: 'aws-access-key-id', hint: /A[KS]IA|ABIA|ACCA/, pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/g },
  {
    kind: 'aws-secret-access-key',
    hint: /secret_?access_?key|aws_?secret/i,
    pattern: /(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/dgi,
    group: 1,
  },
  { kind: 'gcp-api-key', hint: /AIza/, pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g },
  { kind: 'azure-storage-key', hint: /AccountKey=|SharedAccessKey=/, pattern: /\b(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})/dg, group: 1 },
  { kind: 'azure-sas-signature', hint: /sig=/, pattern: /[?&;]sig=([A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})/dg, group: 1 },
  { kind: 'github-token', hint: /gh[pousr]_|github_pat_/, pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,251})(?![A-Za-z0-9_])/g },
  { kind: 'gitlab-token', hint: /glpat-/, pattern: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/g },
  { kind: 'slack-webhook', hint: /hooks\.slack\.com/, pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{20,}/g },
  { kind: 'slack-token', hint: /xox[abpre]-/, pattern: /(?<![A-Za-z0-9])xox[abpre]-[A-Za-z0-9-]{20,}(?![A-Za-z0-9-])/g, validate: (s) => /\d/.test(s) },
  { kind: 'stripe-key', hint: /[sr]k_(?:live|test)_/, pattern: /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{20,}(?![A-Za-z0-9_])/g },
  { kind: 'anthropic-key', hint: /sk-ant-/, pattern: /(?<![A-Za-z0-9_-])sk-ant-[a-z]+\d{2}-[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])/g },
  // Word-bounded so "task-list" or "risk-assessment" never match; the body must look random, so slugs do not.
  { kind: 'openai-key', hint: /sk-/, pattern: /(?<![A-Za-z0-9_-])sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/g, validate: (s) => looksRandom(s.slice(3)) },
  { kind: 'jwt', hint: /eyJ/, pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-])/g, validate: isJwt },
  // Only the password: the scheme, user and host stay, so the log still says where the connection went.
  { kind: 'url-password', hint: /:\/\/[^\s/?#@]+:[^\s/?#@]*@/, pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'<>]+:([^\s/?#@"'<>]+)@/dgi, group: 1, validate: notPlaceholder },
  {
    kind: 'bearer-token',
    hint: /authorization/i,
    pattern: /\bauthorization["']?\s*[:=]\s*["']?(?:bearer|basic|token|bot)\s+([A-Za-z0-9._~+/=-]{8,})/dgi,
    group: 1,
    validate: notPlaceholder,
  },
  // `key=value`, or `key: value` when the value is quoted or has a digit or symbol: "Password: at least 8
  // characters" in prose is no assignment. A quoted value is taken whole, spaces and all.
  {
    kind: 'generic-secret',
    hint: /pass|pwd|secret|token|api.?key/i,
    pattern: new RegExp(String.raw`(?<![A-Za-z0-9])${ASSIGN_KEYS}(?![A-Za-z0-9])["']?\s*(?:=\s*"([^"\n]{4,200})"|=\s*'([^'\n]{4,200})'|=\s*([^\s"'&;,<>]{4,})|:\s*"([^"\n]{4,200})"|:\s*'([^'\n]{4,200})'|:\s*((?=[^\s"',;]*[\d!@#$%^&*+/=_-])[^\s"',;<>]{6,}))`, 'dgi'),
    group: -1,
    validate: notPlaceholder,
  },
];

/** Built-in PII detectors an operator may enable by name (`resultGuard.pii.builtins`). */
export const PII_DETECTORS = {
  email: { kind: 'email', hint: /@/, pattern: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g },
  // Either a +country code or the NANP shape (555) 123-4567: bare digit runs (ids, timestamps) are not phones.
  phone: {
    kind: 'phone',
    hint: /\d{3}/,
    pattern: /(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w.-]*\d)/g,
    validate: (s: string) => {
      const n = s.replace(/\D/g, '').length;
      return n >= 8 && n <= 15;
    },
  },
  'credit-card': { kind: 'credit-card', hint: /\d{4}/, pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, validate: isCardNumber },
  iban: { kind: 'iban', hint: /[A-Z]{2}\d{2}/, pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g, validate: isIban },
  'us-ssn': { kind: 'us-ssn', hint: /\d{3}-\d{2}-\d{4}/, pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g },
} as const satisfies Record<string, Detector>;

export type PiiBuiltin = keyof typeof PII_DETECTORS;
export const PII_BUILTINS = Object.keys(PII_DETECTORS) as [PiiBuiltin, ...PiiBuiltin[]];

/** A configured PII pattern; `replacement` is literal text (no `$1`), default `[REDACTED:<name>]`. */
export interface PiiPattern {
  readonly name: string;
  readonly pattern: string;
  readonly flags?: string;
  readonly replacement?: string;
}

export interface RedactionOptions {
  readonly secrets?: boolean;
  readonly pii?: { readonly builtins?: readonly PiiBuiltin[]; readonly patterns?: readonly PiiPattern[] };
}

/** Compile the detectors of one config once. Patterns were validated at config load; a bad one throws here. */
export function compileRedaction(options: RedactionOptions = {}): RedactionRules {
  const secrets = options.secrets ?? true;
  const detectors: Detector[] = secrets ? [...SECRET_DETECTORS] : [];
  for (const name of options.pii?.builtins ?? []) detectors.push(PII_DETECTORS[name]);
  for (const p of options.pii?.patterns ?? []) {
    detectors.push({ kind: p.name, pattern: new RegExp(p.pattern, `g${(p.flags ?? '').replace(/g/g, '')}`), ...(p.replacement !== undefined && { replacement: p.replacement }) });
  }
  // A configured pattern has no hint, so it always runs; the prefilter is only sound when every detector has one.
  const prefilter = detectors.length > 0 && detectors.every((d) => d.hint) ? new RegExp(detectors.map((d) => d.hint!.source).join('|'), 'i') : null;
  return { detectors, prefilter, secretKeys: secrets };
}

/** The default rules: every secret kind, no PII. What `redactForLog` uses when given none. */
export const DEFAULT_RULES: RedactionRules = compileRedaction();

interface Span {
  start: number;
  end: number;
  text: string;
  kind: string;
}

/** `text` with every secret replaced, and the kinds found (one per secret); the same string when none. */
export function redactString(text: string, rules: RedactionRules): { text: string; kinds: readonly string[] } {
  const { detectors, prefilter } = rules;
  if (detectors.length === 0 || text.length < 4 || (prefilter !== null && !prefilter.test(text))) return { text, kinds: NONE };
  let spans: Span[] | null = null;
  for (const d of detectors) {
    if (d.hint !== undefined && !d.hint.test(text)) continue;
    for (const m of text.matchAll(d.pattern)) {
      // Patterns with a group carry the `d` flag: the group's own offsets, not a search for its text.
      const g = d.group === -1 ? m.findIndex((v, i) => i > 0 && v !== undefined) : d.group ?? 0;
      const secret = m[g];
      if (secret === undefined || secret === '' || (d.validate !== undefined && !d.validate(secret))) continue;
      const start = g === 0 ? m.index : m.indices![g]![0];
      const end = start + secret.length;
      // The earlier (more specific) detector keeps a span another one also claims.
      if (spans !== null && spans.some((s) => start < s.end && end > s.start)) continue;
      (spans ??= []).push({ start, end, text: d.replacement ?? `[REDACTED:${d.kind}]`, kind: d.kind });
    }
  }
  if (spans === null) return { text, kinds: NONE };
  spans.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + s.text;
    at = s.end;
  }
  return { text: out + text.slice(at), kinds: spans.map((s) => s.kind) };
}

const NONE: readonly string[] = Object.freeze([]);

/** Key names whose string value is a secret whatever it looks like; compared lowercased without `_`/`-`. */
const SECRET_KEY = /^(?:.*(?:password|passwd|passphrase|secret|apikey|accesstoken|refreshtoken|idtoken|authtoken|sessiontoken|bearertoken|privatekey|secretkey|credentials?)|token|pwd|authorization|cookie|setcookie|xapikey)$/;
const KEY_SEPARATORS = /[_\-\s.]/g;

/** A key that names a secret (`password`, `client_secret`, `apiKey`); not `nextPageToken`, `tokenCount`, `keyId`. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(KEY_SEPARATORS, '').toLowerCase());
}

/** Escape a key for a JSON Pointer segment (RFC 6901 §3). */
function pointer(path: string, key: string | number): string {
  return `${path}/${typeof key === 'number' ? key : key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/**
 * A redacted copy of any JSON value, and what was redacted where. Never mutates the input: arrays and objects are
 * copied only along the paths that changed, so a value with no secret comes back as the very same object.
 * `budget.chars`, when given, bounds how much string text is scanned; what is left past it is counted in `skipped`.
 */
export function redactValue<T>(value: T, rules: RedactionRules, budget?: ScanBudget): RedactResult<T> {
  const findings: Finding[] = [];
  const out = walk(value, rules, '', findings, budget) as T;
  return { value: out, findings };
}

/** Characters of string text a walk may still scan (per call: the caller makes one for each result). */
export interface ScanBudget {
  chars: number;
  skipped: number;
}

function walk(value: unknown, rules: RedactionRules, path: string, findings: Finding[], budget: ScanBudget | undefined): unknown {
  if (typeof value === 'string') {
    if (budget !== undefined) {
      if (value.length > budget.chars) {
        budget.skipped += value.length;
        return value;
      }
      budget.chars -= value.length;
    }
    const r = redactString(value, rules);
    for (const kind of r.kinds) findings.push({ kind, path });
    return r.text;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const next = walk(value[i], rules, pointer(path, i), findings, budget);
      if (next !== value[i]) (copy ??= value.slice())[i] = next;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    let next: unknown;
    if (rules.secretKeys && typeof v === 'string' && v.length > 0 && isSecretKey(key) && notPlaceholder(v)) {
      next = '[REDACTED:generic-secret]';
      findings.push({ kind: 'generic-secret', path: pointer(path, key) });
    } else {
      next = walk(v, rules, pointer(path, key), findings, budget);
    }
    if (next !== v) (copy ??= { ...obj })[key] = next;
  }
  return copy ?? value;
}

/**
 * Request params with every secret redacted, for the audit log and debug logs only: what goes upstream is never
 * changed (the upstream needs the real argument). Uses every secret detector, plus `rules` when given (PII).
 */
export function redactForLog<T>(params: T, rules: RedactionRules = DEFAULT_RULES): T {
  return redactValue(params, rules).value;
}
