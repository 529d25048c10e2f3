/**
 * What the detectors share: pattern rules as data (an id, a severity, a regex over word classes, an explanation),
 * the function that applies them to one text, sentence bounds for "in the same sentence" tests, and excerpts.
 */
import type { Finding, Severity } from './types.ts';

/** A pattern rule; `pattern` must carry the `g` flag (matchAll copies it, so no lastIndex state is shared). */
export interface PatternRule {
  readonly id: string;
  readonly severity: Severity;
  readonly pattern: RegExp;
  readonly explanation: string;
  /** A cheap test of words the pattern cannot match without; when it fails the pattern is not run (speed only). */
  readonly gate?: RegExp;
  /** Lowers the severity of one match (to `info` it drops), e.g. when the sentence negates it. */
  readonly adjust?: (text: string, start: number, end: number) => Severity;
}

/** The findings of `rules` in `text` at `path`; `offset` shifts spans when `text` is a decoded part of a field. */
export function applyRules(rules: readonly PatternRule[], text: string, path: string): Finding[] {
  const out: Finding[] = [];
  for (const rule of rules) {
    if (rule.gate && !rule.gate.test(text)) continue;
    for (const m of text.matchAll(rule.pattern)) {
      const start = m.index;
      const end = start + m[0].length;
      const severity = rule.adjust ? rule.adjust(text, start, end) : rule.severity;
      if (severity === 'info' && rule.adjust) continue;
      out.push(finding(rule.id, severity, path, text, start, end, rule.explanation));
    }
  }
  return out;
}

/** Builds a finding with an excerpt of `text` around `[start, end)`. */
export function finding(rule: string, severity: Severity, path: string, text: string, start: number, end: number, explanation: string): Finding {
  return { rule, severity, path, start, end, excerpt: excerpt(text, start, end), explanation };
}

const EXCERPT_SPAN = 160;
const EXCERPT_CONTEXT = 24;

/** The span with a little context, cut to ~200 characters, every invisible or control character made visible. */
export function excerpt(text: string, start: number, end: number): string {
  const from = Math.max(0, start - EXCERPT_CONTEXT);
  const to = Math.min(text.length, Math.min(end, start + EXCERPT_SPAN) + EXCERPT_CONTEXT);
  const body = visible(text.slice(from, to)).replace(/\s+/g, ' ').trim();
  return `${from > 0 ? '…' : ''}${body}${to < text.length ? '…' : ''}`;
}

// Format, control, private-use, unassigned and variation-selector code points, and anything outside the BMP that is
// not a pictograph: what a reviewer could not see printed as-is.
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Co}\p{Cn}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}\u{3164}\u{115F}\u{1160}]/gu;

/** `text` with invisible characters written as `\u{…}` (tabs and newlines kept). */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => (c === '\n' || c === '\t' || c === '\r' ? c : `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`));
}

/** `[start, end)` of the sentence (or line) around `[from, to)`: the unit an intent test looks within. */
export function sentenceAround(text: string, from: number, to: number): [number, number] {
  let s = from;
  while (s > 0 && !isBoundary(text, s - 1)) s--;
  let e = to;
  while (e < text.length && !isBoundary(text, e)) e++;
  return [s, Math.min(text.length, e + 1)];
}

function isBoundary(text: string, i: number): boolean {
  const c = text[i];
  if (c === '\n' || c === '!' || c === '?' || c === ';' || c === '。') return true;
  // A period ends a sentence only before a blank or the end: not in "~/.ssh", "config.json" or "e.g.x".
  return c === '.' && (i + 1 >= text.length || /\s/.test(text[i + 1]));
}

/** The sentence around a match, for adjusting rules. */
export function sentenceOf(text: string, start: number, end: number): string {
  const [s, e] = sentenceAround(text, start, end);
  return text.slice(s, e);
}

/** Keeps one finding per rule, path and overlapping span (several patterns of one rule often hit one phrase). */
export function dedupe(findings: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    const same = out.findIndex((o) => o.rule === f.rule && o.path === f.path && f.start < o.end && o.start < f.end);
    if (same === -1) out.push(f);
    else if (rank(f.severity) > rank(out[same].severity)) out[same] = f;
  }
  return out;
}

const RANKS: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

function rank(s: Severity): number {
  return RANKS[s];
}

/** A regex source matching any of `words` as whole words (each may itself be a regex fragment). */
export function anyWord(words: readonly string[]): string {
  return String.raw`\b(?:${words.join('|')})\b`;
}
