/**
 * A side-by-side line diff of two texts (the approved and the pending definition, both pretty-printed): rows of
 * left and right lines, unchanged ones paired, a removed line beside the line that replaced it, and within such a
 * pair the part that differs (common prefix and suffix taken off) so the view can highlight just that.
 */

export type Side = { n: number; text: string } | null;

export interface Row {
  kind: 'same' | 'change' | 'del' | 'add';
  left: Side;
  right: Side;
  /** For `change`: [start, end) of the differing part of each side's text. */
  spans?: { left: [number, number]; right: [number, number] };
}

type Op = { op: '=' | '-' | '+'; text: string };

/** Longest-common-subsequence edit script; texts beyond `limit` cells of the table compare line by line. */
function editScript(a: string[], b: string[], limit = 4_000_000): Op[] {
  // Trim the common head and tail first: definitions usually differ in a line or two.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ma = a.slice(head, a.length - tail);
  const mb = b.slice(head, b.length - tail);
  const ops: Op[] = a.slice(0, head).map((text) => ({ op: '=', text }));
  if (ma.length * mb.length > limit) {
    ops.push(...ma.map((text) => ({ op: '-' as const, text })), ...mb.map((text) => ({ op: '+' as const, text })));
  } else {
    const w = mb.length + 1;
    const table = new Uint32Array((ma.length + 1) * w);
    for (let i = ma.length - 1; i >= 0; i--) {
      for (let j = mb.length - 1; j >= 0; j--) {
        table[i * w + j] = ma[i] === mb[j] ? table[(i + 1) * w + j + 1] + 1 : Math.max(table[(i + 1) * w + j], table[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < ma.length || j < mb.length) {
      if (i < ma.length && j < mb.length && ma[i] === mb[j]) {
        ops.push({ op: '=', text: ma[i++] });
        j++;
      } else if (j < mb.length && (i === ma.length || table[i * w + j + 1] >= table[(i + 1) * w + j])) {
        ops.push({ op: '+', text: mb[j++] });
      } else {
        ops.push({ op: '-', text: ma[i++] });
      }
    }
  }
  ops.push(...a.slice(a.length - tail).map((text) => ({ op: '=' as const, text })));
  return ops;
}

function lines(text: string): string[] {
  if (text === '') return [];
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  return out;
}

/** Where two lines differ: the span between their common prefix and common suffix. */
export function changedSpan(a: string, b: string): { left: [number, number]; right: [number, number] } {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return { left: [p, a.length - s], right: [p, b.length - s] };
}

export function sideBySide(before: string, after: string): Row[] {
  const ops = editScript(lines(before), lines(after));
  const rows: Row[] = [];
  let ln = 1;
  let rn = 1;
  for (let k = 0; k < ops.length; ) {
    if (ops[k].op === '=') {
      rows.push({ kind: 'same', left: { n: ln++, text: ops[k].text }, right: { n: rn++, text: ops[k].text } });
      k++;
      continue;
    }
    // A run of removals and additions: pair them up line by line, the rest stand alone.
    const dels: string[] = [];
    const adds: string[] = [];
    while (k < ops.length && ops[k].op !== '=') {
      (ops[k].op === '-' ? dels : adds).push(ops[k].text);
      k++;
    }
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
      const l = i < dels.length ? { n: ln++, text: dels[i] } : null;
      const r = i < adds.length ? { n: rn++, text: adds[i] } : null;
      if (l !== null && r !== null) rows.push({ kind: 'change', left: l, right: r, spans: changedSpan(l.text, r.text) });
      else rows.push({ kind: l !== null ? 'del' : 'add', left: l, right: r });
    }
  }
  return rows;
}
