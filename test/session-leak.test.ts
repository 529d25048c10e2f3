/**
 * No leaks: hundreds of downstream sessions, each with its own upstream process (`sharing: per-session`), some
 * deleted and some abandoned to the idle timeout; afterwards only the catalog process is left, in the pool and in
 * the operating system's process table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { childrenOf, SED_SERVER, waitFor } from '../src/upstream/testing.ts';
import { openSession, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';

const SESSIONS = 240;

describe('session and process lifecycle', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({
      server: { sessionIdleTimeout: 60_000 },
      upstreams: { tiny: { ...SED_SERVER, sharing: 'per-session', pool: { maxProcesses: 400, idleTimeout: 60_000 } } },
    });
  });
  after(() => gw.close());

  it('returns to the process floor after hundreds of sessions are deleted or abandoned', async () => {
    const floor = childrenOf(process.pid).length;
    const ids: string[] = [];
    for (let i = 0; i < SESSIONS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const id = await openSession(gw.url);
          // Any routed request makes the pool start this session's own process.
          const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'tiny://x' } }, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
          assert.equal(r.status, 200, r.text);
          return id;
        }),
      );
      ids.push(...batch);
    }
    const stats = () => gw.gateway.stats().upstreams.tiny as { processes: number };
    assert.ok(stats().processes >= SESSIONS, `expected a process per session, got ${stats().processes}`);
    assert.ok(childrenOf(process.pid).length >= floor + SESSIONS);

    // Half are ended by the client, the rest are simply abandoned.
    await Promise.all(ids.slice(0, SESSIONS / 2).map((id) => fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': id } })));
    // The abandoned half expires through the registry's real idle sweep, run as if their idle time had passed.
    gw.gateway.sessions.sweep(Date.now() + 120_000);
    assert.equal(gw.gateway.sessions.size, 0);
    await waitFor(() => stats().processes === 1, 10_000, 'per-session processes to be reaped');
    await waitFor(() => childrenOf(process.pid).length === floor, 10_000, 'OS processes to exit');
  });
});
