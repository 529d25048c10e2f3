/**
 * One suite for every ApiKeyStore implementation: memory and SQLite must behave the same. SQLite also gets its own
 * checks for what only a file can show (durability across reopen, the schema version row, WAL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { ApiKeyExistsError } from './api-keys.ts';
import type { ApiKeyStore, NewApiKey } from './api-keys.ts';
import { createMemoryApiKeyStore } from './memory/api-keys.ts';
import { openSqliteApiKeyStore } from './sqlite/api-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function key(id: string, overrides: Partial<NewApiKey> = {}): NewApiKey {
  return { id, owner: 'ci-bot', name: 'deploy', scopes: ['mcp:tools'], groups: ['devops'], secretHash: 'ab'.repeat(32), createdAt: 1_000, expiresAt: null, ...overrides };
}

const implementations: [string, () => ApiKeyStore][] = [
  ['memory', () => createMemoryApiKeyStore()],
  ['sqlite', () => openSqliteApiKeyStore(join(dir, `${Math.random().toString(36).slice(2)}`, 'nested', 'gatehouse.db'))],
];

for (const [label, open] of implementations) {
  describe(`ApiKeyStore (${label})`, () => {
    it('creates a key and reads it back by id', async () => {
      const store = open();
      const created = await store.create(key('aaaaaaaaaa', { expiresAt: 9_000 }));
      assert.deepEqual(created, { ...key('aaaaaaaaaa', { expiresAt: 9_000 }), revokedAt: null, lastUsedAt: null });
      assert.deepEqual(await store.get('aaaaaaaaaa'), created);
      assert.equal(await store.get('bbbbbbbbbb'), null);
      await store.close();
    });

    it('refuses a duplicate id', async () => {
      const store = open();
      await store.create(key('aaaaaaaaaa'));
      await assert.rejects(store.create(key('aaaaaaaaaa', { owner: 'other' })), ApiKeyExistsError);
      assert.equal((await store.get('aaaaaaaaaa'))!.owner, 'ci-bot');
      await store.close();
    });

    it('keeps a null name and empty scopes and groups', async () => {
      const store = open();
      await store.create(key('cccccccccc', { name: null, scopes: [], groups: [] }));
      const r = (await store.get('cccccccccc'))!;
      assert.equal(r.name, null);
      assert.deepEqual([r.scopes, r.groups], [[], []]);
      await store.close();
    });

    it('lists every key oldest first, revoked ones included', async () => {
      const store = open();
      await store.create(key('bbbbbbbbbb', { createdAt: 2_000 }));
      await store.create(key('aaaaaaaaaa', { createdAt: 1_000 }));
      await store.revoke('bbbbbbbbbb', 3_000);
      const list = await store.list();
      assert.deepEqual(list.map((r) => [r.id, r.revokedAt]), [['aaaaaaaaaa', null], ['bbbbbbbbbb', 3_000]]);
      await store.close();
    });

    it('revokes once, keeping the first revocation time; unknown ids give null', async () => {
      const store = open();
      await store.create(key('aaaaaaaaaa'));
      assert.equal((await store.revoke('aaaaaaaaaa', 5_000))!.revokedAt, 5_000);
      assert.equal((await store.revoke('aaaaaaaaaa', 6_000))!.revokedAt, 5_000);
      assert.equal((await store.get('aaaaaaaaaa'))!.revokedAt, 5_000);
      assert.equal(await store.revoke('zzzzzzzzzz', 5_000), null);
      await store.close();
    });

    it('touch records the latest use and ignores an older one', async () => {
      const store = open();
      await store.create(key('aaaaaaaaaa'));
      await store.touch('aaaaaaaaaa', 7_000);
      await store.touch('aaaaaaaaaa', 6_000);
      assert.equal((await store.get('aaaaaaaaaa'))!.lastUsedAt, 7_000);
      await store.touch('zzzzzzzzzz', 7_000);
      assert.equal(await store.get('zzzzzzzzzz'), null);
      await store.close();
    });

    it('hands out copies: changing a returned record does not change the store', async () => {
      const store = open();
      const created = await store.create(key('aaaaaaaaaa'));
      (created.scopes as string[]).push('admin');
      assert.deepEqual((await store.get('aaaaaaaaaa'))!.scopes, ['mcp:tools']);
      await store.close();
    });
  });
}

describe('ApiKeyStore (sqlite file)', () => {
  it('creates the file and its directory, keeps keys across reopen, and records the schema version', async () => {
    const file = join(dir, 'durable', 'deep', 'gatehouse.db');
    const first = openSqliteApiKeyStore(file);
    await first.create(key('aaaaaaaaaa'));
    await first.close();
    const second = openSqliteApiKeyStore(file);
    assert.equal((await second.get('aaaaaaaaaa'))!.owner, 'ci-bot');
    await second.close();

    const db = new DatabaseSync(file);
    assert.deepEqual({ ...db.prepare("SELECT version FROM schema_version WHERE component = 'api-keys'").get() }, { version: 1 });
    assert.deepEqual({ ...db.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
    db.close();
  });

  it('refuses a file whose schema is newer than this version knows', () => {
    const file = join(dir, 'future', 'gatehouse.db');
    openSqliteApiKeyStore(file).close();
    const db = new DatabaseSync(file);
    db.exec("UPDATE schema_version SET version = 99 WHERE component = 'api-keys'");
    db.close();
    assert.throws(() => openSqliteApiKeyStore(file), /schema version 99.*upgrade gatehouse/);
  });

  it('sees keys written by another connection (the CLI while a gateway runs)', async () => {
    const file = join(dir, 'shared', 'gatehouse.db');
    const gateway = openSqliteApiKeyStore(file);
    const cli = openSqliteApiKeyStore(file);
    await cli.create(key('aaaaaaaaaa'));
    assert.equal((await gateway.get('aaaaaaaaaa'))!.revokedAt, null);
    await cli.revoke('aaaaaaaaaa', 2_000);
    assert.equal((await gateway.get('aaaaaaaaaa'))!.revokedAt, 2_000);
    await Promise.all([gateway.close(), cli.close()]);
  });
});
