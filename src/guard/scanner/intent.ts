/**
 * One function over the prose rules of every family, for decoders: what a base64 payload, an HTML comment or a run
 * of Unicode tag characters uncovers is scanned as if it were written in plain sight.
 */
import { directiveText } from './directive.ts';
import { exfiltrationText } from './exfiltration.ts';
import { hiddenInstructionText } from './hidden-instructions.ts';
import { shadowingText } from './shadowing.ts';
import type { Finding } from './types.ts';

/** Intent findings (hidden instructions, exfiltration, shadowing phrases, directive language) in `text`; spans are within `text`. */
export function intentFindings(text: string, path: string): Finding[] {
  return [...hiddenInstructionText(text, path), ...exfiltrationText(text, path), ...shadowingText(text, path), ...directiveText(text, path)]
    .filter((f) => f.severity !== 'info');
}

/** True when `text` reads as words: letters and blanks, at least `minWords` of them. */
export function isNaturalText(text: string, minWords = 4): boolean {
  const words = text.match(/\p{L}{2,}/gu) ?? [];
  if (words.length < minWords) return false;
  const letters = words.reduce((n, w) => n + w.length, 0);
  return letters / text.length > 0.55;
}

/** A short summary of the strongest intent finding, for explanations of decoded text. */
export function strongest(findings: readonly Finding[]): Finding | undefined {
  const order = ['critical', 'high', 'medium', 'low', 'info'];
  return [...findings].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity))[0];
}
