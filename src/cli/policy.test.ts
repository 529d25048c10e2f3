/**
 * `gatehouse policy explain` as a user runs it: the decision and the rule for a principal and a tool, JSON output,
 * and the errors for a missing flag, bad principal JSON or an invalid config.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const CLI = new URL('./main.ts', import.meta.url).pathname;
const run = promisify(execFile);

function gatehouse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], { timeout: 30_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const CONFIG = `upstreams:
  fs: { command: fs-server }
  gh: { url: "http://127.0.0.1:1/mcp" }
policy:
  default: deny
  rules:
    - name: contractors-read-only
      effect: deny
      when: { groups: [contractors] }
      on:   { tools: ["*__delete_*", "*__write_*"] }
    - name: eng-everything
      effect: allow
      when: { groups: [eng] }
`;

describe('gatehouse policy explain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, CONFIG);

  it('prints the decision and the rule that made it', async () => {
    const alice = await gatehouse(['policy', 'explain', '-c', file, '--principal', '{"sub":"alice","groups":["eng"],"scopes":["mcp:tools"]}', '--tool', 'fs__delete_file']);
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(alice.stdout, /^decision: allow\nrule: rule "eng-everything" \(allow\)\n/);
    const carl = await gatehouse(['policy', 'explain', '-c', file, '--principal', '{"sub":"carl","groups":["eng","contractors"]}', '--tool', 'fs__delete_file']);
    assert.match(carl.stdout, /^decision: deny\nrule: rule "contractors-read-only" \(deny\)\n/);
    assert.match(carl.stdout, / {2}\* contractors-read-only \(deny\): applies\n {2}\* eng-everything \(allow\): applies\n/);
    const nobody = await gatehouse(['policy', 'explain', '-c', file, '--principal', '{}', '--tool', 'search', '--upstream', 'gh']);
    assert.match(nobody.stdout, /^decision: deny\nrule: the default \(policy.default: deny\)\n/);
  });

  it('prints JSON with --json', async () => {
    const r = await gatehouse(['policy', 'explain', '-c', file, '--principal', '{"sub":"carl","groups":["contractors"]}', '--tool', 'gh__write_file', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.deepEqual(e.decision, { allowed: false, rule: 'contractors-read-only' });
    assert.equal(e.target.upstream, 'gh');
  });

  it('says what is wrong with its arguments or the config', async () => {
    const missing = await gatehouse(['policy', 'explain', '-c', file, '--tool', 'x']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--principal JSON is required/);
    const bad = await gatehouse(['policy', 'explain', '-c', file, '--principal', '{sub', '--tool', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--principal: /);
    const sub = await gatehouse(['policy', 'show']);
    assert.equal(sub.code, 1);
    assert.match(sub.stderr, /expected the subcommand "explain"/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, `${CONFIG}    - name: bad-cel\n      effect: allow\n      when: { cel: 'principal.groups.exists(g, g ==' }\n`);
    const r = await gatehouse(['policy', 'explain', '-c', broken, '--principal', '{}', '--tool', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.yaml:16:\d+: policy\.rules\[2\]\.when\.cel: expected a valid CEL expression \(rule "bad-cel"/);
  });
});
