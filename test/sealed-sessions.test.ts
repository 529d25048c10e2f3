/**
 * Sealed session ids across replicas: gateways given the same session key serve each other's sessions with no
 * shared store (in-process here, and as two `gatehouse start --session-key-file` processes); forged, tampered and
 * expired ids and an id presented by another principal are refused with 404.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { SessionSealer } from '../src/session/seal.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { nodeBinary, REPO_ROOT, waitForLine } from './helpers/spawn.ts';

const VERSION = '2025-11-25';
const headers = (session: string, token?: string) => ({ 'mcp-session-id': session, 'mcp-protocol-version': VERSION, ...(token !== undefined && { authorization: `Bearer ${token}` }) });
const echo = (url: string, session: string, message: string, token?: string, id = 1) =>
  post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } }, headers(session, token));

describe('sealed sessions across replicas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sealed-'));
  const store = join(dir, 'gatehouse.db');
  const key = randomBytes(32).toString('base64');
  const config = (keys: { id: string; secret: string }[]) => ({ store: { path: store }, auth: { enabled: true }, sessions: { keys }, upstreams: { everything: everythingStdio() } });
  let a: RunningGateway;
  let b: RunningGateway;
  let alice = '';
  let bob = '';

  before(async () => {
    [a, b] = await Promise.all([startGateway(config([{ id: 'k1', secret: key }])), startGateway(config([{ id: 'k1', secret: key }]))]);
    // API keys live in the store file both replicas share.
    alice = (await issueApiKey(a.gateway.apiKeys!, { owner: 'alice' })).token;
    bob = (await issueApiKey(a.gateway.apiKeys!, { owner: 'bob' })).token;
  });
  after(() => Promise.all([a?.close(), b?.close()]));

  const open = async (gw: RunningGateway, token: string) => {
    const init = await post(gw.url, INIT(VERSION), { authorization: `Bearer ${token}` });
    assert.equal(init.status, 200, init.text);
    return init.headers.get('mcp-session-id')!;
  };

  it('a session opened on one replica is served by the other, its requests alternating between them', async () => {
    const session = await open(a, alice);
    assert.match(session, /^g1\.k1\./);
    for (let i = 0; i < 6; i++) {
      const gw = i % 2 === 0 ? b : a;
      const r = await echo(gw.url, session, `turn ${i}`, alice, i);
      assert.match(JSON.stringify(r.json?.result), new RegExp(`turn ${i}`), r.text);
    }
    const listed = await post(b.url, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, headers(session, alice));
    assert.ok(listed.json.result.tools.length > 0);
  });

  it('refuses a forged, a tampered and another principal\'s session id with 404', async () => {
    const session = await open(a, alice);
    const body = session.slice('g1.k1.'.length);
    const tampered = `g1.k1.${body.slice(0, 30)}${body[30] === 'A' ? 'B' : 'A'}${body.slice(31)}`;
    for (const id of [tampered, `g1.k1.${randomBytes(64).toString('base64url')}`, 'made-up-session']) {
      assert.equal((await echo(b.url, id, 'x', alice)).status, 404, id);
    }
    const stolen = await echo(b.url, session, 'x', bob);
    assert.equal(stolen.status, 404, 'an id presented with another principal\'s key');
    assert.equal((await echo(a.url, session, 'x', bob)).status, 404, 'also on the replica that issued it');
  });

  it('an id ended with DELETE is never served again by the replica that ended it', async () => {
    const session = await open(a, alice);
    assert.match(JSON.stringify((await echo(a.url, session, 'before', alice)).json?.result), /before/);
    const res = await fetch(a.url, { method: 'DELETE', headers: headers(session, alice) });
    assert.equal(res.status, 204);
    assert.equal((await echo(a.url, session, 'after', alice)).status, 404);
  });

  it('a replica with a rotated key list opens ids sealed with the old key and seals with the new one', async () => {
    const session = await open(a, alice);
    const rotated = await startGateway(config([{ id: 'k2', secret: randomBytes(32).toString('base64') }, { id: 'k1', secret: key }]));
    try {
      assert.match(JSON.stringify((await echo(rotated.url, session, 'rotated', alice)).json?.result), /rotated/);
      assert.match(await open(rotated, alice), /^g1\.k2\./);
    } finally {
      await rotated.close();
    }
  });

  it('an expired id is refused', async () => {
    // Sealed with the replicas' key two days ago: past the default maxAge of 24 h.
    const aliceId = (await a.gateway.apiKeys!.list()).find((k) => k.owner === 'alice')!.id;
    const sealer = new SessionSealer([{ id: 'k1', secret: Buffer.from(key, 'base64') }], 3 * 86_400_000);
    const state = { principal: `key:${aliceId}`, virtualServer: '', revision: VERSION, clientInfo: { name: 't', version: '1' }, clientCapabilities: {} };
    const old = sealer.seal(state, Date.now() - 2 * 86_400_000);
    assert.equal((await echo(b.url, old, 'late', alice)).status, 404);
    const current = sealer.seal(state);
    assert.match(JSON.stringify((await echo(b.url, current, 'on time', alice)).json?.result), /on time/, 'the same state sealed now is served');
  });
});

describe('gatehouse start --session-key-file', () => {
  const procs: ChildProcess[] = [];
  after(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  const start = async (keyFile: string) => {
    const proc = spawn(nodeBinary(), [join(REPO_ROOT, 'src/cli/main.ts'), 'start', '--port', '0', '--session-key-file', keyFile, '--log-level', 'warn', '--upstream', `everything=${everythingStdio().command} ${everythingStdio().args.join(' ')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(proc);
    const [, url] = await waitForLine(proc.stdout!, /^gatehouse listening on (\S+)$/, 30_000);
    proc.stdout!.resume();
    return url;
  };

  it('two processes started with the same key file serve each other\'s sessions', async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-key-')), 'session.key');
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`);
    const [one, two] = await Promise.all([start(keyFile), start(keyFile)]);
    const init = await post(one, INIT(VERSION));
    const session = init.headers.get('mcp-session-id')!;
    await post(one, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers(session));
    const r = await echo(two, session, 'across processes');
    assert.match(JSON.stringify(r.json?.result), /across processes/, r.text);
  });
});
