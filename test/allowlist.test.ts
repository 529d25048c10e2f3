/**
 * Allowlists (issue 4) against a real gateway and a real HTTP upstream: a host name that resolves to a forbidden
 * address is never dialled (the upstream fails with the reason, the rest keeps serving), and tools an upstream's
 * config hides are neither listed nor callable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { startExample } from './helpers/spawn.ts';
import type { RunningExample } from './helpers/spawn.ts';
import { connectClient } from './integration/harness.ts';

describe('allowlist end to end', () => {
  let weather: RunningExample;
  let gw: RunningGateway;
  before(async () => {
    weather = await startExample('weather-http');
    gw = await startGateway({
      allowlist: { privateNetworks: false },
      upstreams: {
        // "localhost" passes the config check (a name, not an address) and resolves to loopback when dialled.
        weather: { url: weather.url.replace('127.0.0.1', 'localhost') },
        everything: { ...everythingStdio(), hideTools: ['get-env', 'print*'] },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await weather?.close();
  });

  it('does not dial a host that resolves to a private address, and says why', async () => {
    const ready = (await (await fetch(`${gw.base}/readyz`)).json()) as { upstreams: Record<string, { status: string; error: string }> };
    assert.equal(ready.upstreams.weather.status, 'failed');
    assert.match(ready.upstreams.weather.error, /refusing to connect to localhost: 127\.0\.0\.1 is a private or loopback address; set allowlist\.privateNetworks: true/);
    assert.equal(ready.upstreams.everything.status, 'ready', 'the other upstream is unaffected');
  });

  it('hides the tools an upstream config hides, from lists and calls', async () => {
    const c = await connectClient(gw.url);
    try {
      const names = (await c.client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('echo') && !names.includes('get-env') && !names.some((n) => n.startsWith('print')), names.join());
      await assert.rejects(c.client.callTool({ name: 'get-env', arguments: {} }), /Unknown tool: get-env/);
    } finally {
      await c.close();
    }
  });
});
