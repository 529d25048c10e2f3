/**
 * Escaped text both detectors read under the surface: percent-encoding, HTML character references and `\u`
 * escapes. Each is a run pattern (global, to find runs) and a decoder; the poisoning scanner (scanner/encoded.ts) and
 * the result guard (injection.ts) share them. A decoder throws on malformed input (a lone `%`).
 */

export interface Escape {
  readonly what: string;
  /** Global; a match is one run to decode. */
  readonly run: RegExp;
  readonly decode: (run: string) => string;
}

/** A blank-free run with at least four escapes, whatever the length of the words between them. */
export const PERCENT_ENCODED: Escape = {
  what: 'percent-encoded',
  run: /[^\s"'<>&?=]*(?:%[0-9a-f]{2}[^\s"'<>&%]*){4,}/gi,
  decode: decodeURIComponent,
};

export const CHARACTER_REFERENCES: Escape = {
  what: 'HTML character-reference',
  run: /(?:&#(?:x[0-9a-f]{1,6}|\d{1,7});\s?){6,}/gi,
  decode: (run) => run.replace(/&#(x[0-9a-f]+|\d+);/gi, (_, n: string) => String.fromCodePoint(n[0].toLowerCase() === 'x' ? parseInt(n.slice(1), 16) : Number(n))),
};

export const UNICODE_ESCAPES: Escape = {
  what: 'escaped Unicode',
  run: /(?:\\u[0-9a-f]{4}|\\u\{[0-9a-f]{1,6}\}){6,}/gi,
  decode: (run) => run.replace(/\\u\{([0-9a-f]+)\}|\\u([0-9a-f]{4})/gi, (_, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt(a ?? b!, 16))),
};

export const ESCAPES: readonly Escape[] = [PERCENT_ENCODED, CHARACTER_REFERENCES, UNICODE_ESCAPES];
