/**
 * `explain`: principals from token-claim JSON, the upstream inferred from a namespaced name, the decision and the
 * rule that made it, and why each other rule did or did not apply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../config/schema.ts';
import { explain, formatExplanation, principalFromJson } from './explain.ts';

const config = configSchema.parse({
  upstreams: { fs: { command: 'fs-server' }, gh: { url: 'http://127.0.0.1:1/mcp' } },
  virtualServers: { ops: {} },
  policy: {
    default: 'deny',
    rules: [
      { name: 'contractors-read-only', effect: 'deny', when: { groups: ['contractors'] }, on: { tools: ['*__delete_*'] } },
      { name: 'eng-everything', effect: 'allow', when: { groups: ['eng'] } },
      { name: 'acme', effect: 'allow', when: { cel: 'principal.claims.org == "acme"' }, on: { upstreams: ['gh'] } },
    ],
  },
});

describe('principalFromJson', () => {
  it('reads token claims', () => {
    const p = principalFromJson({ sub: 'alice', iss: 'https://idp', groups: ['eng'], scope: 'mcp:tools mcp:read', org: 'acme' });
    assert.deepEqual(p, {
      id: 'oauth:https://idp#alice', kind: 'oauth', subject: 'alice', issuer: 'https://idp', scopes: ['mcp:tools', 'mcp:read'], groups: ['eng'],
      claims: { sub: 'alice', iss: 'https://idp', groups: ['eng'], scope: 'mcp:tools mcp:read', org: 'acme' }, apiKey: null,
    });
  });

  it('reads API keys and anonymous principals, and refuses malformed ones', () => {
    assert.deepEqual(principalFromJson({ apiKey: { id: 'k1', owner: 'ci-bot' }, scopes: ['mcp:tools'] }).apiKey, { id: 'k1', owner: 'ci-bot' });
    assert.equal(principalFromJson({ apiKey: { owner: 'ci-bot' } }).kind, 'api-key');
    assert.equal(principalFromJson({}).id, 'anonymous');
    assert.throws(() => principalFromJson([]), /JSON object/);
    assert.throws(() => principalFromJson({ groups: [1] }), /principal.groups must be a list of strings/);
    assert.throws(() => principalFromJson({ kind: 'root' }), /kind/);
  });
});

describe('explain', () => {
  const carl = principalFromJson({ sub: 'carl', groups: ['eng', 'contractors'] });

  it('gives the decision and the rule that made it', () => {
    const e = explain(config, carl, { kind: 'tool', name: 'fs__delete_file' });
    assert.deepEqual(e.decision, { allowed: false, rule: 'contractors-read-only' });
    assert.deepEqual(e.target, { virtualServer: '', upstream: 'fs', kind: 'tool', name: 'fs__delete_file' });
    assert.equal(e.upstreamFrom, 'name');
    assert.deepEqual(e.rules.map((r) => [r.name, r.applies]), [['contractors-read-only', true], ['eng-everything', true], ['acme', false]]);
    const text = formatExplanation(e);
    assert.match(text, /^decision: deny\nrule: rule "contractors-read-only" \(deny\)\n/);
    assert.match(text, /upstream fs \(from the name\)/);
    assert.match(text, / {2}- acme \(allow\): target does not match "on"/);
  });

  it('names the default when no rule applies, and shows a failing CEL condition', () => {
    const e = explain(config, principalFromJson({ sub: 'bob' }), { kind: 'tool', name: 'gh__search', virtualServer: 'ops' });
    assert.deepEqual(e.decision, { allowed: false, rule: null });
    const text = formatExplanation(e);
    assert.match(text, /rule: the default \(policy\.default: deny\)/);
    assert.match(text, /acme \(allow\): cel failed, so this allow does not apply \(cel error: .*org/);
    assert.match(text, /virtual server "ops"/);
  });

  it('takes the upstream when given and refuses an unknown virtual server', () => {
    const e = explain(config, principalFromJson({ sub: 'a', org: 'acme' }), { kind: 'tool', name: 'search', upstream: 'gh' });
    assert.deepEqual([e.decision, e.upstreamFrom], [{ allowed: true, rule: 'acme' }, 'given']);
    assert.throws(() => explain(config, carl, { kind: 'tool', name: 'x', virtualServer: 'nope' }), /no virtual server "nope"/);
  });
});
