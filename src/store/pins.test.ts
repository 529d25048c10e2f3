import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryPinStore } from './memory/pins.ts';
import type { PinStore } from './pins.ts';
import { openSqlitePinStore } from './sqlite/pins.ts';
import { PostgresStore } from './postgres/database.ts';
import { createPostgresPinStore } from './postgres/pins.ts';

/** PostgreSQL (the machine's, a schema per store): its pool closes with the store. */
async function openPostgres(): Promise<PinStore> {
  const db = await PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: `gh_pins_${randomBytes(4).toString('hex')}`, connectTimeout: 5_000 });
  const store = createPostgresPinStore(db);
  return { ...store, close: async () => {
    await db.pool.query(`DROP SCHEMA ${db.schema} CASCADE`);
    await db.close();
  } };
}

const backends: Record<string, () => PinStore | Promise<PinStore>> = {
  memory: () => new MemoryPinStore(),
  sqlite: () => openSqlitePinStore(join(mkdtempSync(join(tmpdir(), 'gatehouse-pins-')), 'gatehouse.db')),
  postgres: openPostgres,
};

const ref = { upstream: 'notes', kind: 'tools' as const, key: 'add_note' };

for (const [name, open] of Object.entries(backends)) {
  describe(`pin store (${name})`, () => {
    it('pins per upstream and replaces a pin of the same definition', async () => {
      const store = await open();
      await store.pin({ ...ref, hash: 'h1', definition: { name: 'add_note' }, approvedAt: 1, approvedBy: 'tofu' });
      await store.pin({ ...ref, key: 'list_notes', hash: 'h2', definition: { name: 'list_notes' }, approvedAt: 1, approvedBy: 'tofu' });
      await store.pin({ ...ref, hash: 'h3', definition: { name: 'add_note', description: 'v2' }, approvedAt: 2, approvedBy: 'alice' });
      const pins = await store.pinsOf('notes');
      assert.deepEqual(pins.map((p) => [p.key, p.hash, p.approvedBy]), [['add_note', 'h3', 'alice'], ['list_notes', 'h2', 'tofu']]);
      assert.deepEqual(pins[0].definition, { name: 'add_note', description: 'v2' });
      assert.deepEqual(await store.pinsOf('other'), []);
      await store.pinAll([1, 2, 3].map((i) => ({ upstream: 'many', kind: 'tools' as const, key: `t${i}`, hash: `h${i}`, definition: {}, approvedAt: 1, approvedBy: 'tofu' })));
      assert.deepEqual((await store.pinsOf('many')).map((p) => p.key), ['t1', 't2', 't3']);
      await store.close();
    });

    it('keeps one pending row per version, approves it into the pin, and forgets the others', async () => {
      const store = await open();
      const base = { ...ref, definition: { name: 'add_note', description: 'evil' }, reason: 'changed' as const, previousHash: 'h1', firstSeen: 10, findings: [] };
      const a = await store.addPending({ ...base, hash: 'h2' });
      const again = await store.addPending({ ...base, hash: 'h2', firstSeen: 99 });
      assert.equal(again.id, a.id);
      assert.equal(again.firstSeen, 10, 'the first sighting stays');
      const b = await store.addPending({ ...base, hash: 'h3', firstSeen: 11 });
      assert.notEqual(a.id, b.id);
      assert.deepEqual((await store.pending()).map((p) => p.id), [a.id, b.id]);

      const pin = await store.approve(b.id, 'alice', 50);
      assert.equal(pin?.hash, 'h3');
      assert.equal(pin?.approvedBy, 'alice');
      assert.deepEqual(await store.pending(), [], 'every pending version of that definition is gone');
      assert.equal((await store.pinsOf('notes'))[0].hash, 'h3');
      assert.equal(await store.approve('nope', 'alice'), null);
      await store.close();
    });

    it('rejects once, and lists rejected rows only when asked', async () => {
      const store = await open();
      const p = await store.addPending({ ...ref, hash: 'h9', definition: {}, reason: 'flagged', previousHash: null, firstSeen: 1, findings: [{ rule: 'x' }] });
      assert.equal((await store.reject(p.id, 'bob', 5))?.rejectedBy, 'bob');
      assert.equal((await store.reject(p.id, 'carol', 6))?.rejectedBy, 'bob', 'the first decision stands');
      assert.deepEqual(await store.pending(), []);
      const all = await store.pending({ includeRejected: true });
      assert.equal(all.length, 1);
      assert.deepEqual(all[0].findings, [{ rule: 'x' }]);
      assert.equal((await store.addPending({ ...ref, hash: 'h9', definition: {}, reason: 'flagged', previousHash: null, firstSeen: 7, findings: [] })).rejectedAt, 5, 'seen again: still rejected');
      await store.clearPending(ref);
      assert.deepEqual(await store.pending({ includeRejected: true }), []);
      await store.close();
    });
  });
}

describe('pin store (sqlite, two processes)', () => {
  it('persists across reopen and moves its change stamp when another connection writes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-pins-')), 'gatehouse.db');
    const gateway = openSqlitePinStore(path);
    const cli = openSqlitePinStore(path);
    const p = await gateway.addPending({ ...ref, hash: 'h2', definition: { name: 'add_note' }, reason: 'new', previousHash: null, firstSeen: 1, findings: [] });
    const before = await gateway.changeStamp();
    assert.equal(await gateway.changeStamp(), before, 'no change, same stamp');
    await cli.approve(p.id, 'admin');
    assert.notEqual(await gateway.changeStamp(), before);
    await Promise.all([gateway.close(), cli.close()]);
    const reopened = openSqlitePinStore(path);
    assert.equal((await reopened.pinsOf('notes'))[0].approvedBy, 'admin');
    await reopened.close();
  });
});
