import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedSpan, sideBySide } from './diff.ts';

describe('side-by-side diff', () => {
  it('pairs a changed line and highlights the part that differs', () => {
    const rows = sideBySide('{\n  "a": 1,\n  "d": "old text"\n}\n', '{\n  "a": 1,\n  "d": "new text"\n}\n');
    assert.deepEqual(rows.map((r) => r.kind), ['same', 'same', 'change', 'same']);
    const c = rows[2];
    assert.deepEqual([c.left!.n, c.right!.n], [3, 3]);
    assert.equal(c.left!.text.slice(...c.spans!.left), 'old');
    assert.equal(c.right!.text.slice(...c.spans!.right), 'new');
  });

  it('shows lines only on one side as removed or added, keeping line numbers', () => {
    const rows = sideBySide('a\nb\nc\n', 'a\nc\nd\ne\n');
    assert.deepEqual(rows.map((r) => [r.kind, r.left?.n ?? null, r.right?.n ?? null]), [['same', 1, 1], ['del', 2, null], ['same', 3, 2], ['add', null, 3], ['add', null, 4]]);
  });

  it('treats nothing approved as all added', () => {
    assert.deepEqual(sideBySide('', 'x\ny\n').map((r) => r.kind), ['add', 'add']);
  });

  it('finds the span between common prefix and suffix', () => {
    assert.deepEqual(changedSpan('abcXdef', 'abcYYdef'), { left: [3, 4], right: [3, 5] });
  });
});
