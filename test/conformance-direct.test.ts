/**
 * The baseline for every gateway conformance run: the fixture server alone, over streamable HTTP, must pass every
 * check of `conformance server --suite all`. If this fails, the fixture is at fault, not the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runConformance, startHttpFixture, type HttpFixture } from './helpers/conformance.ts';

let fixture: HttpFixture;

before(async () => {
  fixture = await startHttpFixture();
});

after(async () => {
  await fixture?.close();
});

test('the conformance fixture passes every check of --suite all on its own', { timeout: 120_000 }, async (t) => {
  const result = await runConformance(fixture.url, { suite: 'all', timeoutMs: 110_000 });
  t.diagnostic(`${result.passed}/${result.total} checks passed in ${result.scenarios.length} scenarios`);
  for (const warning of result.warnings) t.diagnostic(`warning: ${warning}`);

  assert.deepEqual(result.failures, [], `failed checks:\n${result.failures.join('\n')}\n\n${result.output}`);
  assert.equal(result.failed, 0);
  assert.ok(result.total > 0, `no checks ran:\n${result.output}`);
  assert.equal(result.passed, result.total);
});
