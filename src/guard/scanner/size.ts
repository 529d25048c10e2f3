/**
 * Abnormal size: a definition far larger than tools need (a flood that buries an instruction or eats the model's
 * context), one text field of novel length, a sentence repeated over and over, or an overlong name.
 */
import { canonicalJson } from '../pinning.ts';
import { finding } from './rules.ts';
import type { Detector, Finding } from './types.ts';

/** Longest single text field before it is suspicious; honest long descriptions stay well below. */
const MAX_FIELD_CHARS = 8_000;
const MAX_NAME_CHARS = 128;
/** A field with this many sentences, most of them the same, is padding. */
const MIN_SENTENCES_FOR_REPEAT = 20;

function repeated(text: string): { sentence: string; times: number } | null {
  const sentences = text.split(/(?<=[.!?\n])\s+/).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 3);
  if (sentences.length < MIN_SENTENCES_FOR_REPEAT) return null;
  const counts = new Map<string, number>();
  for (const s of sentences) counts.set(s, (counts.get(s) ?? 0) + 1);
  const [sentence, times] = [...counts].sort((a, b) => b[1] - a[1])[0];
  return times / sentences.length > 0.5 ? { sentence, times } : null;
}

/** Size anomalies of a definition, against `ctx.maxDefinitionBytes`. */
export const size: Detector = function size(item, ctx) {
  const out: Finding[] = [];
  const bytes = Buffer.byteLength(canonicalJson(item.definition));
  if (bytes > ctx.maxDefinitionBytes) {
    out.push({
      rule: 'size.definition', severity: bytes > 4 * ctx.maxDefinitionBytes ? 'high' : 'medium', path: '', start: 0, end: 0,
      excerpt: `${bytes} bytes`, explanation: `the definition is ${bytes} bytes, above the ${ctx.maxDefinitionBytes}-byte limit: large enough to bury instructions or crowd the model's context`,
    });
  }
  for (const f of ctx.fields(item)) {
    if (f.role === 'name' && f.text.length > MAX_NAME_CHARS) {
      out.push(finding('size.name', 'medium', f.path, f.text, 0, f.text.length, `a ${f.text.length}-character name; names are identifiers, not text`));
    }
    if (f.text.length > MAX_FIELD_CHARS) {
      out.push(finding('size.field', 'medium', f.path, f.text, MAX_FIELD_CHARS, f.text.length, `a ${f.text.length}-character text field, several times longer than an honest description needs`));
    }
    const rep = f.text.length > 400 ? repeated(f.text) : null;
    if (rep) out.push(finding('size.repetition', 'medium', f.path, f.text, 0, Math.min(f.text.length, 200), `one sentence repeated ${rep.times} times: padding, not description`));
  }
  return out;
};
