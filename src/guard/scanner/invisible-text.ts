/**
 * Invisible or deceptive text: Unicode tag characters and variation-selector runs (which smuggle whole sentences,
 * decoded and re-scanned here), zero-width characters, bidi overrides, terminal escapes and control characters,
 * blank padding that pushes text out of view, and names mixing scripts or imitating another tool's name.
 * Legitimate uses stay quiet: a ZWJ inside an emoji sequence, a ZWNJ inside Persian or Hindi words, RLM in prose.
 */
/* eslint-disable no-misleading-character-class, no-control-regex -- matching joiners, marks and control characters one by one is this file's job */
import { finding, excerpt } from './rules.ts';
import { intentFindings, isNaturalText, strongest } from './intent.ts';
import type { Detector, Finding, KnownLookup } from './types.ts';
import type { TextField } from './text-fields.ts';

const TAG_RUN = /[\u{E0000}-\u{E007F}]+/gu;
const SELECTOR_RUN = /[\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]{3,}/gu;
const ZERO_WIDTH = /[\u200B\u200C\u200D\u2060-\u2064\uFEFF\u180E\u034F\u115F\u1160\u3164\uFFA0\u17B4\u17B5\u00AD]/gu;
const BIDI = /[\u202A-\u202E\u2066-\u2069]/gu;
const MARKS = /[\u200E\u200F\u061C]/gu;
const ANSI = /\u001B(?:\[[0-9;?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)|[@-Z\\-_])/gu;
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001A\u001C-\u001F\u007F-\u009F]/gu;
const PADDING = /(?:[ \t\u00A0\u2000-\u200A\u3000]{60,}|(?:[ \t]*\r?\n){12,})(?=[\s\S]*\S)/gu;
const PRIVATE_USE = /[\uE000-\uF8FF\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}]/gu;
const PICTO = /[\p{Extended_Pictographic}\u{1F3FB}-\u{1F3FF}\uFE0F\u20E3]/u;
/** Letters of scripts where ZWJ/ZWNJ shape words (Arabic, Persian, Indic, Sinhala, Khmer, …). */
const JOINING_SCRIPT = /[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Mongolian}\p{M}]/u;

/** Hidden text carried by tag characters (U+E0020–E007E mirror ASCII). */
function decodeTags(run: string): string {
  return [...run].map((c) => c.codePointAt(0)! - 0xe0000).filter((n) => n >= 0x20 && n < 0x7f).map((n) => String.fromCharCode(n)).join('');
}

/** Bytes carried by variation selectors (FE00–FE0F = 0–15, E0100–E01EF = 16–255), read as UTF-8. */
function decodeSelectors(run: string): string {
  const bytes = [...run].map((c) => {
    const cp = c.codePointAt(0)!;
    return cp <= 0xfe0f ? cp - 0xfe00 : cp - 0xe0100 + 16;
  });
  return Buffer.from(bytes).toString('utf8');
}

function hiddenSentence(rule: string, field: TextField, start: number, end: number, decoded: string, what: string): Finding {
  const intent = strongest(intentFindings(decoded, field.path));
  const shown = excerpt(decoded, 0, decoded.length);
  const f = finding(rule, intent || isNaturalText(decoded, 2) ? 'critical' : 'high', field.path, field.text, start, end,
    `${what} hide text a reviewer cannot see: "${shown}"${intent ? ` (${intent.explanation})` : ''}`);
  return f;
}

/** True for a ZWJ/ZWNJ that is doing its job: joining an emoji sequence or shaping a word of a joining script. */
function legitimateJoiner(text: string, i: number): boolean {
  const c = text[i];
  if (c === '\uFEFF') return i === 0;
  if (c !== '\u200D' && c !== '\u200C') return false;
  const before = String.fromCodePoint(text.codePointAt(i - 1) ?? 32);
  const prev = text.slice(Math.max(0, i - 2), i);
  const next = text.slice(i + 1, i + 3);
  if (c === '\u200D' && PICTO.test(prev) && PICTO.test(next)) return true;
  return JOINING_SCRIPT.test(prev) || JOINING_SCRIPT.test(before) || JOINING_SCRIPT.test(next.slice(0, 1));
}

function characters(field: TextField): Finding[] {
  const { text, path } = field;
  const out: Finding[] = [];
  const isName = field.role === 'name';
  for (const m of text.matchAll(TAG_RUN)) out.push(hiddenSentence('invisible.tag-characters', field, m.index, m.index + m[0].length, decodeTags(m[0]), 'Unicode tag characters'));
  for (const m of text.matchAll(SELECTOR_RUN)) out.push(hiddenSentence('invisible.variation-selectors', field, m.index, m.index + m[0].length, decodeSelectors(m[0]), 'runs of variation selectors'));

  const zw = [...text.matchAll(ZERO_WIDTH)].filter((m) => !legitimateJoiner(text, m.index));
  if (zw.length > 0) {
    const first = zw[0].index;
    const last = zw[zw.length - 1].index + 1;
    const stripped = text.replace(ZERO_WIDTH, ' ');
    const intent = strongest(intentFindings(stripped, path).filter((f) => f.severity !== 'low'));
    const severity = intent ? 'critical' : isName || zw.length >= 3 ? 'high' : 'medium';
    out.push(finding('invisible.zero-width', severity, path, text, first, last,
      `${zw.length} zero-width character(s)${isName ? ' in a name' : ''}, which can split words to slip past filters or hide text${intent ? `; with them removed the text ${intent.explanation}` : ''}`));
  }
  for (const m of text.matchAll(BIDI)) {
    const override = m[0] === '\u202D' || m[0] === '\u202E';
    // What a reader sees is the reversed run: scan it the way it will be read.
    const close = text.slice(m.index + 1).search(/[\u202C\u2069]/);
    const run = text.slice(m.index + 1, close === -1 ? text.length : m.index + 1 + close);
    const shown = [...run].reverse().join('');
    const intent = strongest([...intentFindings(shown, path), ...intentFindings(run, path)].filter((f) => f.severity !== 'low'));
    out.push(finding('invisible.bidi-control', intent ? 'critical' : override || isName ? 'high' : 'medium', path, text, m.index, m.index + 1 + run.length,
      `a bidirectional control character, which makes text display in a different order than it is stored${intent ? `; the text it reorders ${intent.explanation}` : ''}`));
    break;
  }
  if (isName) for (const m of text.matchAll(MARKS)) {
    out.push(finding('invisible.bidi-control', 'medium', path, text, m.index, m.index + 1, 'a direction mark in a name'));
    break;
  }
  for (const m of text.matchAll(ANSI)) {
    out.push(finding('invisible.terminal-escape', 'high', path, text, m.index, m.index + m[0].length, 'a terminal escape sequence, which can hide or rewrite text shown in a console'));
    break;
  }
  const controls = [...text.matchAll(CONTROL)].filter((m) => text[m.index - 1] !== '\u001B' && m[0] !== '\u001B');
  if (controls.length > 0) out.push(finding('invisible.control-character', 'medium', path, text, controls[0].index, controls[0].index + 1, `${controls.length} control character(s) that no honest description needs`));
  for (const m of text.matchAll(PADDING)) {
    out.push(finding('invisible.padding', 'medium', path, text, m.index, m.index + m[0].length, 'a long run of blanks that pushes the text after it out of a reviewer\'s view'));
    break;
  }
  const pua = [...text.matchAll(PRIVATE_USE)];
  if (pua.length > 0) out.push(finding('invisible.private-use', pua.length >= 4 ? 'medium' : 'low', path, text, pua[0].index, pua[0].index + pua[0][0].length, 'private-use characters, whose meaning no reader can know'));
  return out;
}

// Letters that look like Latin ones, mapped to them: the skeleton two names are compared by.
const CONFUSABLE: Record<string, string> = Object.fromEntries(
  [...'аaвbеeёeһhіiїiјjкkмmнhоoрpсcтtуyхxѕsԁdԛqԝwɡgαaβbεeιiκkνvοoρpτtυuχxϲcıiӏlⅼlАAВBЕEКKМMНHОOРPСCТTХXЅSІIЈJΑAΒBΕEΖZΗHΙIΚKΜMΝNΟOΡPΤTΥYΧX0o1l'].reduce<string[][]>((pairs, c, i, all) => (i % 2 === 0 ? [...pairs, [c, all[i + 1]]] : pairs), []),
);

/** A name reduced to what it looks like: compatibility forms folded, accents dropped, confusables mapped. */
export function skeleton(name: string): string {
  const folded = name.normalize('NFKD').replace(/\p{M}/gu, '').replace(ZERO_WIDTH, '');
  return [...folded].map((c) => CONFUSABLE[c] ?? c).join('').toLowerCase();
}

const LATIN = /\p{Script=Latin}/u;
const LOOKALIKE_SCRIPT = /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}\p{Script=Cherokee}\p{Script=Coptic}]/u;
const WORD = /[\p{L}\p{M}\p{N}_]+/gu;

function mixedScript(word: string): boolean {
  return LATIN.test(word) && LOOKALIKE_SCRIPT.test(word);
}

function deceptiveText(field: TextField, itemName: string, skeletons: KnownLookup): Finding[] {
  const { text, path } = field;
  const out: Finding[] = [];
  if (path === 'name') {
    // ASCII names too: "get_ba1ance" imitates "get_balance" without a single exotic character.
    const twin = skeletons.get(skeleton(text))?.find((t) => t.name.toLowerCase() !== text.toLowerCase());
    if (twin) {
      out.push(finding('deceptive.lookalike-name', 'critical', path, text, 0, text.length, `"${text}" looks like "${twin.name}" (${twin.upstream}) but is spelled with other characters: it impersonates that tool`));
      return out;
    }
  }
  if (/^[\x20-\x7e]*$/.test(text)) return out;
  if (field.role === 'name' && text.normalize('NFKC') !== text && /[\uFF01-\uFF5E\u{1D400}-\u{1D7FF}]/u.test(text)) {
    out.push(finding('deceptive.compatibility-characters', 'high', path, text, 0, text.length, 'a name written with full-width or mathematical letters that imitate ordinary ones'));
  }
  for (const m of text.matchAll(WORD)) {
    if (!mixedScript(m[0])) continue;
    const isName = field.role === 'name' || text === itemName;
    out.push(finding('deceptive.mixed-script', isName ? 'high' : 'medium', path, text, m.index, m.index + m[0].length,
      `"${m[0]}" mixes Latin with look-alike letters of another script (${[...m[0]].filter((c) => LOOKALIKE_SCRIPT.test(c)).map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase()}`).join(', ')})`));
    break;
  }
  return out;
}

/** Invisible characters in every field; deceptive spellings in names and words. */
export const invisibleText: Detector = function invisibleText(item, ctx) {
  const out: Finding[] = [];
  for (const f of ctx.fields(item)) {
    const plain = /^[\x20-\x7e\n\t\r]*$/.test(f.text);
    if (!plain || f.text.length >= 60) out.push(...characters(f));
    if (!plain || f.path === 'name') out.push(...deceptiveText(f, item.name, ctx.skeletons));
  }
  return out;
};
