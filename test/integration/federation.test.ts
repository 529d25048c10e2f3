/**
 * Federation: one gateway in front of notes-stdio (stdio), weather-http (streamable HTTP, itself paginating 129
 * tools) and clock-sse (legacy SSE), driven by the official SDK client — lists, calls, prompts, resources,
 * completion, progress, cancellation, sampling, elicitation, subscriptions, list_changed and logging.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway } from '../helpers/gateway.ts';
import type { RunningGateway } from '../helpers/gateway.ts';
import { connectClient, listAll, startUpstreams, textOf } from './harness.ts';
import type { TestClient, Upstreams } from './harness.ts';

const PAGE_SIZE = 25;

describe('federation of stdio, streamable HTTP and legacy SSE upstreams', () => {
  let upstreams: Upstreams;
  let gw: RunningGateway;
  let c: TestClient;

  before(async () => {
    upstreams = await startUpstreams({ weatherEnv: { WEATHER_EXTRA_TOOLS: '120', WEATHER_PAGE_SIZE: '50' } });
    gw = await startGateway({ upstreams: upstreams.config, server: { pageSize: PAGE_SIZE } });
    c = await connectClient(gw.url, { tag: 'fed' });
    await c.getStreamOpen;
  });
  after(async () => {
    await c?.close();
    await gw?.close();
    await upstreams?.close();
  });

  it('lists namespaced tools of all three upstreams, across the gateway pages and the upstream pages', async () => {
    const { items, pages } = await listAll(c.client, 'tools/list', 'tools');
    const names = items.map((t) => t.name as string);
    assert.equal(new Set(names).size, names.length, 'no tool listed twice');
    for (const n of ['notes__add_note', 'notes__slow_count', 'notes__ask_llm', 'weather__get_forecast', 'weather__echo_headers', 'clock__now', 'clock__add_duration']) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
    const stations = names.filter((n) => /^weather__station_\d+$/.test(n));
    assert.equal(stations.length, 120, 'every tool of every upstream page of weather-http');
    // notes: 4 + 5 test tools; weather: 4 + 120 + 5; clock: 2 + 2.
    assert.equal(names.length, 9 + 129 + 4);
    assert.ok(names.every((n) => /^(notes|weather|clock)__/.test(n)), 'every name is prefixed by its upstream');
    assert.ok(pages.length > 1 && pages.slice(0, -1).every((p) => p === PAGE_SIZE), `pages of ${PAGE_SIZE}: ${pages.join(', ')}`);
    // The SDK's listTools follows the cursors itself and finds the same set.
    const all = await c.client.listTools();
    assert.equal(all.tools.length, names.length);
    await assert.rejects(c.client.listTools({ cursor: 'bogus' }), /cursor/i);
  });

  it('calls a tool of each upstream', async () => {
    const added = await c.client.callTool({ name: 'notes__add_note', arguments: { title: 'Trip', body: 'Pack the tent' } });
    assert.match(textOf(added), /^Added note \d+: Trip$/);
    const forecast = await c.client.callTool({ name: 'weather__get_forecast', arguments: { city: 'Lisbon', days: 2 } });
    assert.equal((forecast.structuredContent as { days: unknown[] }).days.length, 2);
    const station = await c.client.callTool({ name: 'weather__station_120', arguments: {} });
    assert.equal((station.structuredContent as { station: number }).station, 120);
    const now = await c.client.callTool({ name: 'clock__now', arguments: { timezone: 'UTC' } });
    assert.equal((now.structuredContent as { iso: string }).iso, '2025-01-31T23:30:00.000Z');
    const later = await c.client.callTool({ name: 'clock__add_duration', arguments: { iso: '2025-01-31T23:30:00Z', minutes: 45 } });
    assert.equal(textOf(later), '2025-02-01T00:15:00.000Z');
    const unknown = await c.client.callTool({ name: 'nope__nothing', arguments: {} }).then(
      () => null,
      (err: { code?: number; message: string }) => err,
    );
    assert.ok(unknown, 'an unknown tool is refused');
    assert.match(unknown.message, /Unknown tool/);
  });

  it('lists, reads and completes prompts, resources and templates', async () => {
    const { prompts } = await c.client.listPrompts();
    assert.deepEqual(prompts.map((p) => p.name), ['notes__summarize_notes']);
    const prompt = await c.client.getPrompt({ name: 'notes__summarize_notes', arguments: { query: 'milk' } });
    assert.match((prompt.messages[0].content as { text: string }).text, /Summarize these 1 notes/);

    const { resources } = await c.client.listResources();
    assert.ok(resources.some((r) => r.uri === 'notes://1' && r.name === 'Welcome'));
    const { resourceTemplates } = await c.client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ['notes://{id}']);
    const read = await c.client.readResource({ uri: 'notes://2' });
    assert.match((read.contents[0] as { text: string }).text, /^# Groceries/);
    await assert.rejects(c.client.readResource({ uri: 'nowhere://1' }));

    const completion = await c.client.complete({ ref: { type: 'ref/resource', uri: 'notes://{id}' }, argument: { name: 'id', value: '2' } });
    assert.deepEqual(completion.completion.values, ['2']);
    // A prompt reference is renamed back to the upstream's name (an unknown prompt would be an error upstream).
    const promptCompletion = await c.client.complete({ ref: { type: 'ref/prompt', name: 'notes__summarize_notes' }, argument: { name: 'query', value: 'mi' } });
    assert.deepEqual(promptCompletion.completion.values, []);
    await assert.rejects(c.client.complete({ ref: { type: 'ref/prompt', name: 'summarize_notes' }, argument: { name: 'query', value: 'mi' } }), /Unknown prompt/);
  });

  it('relays progress notifications with the client token', async () => {
    for (const name of ['notes__slow_count', 'weather__slow_count', 'clock__slow_count']) {
      const progress: number[] = [];
      const result = await c.client.callTool({ name, arguments: { count: 4, delayMs: 20 } }, { onprogress: (p) => progress.push(p.progress) });
      assert.deepEqual(result.structuredContent, { reached: 4, count: 4, cancelled: false });
      // The SDK client drops progress that arrives in the same read as the result (examples/README.md); with
      // 20 ms between steps that is at most the tail, so expect an in-order prefix.
      assert.ok(progress.length >= 2, `${name}: progress ${progress.join(', ')}`);
      assert.deepEqual(progress, [1, 2, 3, 4].slice(0, progress.length));
    }
  });

  for (const upstream of ['notes', 'weather', 'clock']) {
    it(`cancels a slow_count on ${upstream} when the client aborts, and the upstream stops`, async () => {
      const from = c.inbox.seen.length;
      const controller = new AbortController();
      const call = c.client.callTool(
        { name: `${upstream}__slow_count`, arguments: { count: 1000, delayMs: 20 } },
        {
          signal: controller.signal,
          onprogress: (p) => {
            if (p.progress === 2) controller.abort(new Error('enough'));
          },
        },
      );
      await assert.rejects(call);
      const log = await c.inbox.waitFor('notifications/message', (p) => p.logger === 'slow_count', from);
      const reached = Number(/cancelled after (\d+) of 1000/.exec(String(log.params?.data))?.[1]);
      assert.ok(reached >= 2 && reached < 1000, `the upstream stopped counting at ${reached}`);
    });
  }

  it('relays sampling through the stdio, HTTP and SSE upstreams to the client handler', async () => {
    for (const upstream of ['notes', 'weather', 'clock']) {
      const result = await c.client.callTool({ name: `${upstream}__ask_llm`, arguments: { question: `2+2 via ${upstream}?` } });
      assert.equal(textOf(result), `fed answers: 2+2 via ${upstream}?`);
      assert.equal((result.structuredContent as { model: string }).model, 'model-fed');
    }
    assert.deepEqual(c.sampled.slice(-3), ['2+2 via notes?', '2+2 via weather?', '2+2 via clock?']);
  });

  it('relays elicitation through the stdio and HTTP upstreams', async () => {
    for (const upstream of ['notes', 'weather']) {
      const yes = await c.client.callTool({ name: `${upstream}__confirm_action`, arguments: { action: 'fed deploy' } });
      assert.deepEqual(yes.structuredContent, { action: 'accept', confirmed: true });
      const no = await c.client.callTool({ name: `${upstream}__confirm_action`, arguments: { action: 'drop the database' } });
      assert.deepEqual(no.structuredContent, { action: 'decline', confirmed: false });
    }
    assert.deepEqual(c.elicited.slice(-4), ['Do you want to fed deploy?', 'Do you want to drop the database?', 'Do you want to fed deploy?', 'Do you want to drop the database?']);
  });

  it('relays roots/list to the client', async () => {
    const result = await c.client.callTool({ name: 'notes__list_roots', arguments: {} });
    assert.deepEqual(result.structuredContent, { roots: [{ uri: 'file:///tmp/fed', name: 'fed' }] });
  });

  it('delivers resources/updated for a subscribed note', async () => {
    const from = c.inbox.seen.length;
    await c.client.subscribeResource({ uri: 'notes://2' });
    await c.client.callTool({ name: 'notes__update_note', arguments: { id: '2', body: 'Milk, bread.' } });
    const updated = await c.inbox.waitFor('notifications/resources/updated', (p) => p.uri === 'notes://2', from);
    assert.equal(updated.params?.uri, 'notes://2');
    const read = await c.client.readResource({ uri: 'notes://2' });
    assert.match((read.contents[0] as { text: string }).text, /Milk, bread\./);
    // After unsubscribing, another update is not delivered; a later subscribed update proves the order.
    await c.client.unsubscribeResource({ uri: 'notes://2' });
    await c.client.subscribeResource({ uri: 'notes://1' });
    const mark = c.inbox.seen.length;
    await c.client.callTool({ name: 'notes__update_note', arguments: { id: '2', body: 'unseen' } });
    await c.client.callTool({ name: 'notes__update_note', arguments: { id: '1', body: 'seen' } });
    await c.inbox.waitFor('notifications/resources/updated', (p) => p.uri === 'notes://1', mark);
    assert.ok(!c.inbox.seen.slice(mark).some((n) => n.method === 'notifications/resources/updated' && n.params?.uri === 'notes://2'));
    await c.client.unsubscribeResource({ uri: 'notes://1' });
  });

  it('tells the client tools/list_changed after enable_extra_tool, and the new tool is callable', async () => {
    const from = c.inbox.seen.length;
    assert.equal(textOf(await c.client.callTool({ name: 'notes__enable_extra_tool', arguments: {} })), 'extra_tool enabled');
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    const { items } = await listAll(c.client, 'tools/list', 'tools');
    assert.ok(items.some((t) => t.name === 'notes__extra_tool'));
    assert.equal(textOf(await c.client.callTool({ name: 'notes__extra_tool', arguments: {} })), 'hello from extra_tool');
  });

  it('forwards log notifications of a call and honours logging/setLevel', async () => {
    const from = c.inbox.seen.length;
    const added = await c.client.callTool({ name: 'notes__add_note', arguments: { title: 'Logged', body: 'x' } });
    const { id } = added.structuredContent as { id: string };
    const log = await c.inbox.waitFor('notifications/message', (p) => p.logger === 'notes', from);
    assert.deepEqual(log.params?.data, { event: 'note_added', id, title: 'Logged' });
    assert.equal(log.params?.level, 'info');

    // The log line of a call travels before its result on the call's stream: none may arrive at "warning".
    await c.client.setLoggingLevel('warning');
    const mark = c.inbox.seen.length;
    await c.client.callTool({ name: 'notes__add_note', arguments: { title: 'Quiet', body: 'x' } });
    assert.ok(!c.inbox.seen.slice(mark).some((n) => n.method === 'notifications/message' && n.params?.logger === 'notes'));
    await c.client.setLoggingLevel('debug');
  });
});
