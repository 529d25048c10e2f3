/**
 * PostgreSQL for durable records (store.postgres), on the machine's server: every replica's audit records in one
 * table, admin changes made on one replica applied by the others at their next start or reload, `gatehouse migrate`,
 * and a clear startup error for an unreachable database. Each run uses a schema of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { everythingStdio, INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { nodeBinary, REPO_ROOT } from './helpers/spawn.ts';

const PG = 'postgres://postgres@127.0.0.1:5432/test';
const VERSION = '2025-11-25';

/** Each run's tables live in a schema of its own, dropped at the end. */
async function dropSchema(schema: string): Promise<void> {
  const db = new pg.Pool({ connectionString: PG });
  try {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await db.end();
  }
}

describe('replicas sharing PostgreSQL', () => {
  const schema = `gh_test_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const config = {
    store: { path: join(dir, 'gatehouse.db'), postgres: { url: PG, schema } },
    audit: { store: 'postgres' },
    admin: { store: 'postgres' },
    auth: { enabled: true },
    upstreams: { everything: everythingStdio() },
  };
  let a: RunningGateway;
  let b: RunningGateway;
  let token = '';
  const db = new pg.Pool({ connectionString: PG });

  before(async () => {
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
    token = (await issueApiKey(a.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
  });

  it('migrated once although both replicas started together', async () => {
    const rows = (await db.query(`SELECT component, version FROM "${schema}".schema_version ORDER BY component`)).rows;
    assert.deepEqual(rows, [{ component: 'admin', version: 1 }, { component: 'audit', version: 1 }, { component: 'pins', version: 1 }]);
  });

  it('every acknowledged call on either replica is in the one audit table', async () => {
    const ids: string[] = [];
    for (const gw of [a, b, a, b]) {
      const init = await post(gw.url, INIT(VERSION), { authorization: `Bearer ${token}` });
      const session = init.headers.get('mcp-session-id')!;
      const message = `audited-${randomBytes(3).toString('hex')}`;
      const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message } } }, { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
      assert.ok(r.json.result, r.text);
      ids.push(message);
    }
    const rows = (await db.query(`SELECT record->>'argsPreview' AS args FROM "${schema}".audit_records WHERE target = 'echo'`)).rows as { args: string }[];
    for (const m of ids) assert.ok(rows.some((r) => r.args.includes(m)), `${m} recorded`);
    const viaApi = await fetch(`${b.base}/admin/audit?tool=echo&limit=100`, { headers: { authorization: `Bearer ${token}` } });
    const records = ((await viaApi.json()) as { records: { argsPreview: string }[] }).records;
    for (const m of ids) assert.ok(records.some((r) => r.argsPreview.includes(m)), `${m} queryable from the other replica`);
  });

  it('an admin change made on one replica is in the shared store, and applied by the other on reload', async () => {
    const put = await fetch(`${a.base}/admin/virtual-servers/team`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ include: [{ upstreams: ['everything'] }] }) });
    assert.equal(put.status, 201);
    assert.equal((await b.gateway.adminChanges.list()).some((c) => c.name === 'team'), true, 'the other replica reads the same changes');
    await b.gateway.reload(b.gateway.baseConfig);
    const init = await post(`${b.url}/team`, INIT(VERSION), { authorization: `Bearer ${token}` });
    assert.equal(init.status, 200, init.text);
  });

  it('gatehouse migrate reports the schema versions', () => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, `store:\n  path: ${join(dir, 'cli.db')}\n  postgres: { url: "${PG}", schema: ${schema} }\n`);
    const run = spawnSync(nodeBinary(), [join(REPO_ROOT, 'src/cli/main.ts'), 'migrate', '-c', file, '--json'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).versions, { audit: { from: 1, to: 1 }, pins: { from: 1, to: 1 }, admin: { from: 1, to: 1 } });
  });
});

describe('an unreachable PostgreSQL', () => {
  it('fails start with an error naming the URL, password masked', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(
      startGateway({ store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-pg-')), 'gatehouse.db'), postgres: { url: `postgres://gh:hunter2@127.0.0.1:${port}/x`, connectTimeout: '1s' } }, audit: { store: 'postgres' }, upstreams: {} }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`cannot reach PostgreSQL at postgres://gh:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x`));
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  it('a config asking for PostgreSQL records without store.postgres is refused naming the key', async () => {
    await assert.rejects(startGateway({ audit: { store: 'postgres' }, upstreams: {} }), /audit\.store postgres needs store\.postgres\.url/);
  });
});

describe('replicas sharing PostgreSQL and Redis', () => {
  const schema = `gh_test_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const config = {
    store: { path: join(dir, 'gatehouse.db'), postgres: { url: PG, schema }, redis: { url: 'redis://127.0.0.1:6379', keyPrefix: `${schema}:` } },
    admin: { store: 'postgres' },
    auth: { enabled: true },
    upstreams: { everything: everythingStdio() },
  };
  let a: RunningGateway;
  let b: RunningGateway;
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropSchema(schema);
  });

  it('an admin change on one replica is live on the other within a second', async () => {
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
    const token = (await issueApiKey(a.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    const put = await fetch(`${a.base}/admin/virtual-servers/ops`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ include: [{ upstreams: ['everything'] }] }) });
    assert.equal(put.status, 201);
    const end = Date.now() + 1_000;
    while (!b.gateway.hasVirtualServer('ops')) {
      assert.ok(Date.now() < end, 'the other replica applied it within a second');
      await new Promise((r) => setTimeout(r, 10));
    }
    const init = await post(`${b.url}/ops`, INIT(VERSION), { authorization: `Bearer ${token}` });
    assert.equal(init.status, 200, init.text);
  });
});

describe('an approval on one replica', () => {
  const schema = `gh_test_${randomBytes(4).toString('hex')}`;
  const MUTABLE = new URL('./fixtures/mutable-server.ts', import.meta.url).pathname;
  const config = {
    store: { path: join(mkdtempSync(join(tmpdir(), 'gatehouse-pg-')), 'gatehouse.db'), postgres: { url: PG, schema }, redis: { url: 'redis://127.0.0.1:6379', keyPrefix: `${schema}:` } },
    pinning: { store: 'postgres' },
    auth: { enabled: true },
    upstreams: { mutable: { command: nodeBinary(), args: [MUTABLE] } },
  };
  let a: RunningGateway;
  let b: RunningGateway;
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropSchema(schema);
  });

  it('takes effect on every replica: the quarantined tool comes back on the other one too', async () => {
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
    const token = (await issueApiKey(a.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    const sessionOn = async (gw: RunningGateway) => (await post(gw.url, INIT(VERSION), { authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
    const call = (gw: RunningGateway, session: string, method: string, params?: object) => post(gw.url, { jsonrpc: '2.0', id: 1, method, ...(params && { params }) }, { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    const listed = async (gw: RunningGateway) => ((await call(gw, await sessionOn(gw), 'tools/list')).json.result.tools as { name: string }[]).map((t) => t.name);
    // Each replica runs its own copy of the server: change the definition on both.
    for (const gw of [a, b]) await call(gw, await sessionOn(gw), 'tools/call', { name: 'rug_pull', arguments: { description: 'Looks up a word, now in two languages.' } });
    const until = async (check: () => Promise<boolean>, what: string) => {
      const end = Date.now() + 5_000;
      while (!(await check())) {
        assert.ok(Date.now() < end, what);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(async () => !(await listed(a)).includes('lookup') && !(await listed(b)).includes('lookup'), 'lookup quarantined on both');
    const pending = (await (await fetch(`${a.base}/admin/approvals`, { headers: { authorization: `Bearer ${token}` } })).json()) as { approvals: { id: string }[] };
    assert.equal(pending.approvals.length, 1, 'one pending change, shared');
    const approved = await fetch(`${a.base}/admin/approvals/${pending.approvals[0].id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(approved.status, 200);
    assert.ok((await listed(a)).includes('lookup'));
    await until(async () => (await listed(b)).includes('lookup'), 'lookup back on the other replica within 5 s');
  });
});
