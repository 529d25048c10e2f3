/**
 * Virtual servers at /mcp/<name> over the three example upstreams: selection by upstream, tool glob and tag;
 * overrides (rename, description replace/append, annotations); derived tools with fixed and defaulted
 * arguments; list filtering equals call enforcement; unknown names are 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { INIT, post, startGateway } from '../helpers/gateway.ts';
import type { RunningGateway } from '../helpers/gateway.ts';
import { connectClient, startUpstreams } from './harness.ts';
import type { TestClient, Upstreams } from './harness.ts';

describe('virtual servers', () => {
  let upstreams: Upstreams;
  let gw: RunningGateway;
  const clients: TestClient[] = [];

  before(async () => {
    upstreams = await startUpstreams();
    const u = upstreams.config as Record<string, Record<string, unknown>>;
    gw = await startGateway({
      upstreams: { notes: { ...u.notes, tags: ['docs'] }, weather: { ...u.weather, tags: ['weather', 'http'] }, clock: { ...u.clock, tags: ['time'] } },
      virtualServers: {
        weatheronly: { title: 'Weather only', description: 'Just the weather.', include: [{ upstreams: ['weather'] }] },
        getters: { include: [{ tools: ['*__get_*', 'clock__now'] }] },
        timely: { include: [{ tags: ['time'] }] },
        curated: {
          include: [{ upstreams: ['weather', 'notes'], excludeTools: ['*__station_*', '*__slow_count'] }],
          tools: {
            weather__get_forecast: { name: 'forecast', description: 'Replaced description.', annotations: { title: 'Forecast', destructiveHint: false } },
            notes__list_notes: { descriptionAppend: 'Appended by the gateway.' },
          },
          derived: [
            { name: 'lisbon_forecast', from: 'weather__get_forecast', description: 'The forecast for Lisbon.', fixed: { city: 'Lisbon' }, defaults: { days: 2 } },
          ],
        },
      },
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.close();
    await upstreams?.close();
  });

  async function connect(name: string): Promise<TestClient> {
    const c = await connectClient(`${gw.url}/${name}`, { tag: name });
    clients.push(c);
    return c;
  }

  async function toolNames(c: TestClient): Promise<string[]> {
    return (await c.client.listTools()).tools.map((t) => t.name).sort();
  }

  /** A call the virtual server must refuse as if the tool did not exist. */
  async function assertRefused(c: TestClient, name: string): Promise<void> {
    await assert.rejects(c.client.callTool({ name, arguments: {} }), (err: { code?: number; message: string }) => {
      assert.equal(err.code, -32602);
      assert.match(err.message, new RegExp(`Unknown tool: ${name}`));
      return true;
    });
  }

  it('selects by upstream: one upstream, so its names are not prefixed; title and description are the server\'s', async () => {
    const c = await connect('weatheronly');
    const names = await toolNames(c);
    assert.ok(names.includes('get_forecast') && names.includes('echo_headers'));
    assert.ok(!names.some((n) => n.includes('__') || n === 'now' || n === 'add_note'), names.join(', '));
    assert.equal(c.client.getServerVersion()?.title, 'Weather only');
    assert.equal(c.client.getInstructions(), 'Just the weather.');
    const forecast = await c.client.callTool({ name: 'get_forecast', arguments: { city: 'Oslo', days: 1 } });
    assert.equal((forecast.structuredContent as { city: string }).city, 'Oslo');
    await assertRefused(c, 'now');
    await assertRefused(c, 'clock__now');
  });

  it('selects by tool glob over the federated names', async () => {
    const c = await connect('getters');
    assert.deepEqual(await toolNames(c), ['clock__now', 'weather__get_alerts', 'weather__get_forecast']);
    const now = await c.client.callTool({ name: 'clock__now', arguments: {} });
    assert.equal((now.structuredContent as { iso: string }).iso, '2025-01-31T23:30:00.000Z');
    await assertRefused(c, 'clock__add_duration');
    await assertRefused(c, 'notes__add_note');
  });

  it('selects by tag', async () => {
    const c = await connect('timely');
    assert.deepEqual(await toolNames(c), ['add_duration', 'ask_llm', 'now', 'slow_count']);
    // No notes upstream here: no prompts or resources either.
    assert.equal(c.client.getServerCapabilities()?.prompts, undefined);
    await assertRefused(c, 'get_forecast');
  });

  it('applies overrides: rename, description replace and append, annotations', async () => {
    const c = await connect('curated');
    const { tools } = await c.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.ok(!tools.some((t) => /station_|slow_count/.test(t.name)), 'excluded tools are not listed');
    assert.ok(!byName.has('weather__get_forecast'), 'the renamed tool is listed under its new name only');
    const forecast = byName.get('forecast')!;
    assert.equal(forecast.description, 'Replaced description.');
    assert.deepEqual(forecast.annotations, { readOnlyHint: true, openWorldHint: false, title: 'Forecast', destructiveHint: false });
    assert.equal(byName.get('notes__list_notes')!.description, 'Lists every note by id and title.\n\nAppended by the gateway.');
    const called = await c.client.callTool({ name: 'forecast', arguments: { city: 'Porto', days: 1 } });
    assert.equal((called.structuredContent as { city: string }).city, 'Porto');
    await assertRefused(c, 'weather__get_forecast');
    await assertRefused(c, 'weather__station_1');
    await assertRefused(c, 'notes__slow_count');
  });

  it('derives a tool: fixed arguments leave the schema, defaults stop being required, the upstream gets both', async () => {
    const c = await connect('curated');
    const derived = (await c.client.listTools()).tools.find((t) => t.name === 'lisbon_forecast')!;
    assert.ok(derived, 'the derived tool is listed');
    assert.equal(derived.description, 'The forecast for Lisbon.');
    const props = derived.inputSchema.properties as Record<string, { default?: unknown }>;
    assert.equal(props.city, undefined, 'the fixed argument is hidden');
    assert.equal(props.days.default, 2);
    assert.ok(!(derived.inputSchema.required ?? []).includes('days'));

    const plain = await c.client.callTool({ name: 'lisbon_forecast', arguments: {} });
    const s = plain.structuredContent as { city: string; days: unknown[] };
    assert.equal(s.city, 'Lisbon');
    assert.equal(s.days.length, 2, 'the default reached the upstream');
    // A caller cannot override a fixed argument; a defaulted one it can.
    const forced = await c.client.callTool({ name: 'lisbon_forecast', arguments: { city: 'Paris', days: 1 } });
    const f = forced.structuredContent as { city: string; days: unknown[] };
    assert.equal(f.city, 'Lisbon');
    assert.equal(f.days.length, 1);
  });

  it('an unknown virtual server is 404, on both transports', async () => {
    const r = await post(`${gw.url}/nope`, INIT());
    assert.equal(r.status, 404);
    assert.match(r.json.error.message, /No virtual server named "nope"/);
    const sse = await fetch(`${gw.base}/sse/nope`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 404);
    await sse.body?.cancel();
  });

  it('a virtual server is served on the legacy SSE transport too', async () => {
    const c = await connectClient(`${gw.base}/sse/getters`, { tag: 'legacy', transport: 'sse' });
    clients.push(c);
    assert.deepEqual(await toolNames(c), ['clock__now', 'weather__get_alerts', 'weather__get_forecast']);
    await assertRefused(c, 'weather__echo_headers');
  });
});
