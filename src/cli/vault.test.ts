import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { openSqliteVaultStore } from '../store/sqlite/vault.ts';
import { parseVaultKey } from '../store/vault.ts';
import { runVault } from './vault.ts';

function capture(): { out: Writable; text: () => string } {
  let text = '';
  return { out: new Writable({ write(c: Buffer, _e, done) { text += c.toString(); done(); } }), text: () => text };
}

describe('gatehouse vault', () => {
  it('lists rows without tokens and revokes one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-vault-cli-'));
    try {
      const store = join(dir, 'g.db');
      const v = openSqliteVaultStore(store, parseVaultKey(randomBytes(32).toString('base64')));
      await v.put('oauth:idp#alice', 'github', { access_token: 'secret-a', token_type: 'Bearer' });
      await v.put('oauth:idp#bob', 'github', { access_token: 'secret-b', token_type: 'Bearer' });
      await v.close();
      const list = capture();
      assert.equal(await runVault(['list', '--store', store], list.out), 0);
      assert.match(list.text(), /oauth:idp#alice\tgithub/);
      assert.ok(!list.text().includes('secret'));
      const revoke = capture();
      assert.equal(await runVault(['revoke', '--store', store, '--principal', 'oauth:idp#alice', '--upstream', 'github'], revoke.out), 0);
      assert.equal(await runVault(['revoke', '--store', store, '--principal', 'oauth:idp#alice', '--upstream', 'github'], capture().out), 1);
      const json = capture();
      await runVault(['list', '--store', store, '--json'], json.out);
      assert.deepEqual((JSON.parse(json.text()) as { principal: string }[]).map((r) => r.principal), ['oauth:idp#bob']);
      await assert.rejects(runVault(['revoke', '--store', store, '--principal', 'x'], capture().out), /--upstream/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
