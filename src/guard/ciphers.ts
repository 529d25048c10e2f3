/**
 * Text hidden by a letter cipher or by writing it backwards: ROT13 and the other Caesar shifts, reversed
 * characters. None of these has a shape a pattern can find (a ROT13 sentence is letters and
 * blanks like any other), so a sentence is tried under each undoing, and one that turns into English — many of its
 * words common function words, where before there were few — is what the sentence says. The poisoning scanner and
 * the result guard then read what it says.
 */

/** Common English words: a decoded sentence is English when enough of its words are among them. */
const COMMON = new Set(`the a an to of and or in on for with is are be you your it this that all any every from by as at
not no never do don't must should will can before after when then also into about their them they user users us our we
me my send call use read file files data tool tools message messages password key keys token first only always`.split(/\s+/));

const MIN_WORDS = 5;
/** The share of common words an undone sentence needs, and how much more than it had before. */
const MIN_COMMON = 0.3;
const MIN_GAIN = 0.2;

/** How many of the words are common ones, and how many different common words occur. */
function countCommon(text: string): { share: number; distinct: number } {
  const words = text.toLowerCase().match(/[a-z']+/g) ?? [];
  if (words.length < MIN_WORDS) return { share: 0, distinct: 0 };
  let common = 0;
  const distinct = new Set<string>();
  for (const w of words) {
    if (!COMMON.has(w)) continue;
    common++;
    distinct.add(w);
  }
  return { share: common / words.length, distinct: distinct.size };
}

/** The share of common words, or 0 when fewer than three different ones occur ("mo", "ytd", "max" shifted by seven
 *  read "to", "fak", "the": one coincidence is not English). */
function commonShare(text: string): number {
  const { share, distinct } = countCommon(text);
  return distinct < 3 ? 0 : share;
}

/** Mostly Latin letters and blanks, as a ciphered sentence is; code, JSON and log lines are not (and are many). */
function proseLike(sentence: string): boolean {
  if (sentence.length < 20) return false;
  let letters = 0;
  for (let i = 0; i < sentence.length; i++) {
    const c = sentence.charCodeAt(i) | 0x20;
    if ((c >= 97 && c <= 122) || c === 0x20) letters++;
  }
  return letters >= sentence.length * 0.85;
}

function shift(text: string, by: number): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + by) % 26) + base);
  });
}

/** One way of undoing a cipher: its name and the function. */
interface Undoing {
  readonly name: string;
  readonly undo: (text: string) => string;
}

// Reversed word order keeps every word English, so this test cannot see it; the model reads words in any order.
const REVERSALS: readonly Undoing[] = [{ name: 'reversed text', undo: (t) => [...t].reverse().join('') }];
const ROT13: Undoing = { name: 'ROT13', undo: (t) => shift(t, 13) };
const CAESAR: readonly Undoing[] = Array.from({ length: 25 }, (_, i) => i + 1)
  .filter((by) => by !== 13)
  .map((by) => ({ name: `a Caesar shift of ${26 - by}`, undo: (t: string) => shift(t, by) }));

export interface Deciphered {
  /** How it was hidden: "ROT13", "reversed text", "a Caesar shift of 3"… */
  readonly how: string;
  readonly text: string;
}

/**
 * What `sentence` says once undone, or null when it already reads as English or no undoing makes it. `thorough`
 * tries every Caesar shift (25 passes: for definitions, scanned once per listing), otherwise ROT13 and reversals
 * only (for results, scanned on every call).
 */
export function decipher(sentence: string, thorough = false): Deciphered | null {
  if (!proseLike(sentence)) return null;
  // Two different common words already: English (or another language) as written, not a cipher of English.
  const plain = countCommon(sentence);
  if (plain.distinct >= 2 || (sentence.match(/[a-z]{2,}/gi)?.length ?? 0) < MIN_WORDS) return null;
  const before = plain.share;
  let best: Deciphered | null = null;
  let bestShare = before + MIN_GAIN;
  for (const u of thorough ? [ROT13, ...REVERSALS, ...CAESAR] : [ROT13, ...REVERSALS]) {
    const text = u.undo(sentence);
    const share = commonShare(text);
    if (share >= MIN_COMMON && share > bestShare) {
      best = { how: u.name, text };
      bestShare = share;
    }
  }
  return best;
}
