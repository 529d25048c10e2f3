/**
 * Encoded payloads: base64 (standard and URL-safe), base32, hex, `\x`/`\u` escapes, HTML character references and
 * percent-encoding that decode to readable text, and sentences hidden by ROT13, another Caesar shift or writing
 * backwards (src/guard/ciphers.ts). What decodes is re-scanned with every intent rule; hidden instructions are
 * critical, plain encoded prose is suspicious unless the tool is itself about encoding. Binary (hashes, keys, JWT
 * JSON) is ignored.
 */
import { decipher } from '../ciphers.ts';
import { CHARACTER_REFERENCES, PERCENT_ENCODED, UNICODE_ESCAPES } from '../escapes.ts';
import type { Escape } from '../escapes.ts';
import { sentenceSpans } from '../directive/sentences.ts';
import { finding, excerpt } from './rules.ts';
import { intentFindings, isNaturalText, strongest } from './intent.ts';
import type { Detector, Finding, ScanItem, Severity } from './types.ts';

// A token may follow `=` (build=…), so `=` ends a token but does not stop one from starting.
const BASE64 = /(?<![\w+/-])(?:[A-Za-z0-9+/]{4}){5,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![\w+/=-])|(?<![\w+/-])[A-Za-z0-9_-]{24,}(?![\w+/=-])/g;
const BASE32 = /(?<![A-Za-z0-9])(?:[A-Z2-7]{8}){3,}(?:[A-Z2-7]{2,7}=*)?(?![A-Za-z0-9])/g;
const HEX = /(?<![0-9a-f])(?:[0-9a-f]{2}){16,}(?![0-9a-f])|(?<![0-9A-F])(?:[0-9A-F]{2}){16,}(?![0-9A-F])|(?:\\x[0-9a-f]{2}){6,}|(?:0x[0-9a-f]{2}[\s,]*){8,}/gi;
const DECODE_AND_OBEY = /\b(?:decode|decrypt|unescape|base64[\s-]?decode|rot13)\s+(?:(?:this|it|the\s+(?:following|payload|string|text|value))\s+)?(?:and|then)\s+(?:follow|obey|execute|run|apply|do|act\s+on|carry\s+out)\b/gi;
/** A tool about encoding may show encoded examples; its encoded prose is then an example, not a payload. */
const ENCODING_PURPOSE = /\b(?:base\s?64|encod\w*|decod\w*|hex\w*|percent|url[\s-]?encod\w*|escap\w*|codec|cipher|hash\w*|jwt|tokens?|digest|checksum|binary|bytes)\b/i;

function printable(s: string): boolean {
  if (s.length === 0 || s.includes('\uFFFD')) return false;
  const bad = s.match(/[^\p{L}\p{N}\p{P}\p{S}\p{Zs}\n\t]/gu)?.length ?? 0;
  return bad / s.length < 0.05;
}

function fromBase64(token: string): string | null {
  const text = Buffer.from(token, token.includes('-') || token.includes('_') ? 'base64url' : 'base64').toString('utf8');
  return printable(text) ? text : null;
}

function fromHex(token: string): string | null {
  const digits = token.replace(/\\x|0x|[\s,]/gi, '');
  if (digits.length % 2 !== 0) return null;
  const text = Buffer.from(digits, 'hex').toString('utf8');
  return printable(text) ? text : null;
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function fromBase32(token: string): string | null {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const c of token.replace(/=+$/, '')) {
    value = (value << 5) | BASE32_ALPHABET.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const text = Buffer.from(bytes).toString('utf8');
  return printable(text) ? text : null;
}

/** A decoder entry for an escape of src/guard/escapes.ts, kept only when what it decodes is printable. */
function escaped(escape: Escape): { what: string; pattern: RegExp; decode: (token: string) => string | null } {
  return {
    what: escape.what,
    pattern: escape.run,
    decode(token) {
      try {
        const text = escape.decode(token);
        return printable(text) ? text : null;
      } catch {
        return null; // malformed escapes
      }
    },
  };
}

const DECODERS: readonly { what: string; pattern: RegExp; decode: (token: string) => string | null }[] = [
  { what: 'base64', pattern: BASE64, decode: fromBase64 },
  { what: 'hex', pattern: HEX, decode: fromHex },
  escaped(UNICODE_ESCAPES),
  escaped(PERCENT_ENCODED),
  { what: 'base32', pattern: BASE32, decode: fromBase32 },
  escaped(CHARACTER_REFERENCES),
];

/** Looks once more inside what decoded (base64 of base64, hex of percent-encoding). */
function decodeDeep(text: string, depth: number): string {
  if (depth === 0) return text;
  for (const d of DECODERS) {
    const m = new RegExp(d.pattern.source, d.pattern.flags.replace('g', '')).exec(text);
    if (m && m[0].length > text.length * 0.8) {
      const inner = d.decode(m[0]);
      if (inner !== null) return decodeDeep(inner, depth - 1);
    }
  }
  return text;
}

/** Encoded payloads in one text: findings span the encoded token; `encodingTool` softens plain encoded prose. */
export function encodedText(text: string, path: string, encodingTool: boolean): Finding[] {
  const out: Finding[] = [];
  for (const d of DECODERS) {
    for (const m of text.matchAll(d.pattern)) {
      const raw = d.decode(m[0]);
      if (raw === null) continue;
      const decoded = decodeDeep(raw, 2);
      const trimmed = decoded.trim();
      if (/^[[{]/.test(trimmed)) continue; // JSON: a JWT part or structured example, not prose
      const intent = strongest(intentFindings(decoded, path));
      const natural = isNaturalText(decoded, 4);
      if (!intent && !natural && !/https?:\/\//i.test(decoded)) continue;
      // Hidden orders are critical, even weak ones (an encoded "you must call…" has no innocent reading).
      const severity: Severity = intent ? (intent.severity === 'low' ? 'high' : 'critical') : encodingTool ? 'low' : 'medium';
      out.push(finding('encoded.payload', severity, path, text, m.index, m.index + m[0].length,
        `${d.what} text that decodes to "${excerpt(decoded, 0, decoded.length)}"${intent ? `, which ${intent.explanation}` : ''}`));
    }
  }
  out.push(...cipheredText(text, path, encodingTool));
  for (const m of text.matchAll(DECODE_AND_OBEY)) out.push(finding('encoded.decode-and-follow', 'high', path, text, m.index, m.index + m[0].length, 'tells the model to decode something and act on it'));
  return out;
}

/** Sentences that read as English only once un-rotated or reversed: a description has no honest reason for them. */
function cipheredText(text: string, path: string, encodingTool: boolean): Finding[] {
  const out: Finding[] = [];
  for (const [start, end] of sentenceSpans(text)) {
    const found = decipher(text.slice(start, end), true);
    if (found === null) continue;
    const intent = strongest(intentFindings(found.text, path));
    const severity: Severity = intent ? (intent.severity === 'low' ? 'high' : 'critical') : encodingTool ? 'low' : 'medium';
    out.push(finding('encoded.cipher', severity, path, text, start, end,
      `text hidden by ${found.how}, which reads "${excerpt(found.text, 0, found.text.length)}"${intent ? `, and ${intent.explanation}` : ''}`));
  }
  return out;
}

function isEncodingTool(item: ScanItem): boolean {
  const d = item.definition;
  return ENCODING_PURPOSE.test(`${item.name.replace(/[_-]/g, ' ')} ${typeof d.description === 'string' ? d.description : ''}`);
}

/** Encoded payloads in every text field of a definition. */
export const encoded: Detector = function encoded(item, ctx) {
  const out: Finding[] = [];
  const encodingTool = isEncodingTool(item);
  for (const f of ctx.fields(item)) if (f.text.length >= 18) out.push(...encodedText(f.text, f.path, encodingTool));
  return out;
};
