/**
 * Authorization through a real gateway: for several principals x tools (and prompts, resources), an item is listed
 * if and only if it can be used, and a hidden one is refused exactly like an unknown one. Then seeded random
 * policies, applied live, never leave a hidden tool callable. Principals come from the gateway's identity hook.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../src/auth/principal.ts';
import { ANONYMOUS } from '../src/auth/principal.ts';
import { configSchema } from '../src/config/schema.ts';
import { INIT, post, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { generator } from './helpers/policy-gen.ts';

const SERVER = new URL('./fixtures/named-tools-server.ts', import.meta.url).pathname;
const upstream = (tools: string[], prompts: string[] = [], resources: string[] = []) => ({
  command: process.execPath,
  args: [SERVER, '--tools', tools.join(','), '--prompts', prompts.join(','), '--resources', resources.join(',')],
});

const UPSTREAMS = {
  fs: upstream(['read_file', 'write_file', 'delete_file', 'list_dir', 'search'], ['summarize'], ['file:///public/readme', 'file:///secret/key']),
  gh: upstream(['read_file', 'write_file', 'delete_file', 'list_dir', 'search'], ['triage']),
};

const who = (id: string, fields: Partial<Principal>): Principal => ({ ...ANONYMOUS, id, kind: 'oauth', subject: id, issuer: 'https://idp', ...fields });
const PRINCIPALS: Record<string, Principal> = {
  anonymous: ANONYMOUS,
  alice: who('alice', { groups: ['eng'], scopes: ['mcp:tools'] }),
  carl: who('carl', { groups: ['eng', 'contractors'], scopes: ['mcp:tools'] }),
  olga: who('olga', { groups: ['ops'], scopes: ['mcp:tools', 'mcp:admin'], claims: { org: 'acme' } }),
  ci: { ...ANONYMOUS, id: 'key:k1', kind: 'api-key', apiKey: { id: 'k1', owner: 'ci-bot' } },
};

const POLICY = {
  default: 'deny',
  rules: [
    { name: 'contractors-read-only', effect: 'deny', when: { groups: ['contractors'] }, on: { tools: ['*delete_*', '*write_*'] } },
    { name: 'eng-everything', effect: 'allow', when: { groups: ['eng'] } },
    { name: 'ops-gh', effect: 'allow', when: { groups: ['ops'], scopes: ['mcp:admin'] }, on: { upstreams: ['gh'] } },
    { name: 'acme-reads', effect: 'allow', when: { cel: 'principal.claims.org == "acme" && target.name.contains("read")' } },
    { name: 'ci-search', effect: 'allow', when: { apiKeyOwners: ['ci-bot'] }, on: { tools: ['*__search'] } },
    { name: 'no-secrets', effect: 'deny', on: { resources: ['file:///secret/*'] } },
    { name: 'everyone-public', effect: 'allow', on: { resources: ['file:///public/*'] } },
  ],
};

/** Which principal a request speaks for: the test's own header, read by the identity hook. */
const identity = { authenticate: async (req: IncomingMessage) => PRINCIPALS[req.headers['x-test-principal'] as string] ?? ANONYMOUS };

class Client {
  private id = 1;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private constructor(url: string, headers: Record<string, string>) {
    this.url = url;
    this.headers = headers;
  }
  static async open(url: string, principal: string): Promise<Client> {
    const headers = { 'x-test-principal': principal };
    const init = await post(url, INIT(), headers);
    assert.equal(init.status, 200, init.text);
    const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    return new Client(url, session);
  }
  async rpc(method: string, params: Record<string, unknown> = {}): Promise<{ result?: any; error?: any }> {
    const r = await post(this.url, { jsonrpc: '2.0', id: this.id++, method, params }, this.headers);
    assert.equal(r.status, 200, r.text);
    return r.json;
  }
  async names(method: string, key: string, field = 'name'): Promise<string[]> {
    const r = await this.rpc(method);
    return (r.result[key] as Record<string, string>[]).map((i) => i[field]);
  }
}

describe('policy through a real gateway', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ upstreams: UPSTREAMS, policy: POLICY, virtualServers: { ops: { include: [{ upstreams: ['gh'] }] } } });
    gw.gateway.identity = identity;
  });
  after(() => gw.close());

  const allTools = Object.keys(UPSTREAMS).flatMap((u) => ['read_file', 'write_file', 'delete_file', 'list_dir', 'search'].map((t) => `${u}__${t}`));

  it('lists exactly the tools, prompts and resources each principal may use, and those are callable', async () => {
    const expected: Record<string, string[]> = {
      anonymous: [],
      alice: allTools,
      carl: allTools.filter((t) => !/__(delete|write)_/.test(t)),
      olga: [...allTools.filter((t) => t.startsWith('gh__')), 'fs__read_file'],
      ci: ['fs__search', 'gh__search'],
    };
    for (const [name, tools] of Object.entries(expected)) {
      const c = await Client.open(gw.url, name);
      const listed = await c.names('tools/list', 'tools');
      assert.deepEqual(new Set(listed), new Set(tools), `${name} lists`);
      for (const tool of allTools) {
        const r = await c.rpc('tools/call', { name: tool, arguments: {} });
        if (listed.includes(tool)) {
          assert.equal(r.result?.content?.[0]?.text, `called ${tool.split('__')[1]}`, `${name} calls ${tool}`);
        } else {
          const unknown = await c.rpc('tools/call', { name: `${tool}_does_not_exist`, arguments: {} });
          assert.deepEqual(r.error, { ...unknown.error, message: `Unknown tool: ${tool}` }, `${name} is refused ${tool} as if it did not exist`);
          assert.equal(r.error.data.code, 'GH_ERR_TOOL_NOT_FOUND');
        }
      }
      const prompts = await c.names('prompts/list', 'prompts');
      for (const prompt of ['fs__summarize', 'gh__triage']) {
        const r = await c.rpc('prompts/get', { name: prompt });
        assert.equal(prompts.includes(prompt), r.result !== undefined, `${name}: prompt ${prompt} listed iff gettable`);
        if (!r.result) assert.equal(r.error.data.code, 'GH_ERR_PROMPT_NOT_FOUND');
      }
      const resources = await c.names('resources/list', 'resources', 'uri');
      for (const uri of ['file:///public/readme', 'file:///secret/key']) {
        const r = await c.rpc('resources/read', { uri });
        assert.equal(resources.includes(uri), r.result !== undefined, `${name}: resource ${uri} listed iff readable`);
        if (!r.result) assert.equal(r.error.data.code, 'GH_ERR_RESOURCE_NOT_FOUND');
      }
      assert.equal(resources.includes('file:///secret/key'), false);
      assert.equal(resources.includes('file:///public/readme'), true, 'everyone-public');
    }
  });

  // On `ops` only gh is selected, so its tools are listed without the `gh__` prefix: globs match listed names.
  it('applies the same rules on a virtual server', async () => {
    const c = await Client.open(`${gw.url}/ops`, 'olga');
    const listed = await c.names('tools/list', 'tools');
    assert.deepEqual(new Set(listed), new Set(['read_file', 'write_file', 'delete_file', 'list_dir', 'search']));
    const carl = await Client.open(`${gw.url}/ops`, 'carl');
    assert.deepEqual(new Set(await carl.names('tools/list', 'tools')), new Set(['read_file', 'list_dir', 'search']));
    assert.equal((await carl.rpc('tools/call', { name: 'delete_file' })).error.data.code, 'GH_ERR_TOOL_NOT_FOUND');
  });

  it('never leaves a hidden tool callable under seeded random policies applied live', async () => {
    const none = { upstreams: { added: [], removed: [], changed: [] } };
    for (let seed = 1001; seed <= 1060; seed++) {
      const g = generator(seed);
      const config = configSchema.parse({ upstreams: UPSTREAMS, policy: g.rules().config, server: gw.gateway.currentConfig.server });
      await gw.gateway.applyConfig(config, none);
      const p = g.principal();
      PRINCIPALS.random = p;
      const c = await Client.open(gw.url, 'random');
      const listed = new Set(await c.names('tools/list', 'tools'));
      for (const tool of allTools) {
        const r = await c.rpc('tools/call', { name: tool, arguments: {} });
        assert.equal(r.result !== undefined, listed.has(tool), `seed ${seed}: ${JSON.stringify({ principal: p, policy: config.policy, tool })}`);
        if (!listed.has(tool)) assert.equal(r.error.data.code, 'GH_ERR_TOOL_NOT_FOUND');
      }
    }
  });
});
