import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const ROOT = new URL('../', import.meta.url).pathname;

describe('directive-language model weights', () => {
  it('are exactly what training/directive/train.ts makes from the committed data (retrain after changing either)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-directive-'));
    try {
      const out = join(dir, 'weights.json');
      await promisify(execFile)(process.execPath, [join(ROOT, 'training/directive/train.ts'), '--out', out, '--quiet'], { cwd: ROOT });
      const [fresh, shipped] = await Promise.all([readFile(out, 'utf8'), readFile(join(ROOT, 'src/guard/directive/weights.json'), 'utf8')]);
      assert.ok(fresh === shipped, 'src/guard/directive/weights.json is stale: run npm run train:directive');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
