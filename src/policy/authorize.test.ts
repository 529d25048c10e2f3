/**
 * The authorization decision: composition (deny wins, then allow, then the default), every `when` and `on` key,
 * CEL conditions (compiled at load, fail-closed at run time), shadow mode, and a seeded randomized comparison with a
 * naive reading of the documented semantics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../auth/principal.ts';
import { ANONYMOUS } from '../auth/principal.ts';
import { compilePolicy } from './authorize.ts';
import { policyConfigSchema } from './config.ts';
import type { PolicyTarget } from './rules.ts';
import { generator, oracle } from '../../test/helpers/policy-gen.ts';

function principal(fields: Partial<Principal> & { subject?: string }): Principal {
  const subject = fields.subject ?? null;
  return { ...ANONYMOUS, kind: subject ? 'oauth' : 'anonymous', id: subject ? `oauth:https://idp#${subject}` : 'anonymous', issuer: 'https://idp', ...fields, subject } as Principal;
}
const tool = (name: string, upstream: string | null = name.split('__')[0], virtualServer = ''): PolicyTarget => ({ virtualServer, upstream, kind: 'tool', name });
const policy = (p: unknown) => compilePolicy(policyConfigSchema.parse(p));

const alice = principal({ subject: 'alice', groups: ['eng'], scopes: ['mcp:tools', 'mcp:read'], claims: { org: 'acme', roles: ['admin', 'dev'], level: 3 } });
const carl = principal({ subject: 'carl', groups: ['eng', 'contractors'], scopes: ['mcp:tools'], claims: { org: 'globex' } });

describe('decide', () => {
  const p = policy({
    default: 'deny',
    rules: [
      { name: 'eng-everything', effect: 'allow', when: { groups: ['eng'] } },
      { name: 'contractors-read-only', effect: 'deny', when: { groups: ['contractors'] }, on: { tools: ['*__delete_*', '*__write_*'] } },
    ],
  });

  it('lets any applicable deny win over any allow, whatever the order', () => {
    assert.deepEqual(p.decide(carl, tool('fs__delete_file')), { allowed: false, rule: 'contractors-read-only' });
    assert.deepEqual(p.decide(carl, tool('fs__read_file')), { allowed: true, rule: 'eng-everything' });
    assert.deepEqual(p.decide(alice, tool('fs__delete_file')), { allowed: true, rule: 'eng-everything' });
  });

  it('falls back to the default when no rule applies', () => {
    assert.deepEqual(p.decide(ANONYMOUS, tool('fs__read_file')), { allowed: false, rule: null });
    assert.deepEqual(policy({ rules: [{ name: 'x', effect: 'deny', when: { groups: ['nobody'] } }] }).decide(ANONYMOUS, tool('a')), { allowed: true, rule: null });
  });

  it('never lets a narrower allow erase a broad deny', () => {
    const q = policy({ rules: [
      { name: 'no-gh', effect: 'deny', on: { upstreams: ['gh'] } },
      { name: 'alice-gh-search', effect: 'allow', when: { subjects: ['alice'] }, on: { tools: ['gh__search'] } },
    ] });
    assert.deepEqual(q.decide(alice, tool('gh__search')), { allowed: false, rule: 'no-gh' });
  });

  it('matches each `when` key', () => {
    const one = (when: unknown) => policy({ default: 'deny', rules: [{ name: 'r', effect: 'allow', when }] });
    assert.equal(one({ subjects: ['alice', 'zoe'] }).decide(alice, tool('t')).allowed, true);
    assert.equal(one({ subjects: ['zoe'] }).decide(alice, tool('t')).allowed, false);
    assert.equal(one({ subjects: ['zoe'] }).decide(ANONYMOUS, tool('t')).allowed, false);
    assert.equal(one({ scopes: ['mcp:tools', 'mcp:read'] }).decide(alice, tool('t')).allowed, true, 'all scopes held');
    assert.equal(one({ scopes: ['mcp:tools', 'mcp:read'] }).decide(carl, tool('t')).allowed, false, 'one scope missing');
    assert.equal(one({ claims: { org: 'acme' } }).decide(alice, tool('t')).allowed, true);
    assert.equal(one({ claims: { org: ['globex', 'initech'] } }).decide(carl, tool('t')).allowed, true);
    assert.equal(one({ claims: { org: 'acme', level: 3 } }).decide(alice, tool('t')).allowed, true);
    assert.equal(one({ claims: { org: 'acme', level: 4 } }).decide(alice, tool('t')).allowed, false, 'every claim must match');
    assert.equal(one({ claims: { roles: 'admin' } }).decide(alice, tool('t')).allowed, true, 'an array claim contains the value');
    assert.equal(one({ claims: { roles: 'admin' } }).decide(carl, tool('t')).allowed, false, 'an absent claim');
    const key = principal({ kind: 'api-key', id: 'key:k1', apiKey: { id: 'k1', owner: 'ci-bot' } });
    assert.equal(one({ apiKeyOwners: ['ci-bot'] }).decide(key, tool('t')).allowed, true);
    assert.equal(one({ apiKeyOwners: ['ci-bot'] }).decide(alice, tool('t')).allowed, false);
    assert.equal(one({ principalKinds: ['api-key'] }).decide(key, tool('t')).allowed, true);
    assert.equal(one({ principalKinds: ['oauth'] }).decide(ANONYMOUS, tool('t')).allowed, false);
    assert.equal(one({ groups: ['eng'], subjects: ['carl'] }).decide(alice, tool('t')).allowed, false, 'keys are and-ed');
  });

  it('matches each `on` key, and a kind key restricts the rule to that kind', () => {
    const deny = (on: unknown) => policy({ rules: [{ name: 'r', effect: 'deny', on }] });
    const prompt: PolicyTarget = { virtualServer: '', upstream: 'fs', kind: 'prompt', name: 'fs__delete_all' };
    const resource: PolicyTarget = { virtualServer: '', upstream: 'fs', kind: 'resource', name: 'file:///secret/key' };
    const template: PolicyTarget = { virtualServer: '', upstream: 'fs', kind: 'resourceTemplate', name: 'file:///secret/{name}' };
    assert.equal(deny({ tools: ['*__delete_*'] }).decide(alice, tool('fs__delete_x')).allowed, false);
    assert.equal(deny({ tools: ['*__delete_*'] }).decide(alice, prompt).allowed, true, 'a tools rule is not about prompts');
    assert.equal(deny({ prompts: ['fs__*'] }).decide(alice, prompt).allowed, false);
    assert.equal(deny({ resources: ['file:///secret/*'] }).decide(alice, resource).allowed, false);
    assert.equal(deny({ resources: ['file:///secret/*'] }).decide(alice, template).allowed, false);
    assert.equal(deny({ resources: ['file:///secret/*'] }).decide(alice, tool('fs__read')).allowed, true);
    assert.equal(deny({ upstreams: ['f?'] }).decide(alice, prompt).allowed, false, 'an upstream rule is about every kind');
    assert.equal(deny({ upstreams: ['fs'] }).decide(alice, tool('fs__x', null)).allowed, true, 'an unknown target has no upstream');
    assert.equal(deny({ virtualServers: ['ops'] }).decide(alice, tool('fs__x', 'fs', 'ops')).allowed, false);
    assert.equal(deny({ virtualServers: ['ops'] }).decide(alice, tool('fs__x')).allowed, true);
    assert.equal(deny({ virtualServers: [''] }).decide(alice, tool('fs__x')).allowed, false, '"" is the default endpoint');
    assert.equal(deny({ upstreams: ['fs'], tools: ['*__write'] }).decide(alice, tool('fs__read')).allowed, true, 'keys are and-ed');
  });

  it('evaluates CEL over principal and target', () => {
    const q = policy({ default: 'deny', rules: [
      { name: 'acme-fs', effect: 'allow', when: { cel: 'principal.claims.org == "acme" && target.upstream == "fs" && target.kind == "tool"' } },
      { name: 'high-level', effect: 'allow', when: { cel: 'principal.claims.level > 2' }, on: { upstreams: ['gh'] } },
      { name: 'no-deletes-below-3', effect: 'deny', when: { cel: 'principal.claims.level < 3' }, on: { tools: ['*__delete_*'] } },
    ] });
    assert.deepEqual(q.decide(alice, tool('fs__read')), { allowed: true, rule: 'acme-fs' });
    assert.deepEqual(q.decide(alice, tool('gh__read')), { allowed: true, rule: 'high-level' });
    assert.deepEqual(q.decide(carl, tool('fs__read')), { allowed: false, rule: null });
    // carl has no `level` claim: the allow fails closed (does not apply), the deny fails closed (applies).
    assert.deepEqual(q.decide(carl, tool('gh__read')), { allowed: false, rule: null });
    assert.deepEqual(q.decide(carl, tool('gh__delete_repo')), { allowed: false, rule: 'no-deletes-below-3' });
    const outcome = q.outcomes(carl, tool('gh__read')).find((o) => o.name === 'high-level')!;
    assert.match(String(outcome.cel), /level/);
    assert.equal(outcome.applies, false);
  });

  it('rejects a bad CEL expression at load, naming the rule', () => {
    const bad = (cel: string) => policyConfigSchema.safeParse({ rules: [{ name: 'broken-rule', effect: 'allow', when: { cel } }] });
    for (const cel of ['principal.groups.exists(g, g ==', '"a" + 1', '1 + 1']) {
      const r = bad(cel);
      assert.equal(r.success, false, cel);
      assert.match(r.error!.issues[0].message, /broken-rule/);
      assert.deepEqual(r.error!.issues[0].path, ['rules', 0, 'when', 'cel']);
    }
    assert.equal(bad('"eng" in principal.groups').success, true);
  });

  it('rejects duplicate rule names and empty lists', () => {
    assert.equal(policyConfigSchema.safeParse({ rules: [{ name: 'a', effect: 'allow' }, { name: 'a', effect: 'deny' }] }).success, false);
    assert.equal(policyConfigSchema.safeParse({ rules: [{ name: 'a', effect: 'allow', when: { groups: [] } }] }).success, false);
    assert.equal(policyConfigSchema.safeParse({ rules: [{ name: 'a', effect: 'allow', when: { team: ['x'] } }] }).success, false);
  });

  it('in shadow mode allows everything but marks what it would deny', () => {
    const q = policy({ default: 'deny', shadow: true, rules: [{ name: 'no-deletes', effect: 'deny', on: { tools: ['*delete*'] } }, { name: 'eng', effect: 'allow', when: { groups: ['eng'] } }] });
    assert.deepEqual(q.decide(alice, tool('fs__delete')), { allowed: true, rule: 'no-deletes', shadowed: true });
    assert.deepEqual(q.decide(alice, tool('fs__read')), { allowed: true, rule: 'eng' });
    assert.deepEqual(q.decide(ANONYMOUS, tool('fs__read')), { allowed: true, rule: null, shadowed: true });
  });

  it('permits all only with no rules and default allow', () => {
    assert.equal(policy({}).permitsAll, true);
    assert.equal(policy({ default: 'deny' }).permitsAll, false);
    assert.equal(policy({ rules: [{ name: 'a', effect: 'allow' }] }).permitsAll, false);
  });
});

// ---- randomized: the compiled policy agrees with a naive reading of the documented semantics ---------------------

describe('decide, randomized', () => {
  it('agrees with the documented semantics on 500 seeded policies', () => {
    let checked = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const g = generator(seed);
      const { config, cel } = g.rules();
      const authorizer = policy(config);
      for (let i = 0; i < 4; i++) {
        const p = g.principal();
        const vs = g.virtualServer();
        for (const name of g.tools) {
          const t = tool(name, name.split('__')[0], vs);
          const expected = oracle(config, cel, p, t);
          const got = authorizer.decide(p, t);
          assert.equal(got.allowed, expected, `seed ${seed}: ${JSON.stringify({ config, principal: p, target: t, got })}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 500 * 4 * 10);
  });
});
