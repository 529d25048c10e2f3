import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseVaultKey } from '../vault.ts';
import { openSqliteVaultStore } from './vault.ts';

const key = () => parseVaultKey(randomBytes(32).toString('base64'));

describe('sqlite vault', () => {
  it('round-trips a token set, lists rows without tokens, deletes', async () => {
    const v = openSqliteVaultStore(':memory:', key(), () => 42);
    assert.equal(await v.get('p', 'u'), null);
    await v.put('p', 'u', { access_token: 'a1', token_type: 'Bearer', refresh_token: 'r1', expires_at: 1000 });
    await v.put('p', 'u', { access_token: 'a2', token_type: 'Bearer' });
    await v.put('q', 'u', { access_token: 'b', token_type: 'Bearer' });
    assert.deepEqual(await v.get('p', 'u'), { access_token: 'a2', token_type: 'Bearer' });
    const rows = await v.list();
    assert.deepEqual(rows.map((r) => [r.principal, r.upstream, r.updatedAt]), [['p', 'u', 42], ['q', 'u', 42]]);
    assert.deepEqual((await v.list('q')).map((r) => r.principal), ['q']);
    assert.equal(await v.delete('p', 'u'), true);
    assert.equal(await v.delete('p', 'u'), false);
    assert.equal(await v.get('p', 'u'), null);
    await v.close();
  });

  it('nothing in clear on disk; a fresh IV per write; another key or another row does not open it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-vault-unit-'));
    try {
      const path = join(dir, 'g.db');
      const k = key();
      const v = openSqliteVaultStore(path, k);
      const secret = `access-${randomBytes(16).toString('hex')}`;
      await v.put('p', 'u', { access_token: secret, token_type: 'Bearer', refresh_token: 'refresh-secret-value' });
      await v.put('q', 'u', { access_token: secret, token_type: 'Bearer' });
      for (const f of readdirSync(dir)) {
        const content = readFileSync(join(dir, f)).toString('latin1');
        assert.ok(!content.includes(secret) && !content.includes('refresh-secret-value'), f);
      }
      const db = new DatabaseSync(path);
      const rows = db.prepare('SELECT principal, key_id, iv FROM vault_tokens ORDER BY principal').all() as { principal: string; key_id: string; iv: Uint8Array }[];
      assert.equal(rows.length, 2);
      assert.equal(rows[0].iv.length, 12);
      assert.notDeepEqual(rows[0].iv, rows[1].iv);
      assert.equal(rows[0].key_id, k.id);
      // A row moved onto another principal fails authentication (AAD binds it to its owner).
      db.exec("UPDATE vault_tokens SET principal = 'mallory' WHERE principal = 'q'");
      db.close();
      await assert.rejects(v.get('mallory', 'u'));
      await v.close();
      // Another key: the rows are unreadable, so as good as absent (the user authorizes again).
      const w = openSqliteVaultStore(path, key());
      assert.equal(await w.get('p', 'u'), null);
      await w.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseVaultKey wants 32 bytes', () => {
    assert.throws(() => parseVaultKey(randomBytes(16).toString('base64')), /32 bytes/);
    assert.equal(parseVaultKey(randomBytes(32).toString('base64')).key.length, 32);
  });
});
