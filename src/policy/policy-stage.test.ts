/**
 * The policy stage: list filtering and call enforcement run one predicate (checked on seeded random policies), a
 * denial reads exactly like an unknown target, completions of hidden prompts are refused, shadow mode counts and
 * logs without enforcing, and every denial is logged with its rule.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Principal } from '../auth/principal.ts';
import { ANONYMOUS } from '../auth/principal.ts';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { StageContext, Verdict } from '../core/stage.ts';
import { policyConfigSchema } from './config.ts';
import { createPolicyStage } from './policy-stage.ts';
import type { PolicyStage } from './policy-stage.ts';
import { generator } from '../../test/helpers/policy-gen.ts';

const upstreamOfName = (name: string) => (name.includes('__') ? name.split('__')[0] : null);

/** The context the router builds, for a view whose tools are `fs__*` and `gh__*` and prompts `fs__*`. */
function context(principal: Principal, method: string, target: string | null = null, virtualServer = ''): StageContext {
  const upstream = target === null ? null : target.startsWith('file://') ? 'fs' : upstreamOfName(target);
  return {
    method,
    sessionId: 's',
    principal,
    virtualServer,
    target,
    upstream,
    original: target,
    upstreamOf: (kind, item) => (kind === 'resources' ? 'fs' : kind === 'resourceTemplates' ? (item.uriTemplate === 'file:///{path}' ? 'fs' : null) : upstreamOfName(item.name as string)),
    listBefore: () => [],
    dispatch: async () => ({}),
    notify: () => {},
  };
}

const stage = (policy: unknown, virtualServer = '', logger?: pino.Logger) => createPolicyStage(policyConfigSchema.parse(policy), virtualServer, { logger });
const call = (s: PolicyStage, p: Principal, name: string, vs = '') => s.onRequest!(context(p, 'tools/call', name, vs), { name }) as Verdict<JsonObject | undefined>;

const eng: Principal = { ...ANONYMOUS, id: 'oauth:idp#alice', kind: 'oauth', subject: 'alice', groups: ['eng'] };

describe('policy stage', () => {
  it('is left out when it can deny nothing', () => {
    assert.equal(stage({}), null);
    assert.equal(stage({ shadow: true }), null);
    assert.ok(stage({ default: 'deny' }));
  });

  it('refuses a hidden tool, prompt and resource with the errors of an unknown one', () => {
    const s = stage({ default: 'deny', rules: [{ name: 'eng', effect: 'allow', when: { groups: ['eng'] } }] })!;
    const tool = call(s, ANONYMOUS, 'fs__read');
    assert.equal(tool.action, 'reject');
    const unknown = new GatehouseError('GH_ERR_TOOL_NOT_FOUND', ['fs__read']);
    const err = (tool as { error: GatehouseError }).error;
    assert.deepEqual([err.code, err.message, err.rpcCode, err.status, err.data], [unknown.code, unknown.message, unknown.rpcCode, unknown.status, unknown.data]);
    const prompt = s.onRequest!(context(ANONYMOUS, 'prompts/get', 'fs__summary'), { name: 'fs__summary' }) as { error: GatehouseError };
    assert.equal(prompt.error.code, 'GH_ERR_PROMPT_NOT_FOUND');
    for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
      const read = s.onRequest!(context(ANONYMOUS, method, 'file:///a'), { uri: 'file:///a' }) as { error: GatehouseError };
      assert.equal(read.error.code, 'GH_ERR_RESOURCE_NOT_FOUND', method);
    }
    assert.deepEqual(call(s, eng, 'fs__read'), { action: 'continue' });
    assert.deepEqual(s.onRequest!(context(ANONYMOUS, 'tools/list'), undefined), { action: 'continue' }, 'lists are filtered, not refused');
    assert.equal(s.counters.denied, 5);
  });

  it('refuses completions for a hidden prompt or resource template', () => {
    const s = stage({ rules: [{ name: 'no-fs-prompts', effect: 'deny', on: { prompts: ['fs__*'], resources: ['file:///*'] } }] })!;
    const complete = (ref: JsonObject) => s.onRequest!(context(eng, 'completion/complete'), { ref, argument: { name: 'a', value: '' } }) as Verdict<JsonObject | undefined>;
    assert.equal((complete({ type: 'ref/prompt', name: 'fs__summary' }) as { error: GatehouseError }).error.code, 'GH_ERR_PROMPT_NOT_FOUND');
    assert.equal((complete({ type: 'ref/resource', uri: 'file:///{path}' }) as { error: GatehouseError }).error.code, 'GH_ERR_RESOURCE_NOT_FOUND');
    assert.deepEqual(complete({ type: 'ref/prompt', name: 'gh__triage' }), { action: 'continue' });
  });

  it('filters every kind of list with the same rules', () => {
    const s = stage({ rules: [
      { name: 'no-deletes', effect: 'deny', on: { tools: ['*__delete_*'] } },
      { name: 'no-gh-prompts', effect: 'deny', on: { upstreams: ['gh'], prompts: ['*'] } },
      { name: 'no-secrets', effect: 'deny', on: { resources: ['file:///secret*'] } },
    ] })!;
    const ctx = context(eng, 'tools/list');
    const names = (kind: string, items: JsonObject[], key = 'name') => s.onList!(ctx, kind, items).map((i) => i[key]);
    assert.deepEqual(names('tools', [{ name: 'fs__read' }, { name: 'fs__delete_file' }, { name: 'gh__delete_repo' }]), ['fs__read']);
    assert.deepEqual(names('prompts', [{ name: 'fs__summary' }, { name: 'gh__triage' }]), ['fs__summary']);
    assert.deepEqual(names('resources', [{ uri: 'file:///public' }, { uri: 'file:///secret/key' }], 'uri'), ['file:///public']);
    assert.deepEqual(names('resourceTemplates', [{ uriTemplate: 'file:///{path}' }, { uriTemplate: 'file:///secret/{name}' }], 'uriTemplate'), ['file:///{path}']);
    const items = [{ name: 'fs__read' }];
    assert.equal(s.onList!(ctx, 'tools', items), items, 'nothing hidden: the same array, no copy');
  });

  it('in shadow mode lists and allows everything, counting and logging what it would deny', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const s = stage({ default: 'deny', shadow: true, rules: [{ name: 'eng', effect: 'allow', when: { groups: ['eng'] } }] }, '', logger)!;
    assert.equal(s.onList!(context(ANONYMOUS, 'tools/list'), 'tools', [{ name: 'fs__read' }]).length, 1);
    assert.deepEqual(call(s, ANONYMOUS, 'fs__read'), { action: 'continue' });
    assert.deepEqual(call(s, eng, 'fs__read'), { action: 'continue' });
    assert.deepEqual(s.counters, { denied: 0, shadowDenied: 1 });
    assert.equal(lines.length, 1);
    assert.deepEqual(pick(JSON.parse(lines[0])), { level: 40, msg: 'policy would deny (shadow mode)', rule: null, shadow: true, target: 'fs__read', principal: 'anonymous' });
  });

  it('logs every denial at warn with the rule that made it', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const s = stage({ default: 'deny', rules: [{ name: 'no-deletes', effect: 'deny', on: { tools: ['*delete*'] } }, { name: 'eng', effect: 'allow', when: { groups: ['eng'] } }] }, 'ops', logger)!;
    call(s, eng, 'fs__delete', 'ops');
    call(s, ANONYMOUS, 'fs__read', 'ops');
    call(s, eng, 'fs__read', 'ops');
    assert.deepEqual(lines.map((l) => pick(JSON.parse(l))), [
      { level: 40, msg: 'policy denied', rule: 'no-deletes', target: 'fs__delete', principal: 'oauth:idp#alice', virtualServer: 'ops' },
      { level: 40, msg: 'policy denied', rule: '(default)', target: 'fs__read', principal: 'anonymous', virtualServer: 'ops' },
    ]);
  });

  it('lists a tool if and only if it lets it be called, on 300 seeded random policies', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = generator(seed);
      const vs = g.virtualServer();
      const s = stage(g.rules().config, vs);
      const tools = [...g.tools, 'nowhere__tool'].map((name) => ({ name }));
      for (let i = 0; i < 3; i++) {
        const p = g.principal();
        const listed = new Set(s ? s.onList!(context(p, 'tools/list', null, vs), 'tools', tools).map((t) => t.name) : tools.map((t) => t.name));
        for (const { name } of tools) {
          const callable = s ? call(s, p, name, vs).action === 'continue' : true;
          assert.equal(callable, listed.has(name), `seed ${seed}, ${p.id}, ${name}`);
        }
      }
    }
  });
});

function pick(line: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['level', 'msg', 'rule', 'shadow', 'target', 'principal']) if (k in line) out[k] = line[k];
  if (line.virtualServer) out.virtualServer = line.virtualServer;
  return out;
}
