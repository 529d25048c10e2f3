import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientConfigs, KEY_PLACEHOLDER } from './client-config.ts';

const byId = (list: ReturnType<typeof clientConfigs>) => Object.fromEntries(list.map((c) => [c.id, c.text]));

describe('client configs', () => {
  it('fills in the URL and the key for every client', () => {
    const url = 'https://mcp.example.com/mcp/team';
    const c = byId(clientConfigs('team', url, { kind: 'key', key: 'gh_abc' }));
    assert.deepEqual(JSON.parse(c['claude-desktop']), { mcpServers: { 'gatehouse-team': { command: 'npx', args: ['-y', 'mcp-remote', url, '--header', 'Authorization:${AUTH_HEADER}'], env: { AUTH_HEADER: 'Bearer gh_abc' } } } });
    assert.equal(c['claude-code'], `claude mcp add --transport http gatehouse-team ${url} --header 'Authorization: Bearer gh_abc'\n`);
    assert.deepEqual(JSON.parse(c.cursor), { mcpServers: { 'gatehouse-team': { url, headers: { Authorization: 'Bearer gh_abc' } } } });
    assert.deepEqual(JSON.parse(c.vscode), { servers: { 'gatehouse-team': { type: 'http', url, headers: { Authorization: 'Bearer gh_abc' } } } });
    assert.equal(c['mcp-remote'], `npx mcp-remote ${url} --header 'Authorization: Bearer gh_abc'\n`);
  });

  it('sends no header with auth off or OAuth, and a placeholder without a key', () => {
    const url = 'http://127.0.0.1:8080/mcp';
    for (const auth of [{ kind: 'none' as const }, { kind: 'oauth' as const }]) {
      const c = byId(clientConfigs('', url, auth));
      assert.deepEqual(JSON.parse(c.cursor), { mcpServers: { gatehouse: { url } } });
      assert.equal(c['claude-code'], `claude mcp add --transport http gatehouse ${url}\n`);
    }
    assert.match(byId(clientConfigs('', url, { kind: 'key', key: '' })).cursor, new RegExp(KEY_PLACEHOLDER));
  });

  it('allows plain http to a non-local host in mcp-remote explicitly', () => {
    const c = byId(clientConfigs('', 'http://gateway.lan:8080/mcp', { kind: 'none' }));
    assert.equal(c['mcp-remote'], 'npx mcp-remote http://gateway.lan:8080/mcp --allow-http\n');
  });
});
