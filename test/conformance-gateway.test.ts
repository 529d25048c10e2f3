/**
 * The official conformance suite (`server --suite all`) through Gatehouse, fronting our conformance fixture
 * over stdio and over streamable HTTP: every check must pass, as it does directly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fixtureStdioCommand, runConformance, startHttpFixture } from './helpers/conformance.ts';
import { startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

function assertAllPass(result: Awaited<ReturnType<typeof runConformance>>): void {
  assert.deepEqual(result.failures, [], result.output);
  assert.equal(result.failed, 0);
  assert.ok(result.total >= 44, `expected at least 44 checks, got ${result.total}`);
  assert.equal(result.passed, result.total);
}

describe('conformance through the gateway', () => {
  describe('fixture over stdio', () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway({ upstreams: { fixture: fixtureStdioCommand() } });
    });
    after(() => gw.close());
    it('passes every check of --suite all', async () => {
      assertAllPass(await runConformance(gw.url.replace('127.0.0.1', 'localhost'), { suite: 'all' }));
    });
  });

  describe('fixture over streamable HTTP', () => {
    let fixture: Awaited<ReturnType<typeof startHttpFixture>>;
    let gw: RunningGateway;
    before(async () => {
      fixture = await startHttpFixture();
      gw = await startGateway({ upstreams: { fixture: { url: fixture.url } } });
    });
    after(async () => {
      await gw.close();
      await fixture.close();
    });
    it('passes every check of --suite all', async () => {
      assertAllPass(await runConformance(gw.url.replace('127.0.0.1', 'localhost'), { suite: 'all' }));
    });
  });
});
