/**
 * The error table in src/core/errors.ts and docs/errors.md must list the same codes with the same statuses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ErrorTable } from '../src/core/errors.ts';

it('docs/errors.md documents every error code, and only those', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; rpc: number }>();
  for (const m of doc.matchAll(/^\| `(GH_ERR_[A-Z_]+)` \| (\d+) \| (-?\d+) \|/gm)) rows.set(m[1], { status: Number(m[2]), rpc: Number(m[3]) });
  const codes = Object.keys(ErrorTable);
  assert.deepEqual([...rows.keys()].sort(), [...codes].sort());
  for (const code of codes) {
    const spec = ErrorTable[code as keyof typeof ErrorTable];
    assert.deepEqual(rows.get(code), { status: spec.status, rpc: spec.rpcCode }, code);
  }
});
