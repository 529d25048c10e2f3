/**
 * Server->client requests of a stdio upstream reach the right client when several clients use it at once:
 * with `sharing: shared` (one process, calls attributed in arrival order) and `sharing: per-session` (a process
 * per session, exact by construction). Each client's handler answers with its own tag, so a request relayed to
 * the wrong client shows up as the wrong answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startGateway } from '../helpers/gateway.ts';
import type { RunningGateway } from '../helpers/gateway.ts';
import { exampleStdioCommand } from '../helpers/spawn.ts';
import { connectClient, textOf } from './harness.ts';
import type { TestClient } from './harness.ts';

const ROUNDS = 3;

/** Both clients ask at once, ROUNDS calls each in flight together; each must get its own handler's answer. */
async function concurrentSampling(a: TestClient, b: TestClient, tool: string): Promise<void> {
  const calls: Promise<void>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [client, tag] of [[a, 'alice'], [b, 'bob']] as const) {
      const question = `question ${i} from ${tag}`;
      calls.push(client.client.callTool({ name: tool, arguments: { question } }).then((r) => {
        assert.equal(textOf(r), `${tag} answers: ${question}`);
        assert.equal((r.structuredContent as { model: string }).model, `model-${tag}`);
      }));
    }
  }
  await Promise.all(calls);
  for (const [client, tag] of [[a, 'alice'], [b, 'bob']] as const) {
    assert.equal(client.sampled.length, ROUNDS);
    assert.ok(client.sampled.every((q) => q.endsWith(`from ${tag}`)), `${tag} was asked ${client.sampled.join(' | ')}`);
  }
}

/** Each client's elicitation handler accepts only messages naming its own tag. */
async function concurrentElicitation(a: TestClient, b: TestClient, tool: string): Promise<void> {
  const calls: Promise<void>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [client, tag] of [[a, 'alice'], [b, 'bob']] as const) {
      calls.push(client.client.callTool({ name: tool, arguments: { action: `run job ${i} of ${tag}` } }).then((r) => {
        assert.deepEqual(r.structuredContent, { action: 'accept', confirmed: true }, `${tag}'s elicitation ${i} went to the wrong client`);
      }));
    }
  }
  await Promise.all(calls);
  for (const [client, tag] of [[a, 'alice'], [b, 'bob']] as const) {
    assert.equal(client.elicited.length, ROUNDS);
    assert.ok(client.elicited.every((m) => m.includes(`of ${tag}`)), `${tag} was shown ${client.elicited.join(' | ')}`);
  }
}

for (const sharing of ['shared', 'per-session'] as const) {
  describe(`stdio upstream with sharing: ${sharing}, two clients at once`, () => {
    let gw: RunningGateway;
    let alice: TestClient;
    let bob: TestClient;

    before(async () => {
      gw = await startGateway({ upstreams: { notes: { ...exampleStdioCommand('notes-stdio'), sharing } } });
      [alice, bob] = await Promise.all([connectClient(gw.url, { tag: 'alice' }), connectClient(gw.url, { tag: 'bob' })]);
    });
    after(async () => {
      await Promise.all([alice?.close(), bob?.close()]);
      await gw?.close();
    });

    it('relays each sampling request to the client whose call raised it', async () => {
      await concurrentSampling(alice, bob, 'ask_llm');
    });

    it('relays each elicitation request to the client whose call raised it', async () => {
      await concurrentElicitation(alice, bob, 'confirm_action');
    });

    it(sharing === 'shared' ? 'serves both sessions from one process' : 'gives each session its own process', async () => {
      const added = await alice.client.callTool({ name: 'add_note', arguments: { title: 'alice-only', body: 'x' } });
      assert.equal(added.isError, undefined);
      const seenByBob = textOf(await bob.client.callTool({ name: 'search_notes', arguments: { query: 'alice-only' } }));
      const stats = gw.gateway.stats().upstreams.notes as { processes: number };
      if (sharing === 'shared') {
        assert.match(seenByBob, /alice-only/);
        assert.equal(stats.processes, 1);
      } else {
        assert.equal(seenByBob, 'No notes match "alice-only".');
        assert.equal(stats.processes, 3, 'a catalog process plus one per session');
      }
    });
  });
}

describe('shared stdio: a sampling request never goes to a call whose client cannot sample', () => {
  let gw: RunningGateway;
  let alice: TestClient;
  let carol: Client;
  before(async () => {
    gw = await startGateway({ upstreams: { notes: { ...exampleStdioCommand('notes-stdio'), sharing: 'shared' } } });
    alice = await connectClient(gw.url, { tag: 'alice' });
    carol = new Client({ name: 'it-carol', version: '1.0.0' }, { capabilities: {} });
    await carol.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  });
  after(async () => {
    await Promise.all([alice?.close(), carol?.close()]);
    await gw?.close();
  });

  it('skips the older call of a client without the capability', async () => {
    // Carol's slow call is in flight first (its first progress proves the upstream is working on it).
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const slow = carol.callTool({ name: 'slow_count', arguments: { count: 10, delayMs: 50 } }, { onprogress: () => started() });
    await inFlight;
    const r = await alice.client.callTool({ name: 'ask_llm', arguments: { question: 'who asks?' } });
    assert.equal(textOf(r), 'alice answers: who asks?');
    assert.equal((await slow).isError, undefined);
  });
});
