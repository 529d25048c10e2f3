/**
 * `gatehouse keys` end to end: create, list and revoke through the real CLI in a temp dir, with the store file taken
 * from a config's store.path or --store; the printed key is checked with the real verifier against the same file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { createApiKeyVerifier } from '../src/auth/api-keys.ts';
import { openSqliteApiKeyStore } from '../src/store/sqlite/api-keys.ts';

const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;

function gatehouse(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function verify(file: string, token: string) {
  const store = openSqliteApiKeyStore(file);
  try {
    const principal = await createApiKeyVerifier(store).verify(token);
    await setImmediate(); // the verifier writes last-used after the call: let it land before closing
    return principal;
  } finally {
    await store.close();
  }
}

describe('gatehouse keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'gatehouse.yaml'), 'store:\n  path: state/keys.db\n');
  const file = join(dir, 'state', 'keys.db');

  it('creates a key, shown once, in the config\'s store file', async () => {
    const r = await gatehouse(dir, ['keys', 'create', '-c', 'gatehouse.yaml', '--owner', 'ci-bot', '--name', 'deploy', '--scope', 'mcp:tools', '--scope', 'mcp:read', '--group', 'devops', '--expires', '30d']);
    assert.equal(r.code, 0, r.stderr);
    const token = /^ {2}(gh_\S+)$/m.exec(r.stdout)![1];
    const id = /Created API key ([a-z2-7]{10}) for ci-bot, expires \d{4}-/.exec(r.stdout)![1];
    assert.ok(token.startsWith(`gh_${id}_`));
    assert.ok(existsSync(file), 'store file created with its directory');
    assert.ok(!readFileSync(file).includes(token.slice(14)), 'the secret is not in the file');

    const principal = await verify(file, token);
    assert.deepEqual(principal && { id: principal.id, subject: principal.subject, scopes: principal.scopes, groups: principal.groups, claims: principal.claims },
      { id: `key:${id}`, subject: 'ci-bot', scopes: ['mcp:tools', 'mcp:read'], groups: ['devops'], claims: { owner: 'ci-bot', name: 'deploy' } });

    const list = await gatehouse(dir, ['keys', 'list', '-c', 'gatehouse.yaml']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +OWNER +NAME +SCOPES +GROUPS +CREATED +EXPIRES +LAST USED +STATUS$/m);
    assert.match(list.stdout, new RegExp(`^${id} +ci-bot +deploy +mcp:tools,mcp:read +devops +\\S+ \\S+ +\\d{4}-\\d\\d-\\d\\d \\S+ +\\S+ \\S+ +active$`, 'm'), 'last used shows the verification');
    assert.ok(!list.stdout.includes(token.slice(14)), 'list never prints the secret');

    const revoked = await gatehouse(dir, ['keys', 'revoke', id, '-c', 'gatehouse.yaml']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`Revoked API key ${id} \\(ci-bot\\)\\. A running gateway refuses it within 5 s`));
    assert.equal(await verify(file, token), null);
    const again = await gatehouse(dir, ['keys', 'revoke', id, '-c', 'gatehouse.yaml']);
    assert.match(again.stdout, /already revoked/);

    const json = await gatehouse(dir, ['keys', 'list', '--json', '-c', 'gatehouse.yaml']);
    const keys = JSON.parse(json.stdout) as Record<string, unknown>[];
    assert.equal(keys.length, 1);
    assert.equal(keys[0].status, 'revoked');
    assert.deepEqual(Object.keys(keys[0]).sort(), ['createdAt', 'expiresAt', 'groups', 'id', 'lastUsedAt', 'name', 'owner', 'revokedAt', 'scopes', 'status']);
    assert.ok(!json.stdout.includes(token.slice(14)));
  });

  it('uses --store, and defaults to .gatehouse/gatehouse.db in the working directory', async () => {
    const created = await gatehouse(dir, ['keys', 'create', '--owner', 'svc', '--json', '--store', 'other.db']);
    assert.equal(created.code, 0, created.stderr);
    const { key, id, expiresAt } = JSON.parse(created.stdout) as { key: string; id: string; expiresAt: string | null };
    assert.equal(expiresAt, null);
    assert.equal((await verify(join(dir, 'other.db'), key))?.apiKey?.id, id);

    const fresh = mkdtempSync(join(dir, 'fresh-'));
    const empty = await gatehouse(fresh, ['keys', 'list']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /No API keys/);
    assert.ok(existsSync(join(fresh, '.gatehouse', 'gatehouse.db')));
  });

  it('explains what is wrong with a command', async () => {
    const cases: [string[], RegExp][] = [
      [['keys'], /keys needs a command/],
      [['keys', 'rotate'], /unknown keys command "rotate"/],
      [['keys', 'create'], /--owner NAME is required/],
      [['keys', 'create', '--owner', 'x', '--expires', 'soon'], /--expires: expected a duration like 30d/],
      [['keys', 'create', '--owner', 'x', '--expires', '2001-01-01'], /not in the future/],
      [['keys', 'revoke'], /usage: gatehouse keys revoke ID/],
      [['keys', 'revoke', 'aaaaaaaaaa', '--store', 'x.db'], /no API key with id "aaaaaaaaaa"/],
      [['keys', 'list', '-c', 'missing.yaml'], /missing\.yaml/],
    ];
    const results = await Promise.all(cases.map(([args]) => gatehouse(dir, args)));
    cases.forEach(([args, message], i) => {
      assert.equal(results[i].code, 1, args.join(' '));
      assert.match(results[i].stderr, message, args.join(' '));
    });
    const help = await gatehouse(dir, ['keys', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /gatehouse keys create --owner NAME/);
    assert.match((await gatehouse(dir, ['--help'])).stdout, /gatehouse keys create\|list\|revoke/);
  });
});
