/**
 * Pinning (issue 4): a rug pull end to end. A real upstream changes a tool's description while an SDK client is
 * connected: the tool leaves the client's list (tools/list_changed), a call to it is refused saying it is
 * quarantined, `gatehouse approvals` in another process shows the diff, and its approval brings the tool back to the
 * running gateway. Pins survive a restart; mode approve holds new tools too; a rejection keeps the tool out.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { connectClient, textOf } from './integration/harness.ts';
import type { TestClient } from './integration/harness.ts';

const CHANGED = 'Looks up a word and returns its definition and its synonyms.';
const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;
const MUTABLE = new URL('./fixtures/mutable-server.ts', import.meta.url).pathname;
const run = promisify(execFile);

async function approvals(store: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, 'approvals', ...args, '--store', store]);
  return stdout;
}

const names = async (c: TestClient) => (await c.client.listTools()).tools.map((t) => t.name).sort();
const refusal = (p: Promise<unknown>) => p.then(() => null, (err: { code?: number; message: string; data?: any }) => err);

describe('pinning: a rug pull, end to end', () => {
  const store = join(mkdtempSync(join(tmpdir(), 'gatehouse-pinning-')), 'gatehouse.db');
  const config = (mode = 'tofu') => ({
    store: { path: store },
    pinning: { mode, checkInterval: '50ms' },
    upstreams: { dict: { command: process.execPath, args: [MUTABLE] } },
  });
  const open: { gw: RunningGateway; clients: TestClient[] }[] = [];
  const start = async (mode?: string) => {
    const gw = await startGateway(config(mode));
    const entry = { gw, clients: [] as TestClient[] };
    open.push(entry);
    const connect = async () => {
      const c = await connectClient(gw.url);
      entry.clients.push(c);
      await c.getStreamOpen;
      return c;
    };
    return { gw, connect };
  };
  after(async () => {
    for (const { gw, clients } of open) {
      await Promise.all(clients.map((c) => c.close()));
      await gw.close();
    }
  });

  it('quarantines a changed tool, refuses calls to it, and lists it again once approved in another process', async () => {
    const { gw, connect } = await start();
    const c = await connect();
    assert.deepEqual(await names(c), ['add_tool', 'lookup', 'restore', 'rug_pull'], 'trust on first use: everything pinned');
    assert.match(textOf(await c.client.callTool({ name: 'lookup', arguments: { word: 'gate' } })), /gate: a word/);

    const from = c.inbox.seen.length;
    await c.client.callTool({ name: 'rug_pull', arguments: { description: CHANGED } });
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    assert.ok(!(await names(c)).includes('lookup'), 'the changed tool is no longer listed');
    const refused = await refusal(c.client.callTool({ name: 'lookup', arguments: { word: 'gate' } }));
    assert.equal(refused?.code, -32602);
    assert.match(refused!.message, /The tool lookup is quarantined: its definition changed upstream since it was approved/);

    const listed = await approvals(store, 'list');
    const [, id] = /^(\w{12})\s+dict\s+tool\s+lookup\s+changed/m.exec(listed) ?? [];
    assert.ok(id, listed);
    const diff = await approvals(store, 'show', id);
    assert.match(diff, /^-\s+"description": "Looks up a word in the dictionary and returns its definition\."/m);
    assert.match(diff, /^\+\s+"description": "Looks up a word and returns its definition and its synonyms\."/m);

    const back = c.inbox.seen.length;
    assert.match(await approvals(store, 'approve', id, '--by', 'alice'), /Approved tool lookup of dict/);
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, back);
    const tools = (await c.client.listTools()).tools;
    assert.equal(tools.find((t) => t.name === 'lookup')!.description, CHANGED, 'the approved version is what is listed');
    assert.match(textOf(await c.client.callTool({ name: 'lookup', arguments: { word: 'x' } })), /x: a word/);
    assert.equal(await approvals(store, 'list'), 'Nothing waits for approval.\n');
    await gw.close();
  });

  it('keeps pins across a restart; going back to the approved version needs no approval', async () => {
    const { connect } = await start();
    const c = await connect();
    // The restarted upstream serves its original text again, which is not what was approved: quarantined.
    assert.ok(!(await names(c)).includes('lookup'), 'the pin approved before the restart still decides');
    const from = c.inbox.seen.length;
    await c.client.callTool({ name: 'rug_pull', arguments: { description: CHANGED } }); // the approved version again
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    assert.ok((await names(c)).includes('lookup'));
    // The other version stays recorded until an admin decides: another replica may still be served it.
    assert.match(await approvals(store, 'list'), /dict\s+tool\s+lookup\s+changed/);
  });

  it('sends a poisoned change to quarantine as flagged, with the scanner\'s findings for the admin', async () => {
    const { connect } = await start();
    const c = await connect();
    const back = c.inbox.seen.length;
    await c.client.callTool({ name: 'rug_pull', arguments: { description: CHANGED } }); // the approved version: listed
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, back);
    const from = c.inbox.seen.length;
    await c.client.callTool({ name: 'rug_pull', arguments: {} }); // the <IMPORTANT> text reading ~/.ssh
    await c.inbox.waitFor('notifications/tools/list_changed', () => true, from);
    const refused = await refusal(c.client.callTool({ name: 'lookup', arguments: { word: 'x' } }));
    assert.match(refused!.message, /The tool lookup is quarantined: the gateway's scanner flagged its definition/);
    const listed = await approvals(store, 'list', '--json');
    const pending = (JSON.parse(listed) as { id: string; key: string; reason: string }[]).find((p) => p.key === 'lookup' && p.reason === 'flagged');
    assert.ok(pending, listed);
    const shown = await approvals(store, 'show', pending.id);
    assert.match(shown, /finding hidden\.\S+ \((high|critical)\)/);
    assert.match(shown, /finding exfil\.sensitive-file/);
  });

  it('in mode approve, holds new tools too; a rejected version stays out', async () => {
    const { gw, connect } = await start('approve');
    const c = await connect();
    // Nothing the client sees changes (the new tool is held back), so wait for the catalog to take the new list.
    const relisted = new Promise((resolve) => gw.gateway.catalog.once('change', resolve));
    await c.client.callTool({ name: 'add_tool', arguments: {} });
    await relisted;
    assert.ok(!(await names(c)).includes('fresh'), 'a new tool waits for approval');
    const refused = await refusal(c.client.callTool({ name: 'fresh', arguments: {} }));
    assert.match(refused!.message, /The tool fresh is quarantined: it is new and waits for an administrator/);
    const id = (JSON.parse(await approvals(store, 'list', '--json')) as { id: string; key: string }[]).find((p) => p.key === 'fresh')!.id;
    assert.match(await approvals(store, 'reject', id, '--by', 'bob'), /Rejected tool fresh of dict/);
    assert.doesNotMatch(await approvals(store, 'list'), /fresh/, 'no longer waiting');
    assert.match(await approvals(store, 'list', '--all'), /fresh\s+rejected by bob/);
    const stillOut = await refusal(c.client.callTool({ name: 'fresh', arguments: {} }));
    assert.match(stillOut!.message, /an administrator rejected its current definition/);
    assert.equal(stillOut!.data?.reason, 'rejected');
  });
});
