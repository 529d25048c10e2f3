// Turns tool metadata and search queries into index terms. Unicode-aware: any letter or digit of any script is kept;
// scripts written without spaces (Han, Hiragana, Katakana, Thai, …) become overlapping character bigrams, the usual
// way full-text engines index CJK. Only words in the Latin script are stemmed (Porter) and checked against the
// English stop-words; every other script passes through lowercased and NFKC-normalised.
import { stemmer } from 'stemmer';

// English function words plus words that carry no signal in a catalog of tools ("tool", "server", "mcp").
const STOP_WORDS = new Set(
  (
    'a an and are as at be but by can could do does for from has have how i if in into is it its me my of on or our ' +
    'please should so than that the their them then there these this those to us was we were what when where which ' +
    'while who will with would you your via any all also just using use given some want need needs like one ' +
    'tool tools server servers mcp assistant'
  ).split(' '),
);

// Scripts that do not separate words with spaces.
const UNSPACED_CLASS = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}`;
const UNSPACED = new RegExp(`[${UNSPACED_CLASS}]`, 'v');
const RUN = new RegExp(`[${UNSPACED_CLASS}]+|[[\\p{L}\\p{M}\\p{N}]--[${UNSPACED_CLASS}]]+`, 'gv');
const LATIN_WORD = /^[a-z]+$/;

/** Splits identifiers: `getStockPrice`, `get_stock_price`, `get-stock-price`, `HTTPServer` → separate words. */
export function splitIdentifier(text: string): string {
  return text
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .replace(/[_\-./:]+/g, ' ');
}

function normaliseLatin(word: string): string | undefined {
  if (STOP_WORDS.has(word)) return undefined;
  if (!LATIN_WORD.test(word)) return word; // digits, mixed, other alphabets: keep as is
  if (word.length <= 2) return word;
  return stemmer(word);
}

/** Index terms of a text, in order, duplicates kept (BM25 counts them). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const normalised = splitIdentifier(text.normalize('NFKC')).toLowerCase();
  for (const match of normalised.matchAll(RUN)) {
    const run = match[0];
    if (UNSPACED.test(run[0])) {
      const chars = [...run];
      if (chars.length === 1) out.push(run);
      for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
      continue;
    }
    const term = normaliseLatin(run);
    if (term !== undefined) out.push(term);
  }
  return out;
}

// Clause boundaries: sentence ends followed by a space or the end (so "report.pdf" and "2.5" stay whole), semicolons,
// and the Chinese/Japanese full-width sentence marks, which need no following space. Within a sentence, "then" ("…, then
// …", "… and then …") starts a new step. Commas are not boundaries: they separate list items and modifiers more often
// than steps, and splitting on them lost on both LiveMCPBench query sets; nor are line breaks, which in an agent's
// query ("server: …\ntool: …") separate facets of one request.
const SENTENCE_END = /[.!?]+(?=\s|$)|[。！？；;]+/u;
const THEN = /,?\s+(?:and\s+)?then\b/iu;

/**
 * A query cut at its clause boundaries, every piece kept (even those without index terms): the pieces' terms, in
 * order, are exactly the whole query's, since each boundary is punctuation, white space or stop-words.
 */
export function splitSegments(query: string): string[] {
  return query.split(SENTENCE_END).flatMap((sentence) => sentence.split(THEN));
}

/**
 * The clauses of a multi-step request ("Find X. Then summarise it in a Word document"), in order, each with at least
 * `minTerms` index terms; a query with one step gives one clause (or none).
 */
export function splitClauses(query: string, minTerms = 2): string[] {
  return splitSegments(query)
    .map((clause) => clause.trim())
    .filter((clause) => tokenize(clause).length >= minTerms);
}
