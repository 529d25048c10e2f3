/**
 * Sentence spans of a text, the unit the directive-language model scores: split after `.!?;:` and their CJK forms
 * when a blank follows, and at line breaks; blanks trimmed, empty spans dropped. Long ones are cut into pieces, so
 * one run-on paragraph cannot hide an order among hundreds of words (and scoring stays linear).
 */

/** `[start, end)` of one sentence in the text it came from. */
export type Span = readonly [start: number, end: number];

const BOUNDARY = /[.!?;:](?=\s)|[。！？；]|\n/g;
const MAX_SENTENCE = 400;

function isBlank(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000;
}

/** The sentence spans of `text`, in order. */
export function sentenceSpans(text: string): Span[] {
  const out: Span[] = [];
  const push = (start: number, end: number) => {
    while (start < end && isBlank(text.charCodeAt(start))) start++;
    while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
    for (let s = start; s < end; s += MAX_SENTENCE) out.push([s, Math.min(end, s + MAX_SENTENCE)]);
  };
  let from = 0;
  for (const m of text.matchAll(BOUNDARY)) {
    push(from, m.index + 1);
    from = m.index + 1;
  }
  push(from, text.length);
  return out;
}
