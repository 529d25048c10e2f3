import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from './errors.ts';
import { loadConfig, parseConfig } from './load.ts';
import { convertMcpServers, isMcpServersDocument } from './mcp-servers.ts';

const desktop = {
  globalShortcut: 'Ctrl+Space',
  mcpServers: {
    filesystem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'], env: { DEBUG: '1' } },
    remote: { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' } },
    legacy: { type: 'sse', url: 'https://old.example.com/sse' },
    streamable: { type: 'streamable-http', url: 'https://new.example.com/mcp' },
    local: { type: 'stdio', command: 'uvx', args: ['mcp-server-time'], disabled: true, autoApprove: ['get_time'] },
  },
};

function fails(text: string, file = 'claude_desktop_config.json'): ConfigError {
  try {
    parseConfig(text, file, { env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected the config to be rejected');
}

describe('mcpServers import', () => {
  test('detects the format by its top-level key', () => {
    assert.equal(isMcpServersDocument(desktop), true);
    assert.equal(isMcpServersDocument({ upstreams: {} }), false);
    assert.equal(isMcpServersDocument([]), false);
  });

  test('converts stdio, url, sse and streamable-http entries', () => {
    const { config } = parseConfig(JSON.stringify(desktop, null, 2), 'claude_desktop_config.json', { env: {} });
    const { filesystem, remote, legacy, streamable, local } = config.upstreams;
    assert.ok(filesystem.transport === 'stdio');
    assert.equal(filesystem.command, 'npx');
    assert.deepEqual(filesystem.args, ['-y', '@modelcontextprotocol/server-filesystem', '/tmp']);
    assert.deepEqual(filesystem.env, { DEBUG: '1' });
    assert.equal(filesystem.enabled, true);

    assert.ok(remote.transport === 'http');
    assert.equal(remote.url, 'https://mcp.example.com/mcp');
    assert.deepEqual(remote.headers, { Authorization: 'Bearer x' });

    assert.ok(legacy.transport === 'sse');
    assert.equal(legacy.url, 'https://old.example.com/sse');
    assert.equal(streamable.transport, 'http');

    assert.ok(local.transport === 'stdio');
    assert.equal(local.enabled, false);
    assert.equal('mcpServers' in config, false, 'the client format is converted, not kept');
  });

  test('YAML with mcpServers works too, next to our own sections, with interpolation', () => {
    const { config } = parseConfig('server:\n  port: 9000\nmcpServers:\n  time:\n    command: ${CMD}\n', 'gatehouse.yaml', { env: { CMD: 'uvx' } });
    assert.equal(config.server.port, 9000);
    assert.equal((config.upstreams.time as { command: string }).command, 'uvx');
  });

  test('errors point into mcpServers, under the names the file uses', () => {
    const text = `{
  "mcpServers": {
    "good": { "command": "x" },
    "bad": {
      "type": "websocket",
      "url": "wss://h"
    },
    "typo": { "comand": "x" },
    "off": { "command": "x", "disabled": "maybe" }
  }
}`;
    const err = fails(text);
    assert.deepEqual(err.message.split('\n'), [
      'claude_desktop_config.json:5:15: mcpServers.bad.type: expected one of "stdio", "http", "sse", got "websocket"',
      'claude_desktop_config.json:8:5: mcpServers.typo.command: missing required key; expected a command to run (or a url for an HTTP upstream)',
      'claude_desktop_config.json:8:15: mcpServers.typo.comand: unknown key; did you mean "command"?',
      'claude_desktop_config.json:9:42: mcpServers.off.disabled: expected true or false, got "maybe"',
    ]);
    assert.equal(err.key, 'mcpServers.bad.type');
  });

  test('a name in both mcpServers and upstreams is an error', () => {
    const err = fails('upstreams:\n  a: { command: x }\nmcpServers:\n  a: { command: y }\n', 'gatehouse.yaml');
    assert.equal(err.message, 'gatehouse.yaml:4:3: mcpServers.a: "a" is defined both here and under upstreams');
  });

  test('mcpServers that is not a mapping', () => {
    const err = fails('{"mcpServers": ["x"]}');
    assert.equal(err.message, 'claude_desktop_config.json:1:2: mcpServers: expected a mapping of server names to servers, got a list');
  });

  test('convertMcpServers maps paths back to the source', () => {
    const converted = convertMcpServers({ mcpServers: { a: { type: 'sse', url: 'u', disabled: false } } });
    assert.deepEqual(converted.config, { upstreams: { a: { transport: 'sse', url: 'u', enabled: true } } });
    assert.deepEqual(converted.sourcePath(['upstreams', 'a', 'transport']), ['mcpServers', 'a', 'type']);
    assert.deepEqual(converted.sourcePath(['upstreams', 'a', 'enabled']), ['mcpServers', 'a', 'disabled']);
    assert.deepEqual(converted.sourcePath(['upstreams', 'a', 'headers', 'X']), ['mcpServers', 'a', 'headers', 'X']);
    assert.deepEqual(converted.sourcePath(['server', 'port']), ['server', 'port']);
  });
});

describe('loadConfig with a desktop-client file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-mcpservers-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('loads a .json file in the mcpServers format', async () => {
    const file = join(dir, 'claude_desktop_config.json');
    // Tabs, as some clients write them.
    await writeFile(file, JSON.stringify(desktop, null, '\t'));
    const { config } = await loadConfig(file, { env: {} });
    assert.deepEqual(Object.keys(config.upstreams), ['filesystem', 'remote', 'legacy', 'streamable', 'local']);
  });
});
