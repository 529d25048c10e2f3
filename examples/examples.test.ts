// End-to-end checks of the example servers with the SDK v2 client over each transport: stdio
// (notes-stdio), streamable HTTP (weather-http, catalog-http) and legacy HTTP+SSE (clock-sse).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  type FetchLike,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { exampleStdioCommand, type RunningExample, startExample } from '../test/helpers/spawn.ts';
import { readCatalog } from './catalog-http/server.ts';

const WAIT_MS = 10_000;

interface Notification {
  method: string;
  params?: Record<string, unknown>;
}

/** Records notifications and lets a test wait for one that has already arrived or is still to come. */
class Inbox {
  readonly #seen: Notification[] = [];
  readonly #waiters = new Set<{ match: (n: Notification) => boolean; resolve: (n: Notification) => void }>();

  push(notification: Notification): void {
    this.#seen.push(notification);
    for (const waiter of this.#waiters) {
      if (waiter.match(notification)) {
        this.#waiters.delete(waiter);
        waiter.resolve(notification);
      }
    }
  }

  waitFor(method: string, predicate: (params: Record<string, unknown>) => boolean = () => true): Promise<Notification> {
    const match = (n: Notification): boolean => n.method === method && predicate(n.params ?? {});
    const earlier = this.#seen.find(match);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve };
      this.#waiters.add(waiter);
      setTimeout(() => {
        if (this.#waiters.delete(waiter)) reject(new Error(`no ${method} notification within ${WAIT_MS} ms`));
      }, WAIT_MS).unref();
    });
  }
}

interface TestClient {
  client: Client;
  inbox: Inbox;
  samplingRequests: unknown[];
}

/** A client that answers sampling, elicitation and roots requests, and records notifications. */
async function connect(transport: Transport): Promise<TestClient> {
  const client = new Client(
    { name: 'examples-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
  );
  const inbox = new Inbox();
  const samplingRequests: unknown[] = [];
  client.setRequestHandler('sampling/createMessage', (request) => {
    samplingRequests.push(request.params);
    const last = request.params.messages.at(-1);
    const question = last && !Array.isArray(last.content) && last.content.type === 'text' ? last.content.text : '';
    return { model: 'test-model', role: 'assistant', content: { type: 'text', text: `echo: ${question}` } };
  });
  client.setRequestHandler('elicitation/create', (request) => {
    const approve = request.params.message.includes('deploy');
    return approve ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
  });
  client.setRequestHandler('roots/list', () => ({ roots: [{ uri: 'file:///tmp/project', name: 'project' }] }));
  for (const method of [
    'notifications/message',
    'notifications/tools/list_changed',
    'notifications/resources/updated',
    'notifications/resources/list_changed',
  ] as const) {
    client.setNotificationHandler(method, (n) => inbox.push(n as Notification));
  }
  await client.connect(transport);
  return { client, inbox, samplingRequests };
}

/**
 * A fetch that notes when the streamable HTTP client's standalone GET stream is open. Notifications
 * a server sends outside a request (list_changed, logs) travel on that stream and are dropped until
 * the client has opened it, which it does without waiting after `connect()`.
 */
function fetchWatchingGetStream(): { fetch: FetchLike; getStreamOpen: Promise<void> } {
  let opened!: () => void;
  const getStreamOpen = new Promise<void>((resolve) => (opened = resolve));
  const watching: FetchLike = async (url, init) => {
    const response = await fetch(url, init);
    if (init?.method === 'GET' && response.ok) opened();
    return response;
  };
  return { fetch: watching, getStreamOpen };
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  return result.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
}

/** The checks every example supports: tools, progress, cancellation and sampling. */
function commonChecks(setup: () => TestClient, expectedTools: string[]): void {
  it('lists its tools', async () => {
    const { tools } = await setup().client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of expectedTools) assert.ok(names.includes(name), `missing tool ${name} in ${names.join(', ')}`);
  });

  it('reports progress while slow_count runs', async () => {
    const progress: number[] = [];
    const result = await setup().client.callTool(
      { name: 'slow_count', arguments: { count: 3, delayMs: 40 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    // The SDK client dispatches progress notifications a microtask later than responses, so when the
    // last progress and the result arrive in one read (routinely on SSE) the last one is dropped as
    // "unknown token". The server did send it; allow for the client losing it.
    assert.deepEqual(progress, [1, 2, 3].slice(0, progress.length));
    assert.ok(progress.length >= 2, `got progress ${progress.join(', ')}`);
    assert.deepEqual(result.structuredContent, { reached: 3, count: 3, cancelled: false });
  });

  it('stops slow_count when the call is cancelled', async () => {
    const { client, inbox } = setup();
    const controller = new AbortController();
    const call = client.callTool(
      { name: 'slow_count', arguments: { count: 1000, delayMs: 20 } },
      {
        signal: controller.signal,
        onprogress: (p) => {
          if (p.progress === 2) controller.abort(new Error('enough'));
        },
      },
    );
    await assert.rejects(call);
    const log = await inbox.waitFor('notifications/message', (p) => p.logger === 'slow_count');
    const reached = Number(/cancelled after (\d+) of 1000/.exec(String(log.params?.data))?.[1]);
    assert.ok(reached >= 2 && reached < 1000, `server counted to ${reached}`);
  });

  it('relays ask_llm to the client through sampling', async () => {
    const { client, samplingRequests } = setup();
    const before = samplingRequests.length;
    const result = await client.callTool({ name: 'ask_llm', arguments: { question: 'What is 2+2?' } });
    assert.equal(textOf(result), 'echo: What is 2+2?');
    assert.equal(samplingRequests.length, before + 1);
  });
}

/** Elicitation, roots and a runtime tool; weather-http and notes-stdio have these. */
function interactiveChecks(setup: () => TestClient, ready: () => Promise<void> = async () => {}): void {
  it('asks the user through elicitation', async () => {
    const { client } = setup();
    const yes = await client.callTool({ name: 'confirm_action', arguments: { action: 'deploy to staging' } });
    assert.deepEqual(yes.structuredContent, { action: 'accept', confirmed: true });
    const no = await client.callTool({ name: 'confirm_action', arguments: { action: 'drop the database' } });
    assert.deepEqual(no.structuredContent, { action: 'decline', confirmed: false });
  });

  it('lists the client roots', async () => {
    const result = await setup().client.callTool({ name: 'list_roots', arguments: {} });
    assert.deepEqual(result.structuredContent, { roots: [{ uri: 'file:///tmp/project', name: 'project' }] });
  });

  it('announces extra_tool with tools/list_changed', async () => {
    const { client, inbox } = setup();
    await ready();
    assert.equal(textOf(await client.callTool({ name: 'enable_extra_tool', arguments: {} })), 'extra_tool enabled');
    await inbox.waitFor('notifications/tools/list_changed');
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === 'extra_tool'));
    assert.equal(textOf(await client.callTool({ name: 'extra_tool', arguments: {} })), 'hello from extra_tool');
    assert.equal(textOf(await client.callTool({ name: 'enable_extra_tool', arguments: {} })), 'extra_tool was already enabled');
  });
}

describe('notes-stdio', () => {
  let ctx: TestClient;
  before(async () => {
    const { command, args } = exampleStdioCommand('notes-stdio');
    ctx = await connect(new StdioClientTransport({ command, args, stderr: 'pipe' }));
  });
  after(() => ctx?.client.close());

  commonChecks(() => ctx, ['add_note', 'update_note', 'list_notes', 'search_notes', 'confirm_action', 'list_roots']);
  interactiveChecks(() => ctx);

  it('adds, lists and searches notes, logging each add', async () => {
    const added = await ctx.client.callTool({ name: 'add_note', arguments: { title: 'Trip', body: 'Pack the tent' } });
    const { id } = added.structuredContent as { id: string };
    const log = await ctx.inbox.waitFor('notifications/message', (p) => p.logger === 'notes');
    assert.deepEqual(log.params?.data, { event: 'note_added', id, title: 'Trip' });
    await ctx.inbox.waitFor('notifications/resources/list_changed');
    assert.match(textOf(await ctx.client.callTool({ name: 'list_notes', arguments: {} })), new RegExp(`${id}\\. Trip`));
    assert.equal(textOf(await ctx.client.callTool({ name: 'search_notes', arguments: { query: 'TENT' } })), `${id}. Trip`);
  });

  it('serves notes as resources, with a template and id completion', async () => {
    const { resources } = await ctx.client.listResources();
    assert.ok(resources.some((r) => r.uri === 'notes://1' && r.name === 'Welcome'));
    const { resourceTemplates } = await ctx.client.listResourceTemplates();
    assert.deepEqual(
      resourceTemplates.map((t) => t.uriTemplate),
      ['notes://{id}'],
    );
    const read = await ctx.client.readResource({ uri: 'notes://2' });
    assert.match((read.contents[0] as { text: string }).text, /^# Groceries/);
    const completion = await ctx.client.complete({
      ref: { type: 'ref/resource', uri: 'notes://{id}' },
      argument: { name: 'id', value: '2' },
    });
    assert.deepEqual(completion.completion.values, ['2']);
  });

  it('notifies subscribers when a note changes', async () => {
    await ctx.client.subscribeResource({ uri: 'notes://2' });
    await ctx.client.callTool({ name: 'update_note', arguments: { id: '2', body: 'Milk, bread.' } });
    await ctx.inbox.waitFor('notifications/resources/updated', (p) => p.uri === 'notes://2');
    const read = await ctx.client.readResource({ uri: 'notes://2' });
    assert.match((read.contents[0] as { text: string }).text, /Milk, bread\./);
    const missing = await ctx.client.callTool({ name: 'update_note', arguments: { id: '999', body: 'x' } });
    assert.equal(missing.isError, true);
  });

  it('offers the summarize_notes prompt', async () => {
    const { prompts } = await ctx.client.listPrompts();
    assert.deepEqual(
      prompts.map((p) => p.name),
      ['summarize_notes'],
    );
    const prompt = await ctx.client.getPrompt({ name: 'summarize_notes', arguments: { query: 'milk' } });
    const message = prompt.messages[0].content as { type: string; text: string };
    assert.match(message.text, /Summarize these 1 notes/);
  });
});

describe('weather-http', () => {
  let server: RunningExample;
  let ctx: TestClient;
  let getStreamOpen: Promise<void>;
  before(async () => {
    server = await startExample('weather-http');
    const watch = fetchWatchingGetStream();
    getStreamOpen = watch.getStreamOpen;
    ctx = await connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: watch.fetch }));
    await getStreamOpen; // cancellation reports and list_changed arrive on the standalone stream
  });
  after(async () => {
    await ctx?.client.close();
    await server?.close();
  });

  commonChecks(() => ctx, ['get_forecast', 'get_alerts', 'convert_temperature', 'echo_headers']);
  interactiveChecks(() => ctx, () => getStreamOpen);

  it('gives deterministic forecasts and conversions', async () => {
    const first = await ctx.client.callTool({ name: 'get_forecast', arguments: { city: 'Lisbon', days: 2 } });
    const again = await ctx.client.callTool({ name: 'get_forecast', arguments: { city: 'Lisbon', days: 2 } });
    assert.deepEqual(first.structuredContent, again.structuredContent);
    assert.equal((first.structuredContent as { days: unknown[] }).days.length, 2);
    const alerts = await ctx.client.callTool({ name: 'get_alerts', arguments: { region: 'CA' } });
    assert.equal(alerts.isError, undefined);
    const converted = await ctx.client.callTool({
      name: 'convert_temperature',
      arguments: { value: 100, from: 'C', to: 'F' },
    });
    assert.deepEqual(converted.structuredContent, { value: 212, unit: 'F' });
  });

  it('echoes the HTTP headers it received', async () => {
    const result = await ctx.client.callTool({ name: 'echo_headers', arguments: {} });
    const { headers } = result.structuredContent as { headers: Record<string, string> };
    assert.ok(headers['mcp-session-id'], 'session header present');
    assert.equal(headers.host, new URL(server.url).host);
  });

  it('reports a failed start with the server stderr', async () => {
    await assert.rejects(startExample('weather-http', { WEATHER_PAGE_SIZE: '0' }), (error: Error) => {
      assert.match(error.message, /did not start/);
      assert.match(error.message, /WEATHER_PAGE_SIZE must be an integer >= 1/);
      return true;
    });
  });

  it('paginates tools/list with WEATHER_EXTRA_TOOLS=120', async () => {
    const many = await startExample('weather-http', { WEATHER_EXTRA_TOOLS: '120' });
    const { client } = await connect(new StreamableHTTPClientTransport(new URL(many.url)));
    try {
      const pageSizes: number[] = [];
      const names: string[] = [];
      let page = await client.request({ method: 'tools/list', params: {} });
      for (;;) {
        pageSizes.push(page.tools.length);
        names.push(...page.tools.map((tool) => tool.name));
        if (page.nextCursor === undefined) break;
        page = await client.listTools({ cursor: page.nextCursor });
      }
      assert.deepEqual(pageSizes, [50, 50, 29]); // 4 weather + 120 stations + 5 test tools
      assert.equal(new Set(names).size, 129);
      assert.ok(names.includes('station_1') && names.includes('station_120'));
      const all = await client.listTools();
      assert.equal(all.tools.length, 129);
      const station = await client.callTool({ name: 'station_120', arguments: {} });
      assert.equal((station.structuredContent as { station: number }).station, 120);
      await assert.rejects(client.listTools({ cursor: 'bogus' }));
    } finally {
      await client.close();
      await many.close();
    }
  });
});

describe('clock-sse', () => {
  let server: RunningExample;
  let ctx: TestClient;
  before(async () => {
    server = await startExample('clock-sse');
    ctx = await connect(new SSEClientTransport(new URL(server.url)));
  });
  after(async () => {
    await ctx?.client.close();
    await server?.close();
  });

  commonChecks(() => ctx, ['now', 'add_duration']);

  it('tells the time and adds durations', async () => {
    const now = await ctx.client.callTool({ name: 'now', arguments: { timezone: 'Europe/Lisbon' } });
    assert.equal((now.structuredContent as { timezone: string }).timezone, 'Europe/Lisbon');
    const later = await ctx.client.callTool({ name: 'add_duration', arguments: { iso: '2025-01-31T23:30:00Z', minutes: 45 } });
    assert.equal(textOf(later), '2025-02-01T00:15:00.000Z');
    const bad = await ctx.client.callTool({ name: 'now', arguments: { timezone: 'Mars/Olympus' } });
    assert.equal(bad.isError, true);
  });

  it('rejects posts for unknown sessions', async () => {
    const response = await fetch(new URL('/messages?sessionId=nope', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'ping', id: 1 }),
    });
    assert.equal(response.status, 404);
  });
});

describe('catalog-http', () => {
  let running: RunningExample;
  const dir = mkdtempSync(join(tmpdir(), 'catalog-http-'));
  const file = join(dir, 'tools.jsonl');
  before(async () => {
    const rows = [
      { server: 'Ant Design', server_title: 'Ant Design Components', server_description: 'UI components', name: 'list_components', description: 'Lists components', inputSchema: { type: 'object', properties: { filter: { type: 'string' } } } },
      { server: 'Ant Design', name: 'get_component', description: 'One component by name' },
      { server: 'time', name: 'now' },
    ];
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    running = await startExample('catalog-http', { CATALOG_FILE: file });
  });
  after(() => running.close());

  it('serves one MCP server per catalog server, tools as written, calls echoed', async () => {
    const client = new Client({ name: 'examples-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(running.url.replace('<server>', encodeURIComponent('Ant Design')))));
    try {
      assert.equal(client.getServerVersion()?.title, 'Ant Design Components');
      assert.equal(client.getInstructions(), 'UI components');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ['list_components', 'get_component']);
      assert.deepEqual(tools[0].inputSchema, { type: 'object', properties: { filter: { type: 'string' } } });
      const result = await client.callTool({ name: 'list_components', arguments: { filter: 'button' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'Ant Design/list_components called with {"filter":"button"}' }]);
      await assert.rejects(client.callTool({ name: 'missing', arguments: {} }), /Unknown tool: missing/);
    } finally {
      await client.close();
    }
  });

  it('answers 404 for a server that is not in the catalog, and names a bad line of the file', async () => {
    const res = await fetch(running.url.replace('<server>', 'nope'), { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /one of 2 servers/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"server":"a","name":"x"}\n{"name":"y"}\n');
    assert.throws(() => readCatalog(bad), /bad\.jsonl:2: a row needs "server" and "name"/);
  });
});
