import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from './errors.ts';
import { loadConfig, parseConfig } from './load.ts';

const env = { PORT: '9090', TOKEN: 'sk-secret', EMPTY: '' };
const parse = (text: string) => parseConfig(text, 'config.yaml', { env });

/** Parse `text`, expect a ConfigError, return it. */
function fails(text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

describe('parseConfig: a good config', () => {
  test('loads with every default filled in', () => {
    const { config, text, file } = parse(`
upstreams:
  everything:
    command: npx
    args: [-y, "@modelcontextprotocol/server-everything"]
    timeouts:
      request: 30s
  remote:
    url: https://example.com/mcp
`);
    assert.equal(file, 'config.yaml');
    assert.match(text, /everything/);
    assert.deepEqual(config.server, {
      host: '127.0.0.1', port: 8080, path: '/mcp', allowedOrigins: [], allowedHosts: [], pageSize: 0, callResponse: 'sse',
      maxBodyBytes: 4 * 1024 * 1024, sessionIdleTimeout: 1_800_000, resumeBuffer: 200, drainTimeout: 10_000, legacySse: true, metrics: true,
    });
    assert.deepEqual(config.namespacing, { mode: 'conditional', separator: '__' });
    assert.deepEqual(config.logging, { level: 'info' });
    const everything = config.upstreams.everything;
    assert.equal(everything.transport, 'stdio');
    assert.ok(everything.transport === 'stdio');
    assert.deepEqual(everything.args, ['-y', '@modelcontextprotocol/server-everything']);
    assert.deepEqual(everything.timeouts, { connect: 15_000, request: 30_000 });
    assert.equal(everything.sharing, 'shared');
    assert.equal(everything.pool.maxProcesses, 64);
    const remote = config.upstreams.remote;
    assert.ok(remote.transport === 'http');
    assert.equal(remote.url, 'https://example.com/mcp');
    assert.deepEqual(remote.headers, {});
    assert.deepEqual(config.virtualServers, {});
  });

  test('an empty file is the default config', () => {
    assert.deepEqual(parse('').config.upstreams, {});
    assert.deepEqual(parse('# nothing yet\n').config.server.port, 8080);
  });

  test('an empty section is the same as a missing one', () => {
    const { config } = parse('upstreams:\nvirtualServers:\nserver:\n');
    assert.deepEqual(config.upstreams, {});
    assert.equal(config.server.port, 8080);
  });

  test('JSON is YAML too', () => {
    const { config } = parseConfig('{"server": {"port": 1234}, "upstreams": {"a": {"command": "x"}}}', 'gatehouse.json');
    assert.equal(config.server.port, 1234);
    assert.equal(config.upstreams.a.transport, 'stdio');
  });

  test('x- keys hold anchors, merge keys share settings', () => {
    const { config } = parse(`
x-defaults: &defaults
  command: npx
  timeouts: { request: 5s }
upstreams:
  a:
    <<: *defaults
    args: [a]
  b:
    <<: *defaults
    args: [b]
`);
    assert.equal(config.upstreams.a.timeouts.request, 5000);
    assert.ok(config.upstreams.b.transport === 'stdio');
    assert.equal(config.upstreams.b.command, 'npx');
    assert.ok(!Object.keys(config).some((k) => k.startsWith('x-')), 'x- keys are dropped');
  });

  test('numbers and booleans from ${VAR} arrive as strings and are taken', () => {
    const { config } = parse(`
server:
  port: \${PORT}
  legacySse: \${LEGACY:-false}
upstreams:
  a:
    command: x
    args: [--port, "\${PORT}"]
    env: { PORT: 3000, DEBUG: true }
`);
    assert.equal(config.server.port, 9090);
    assert.equal(config.server.legacySse, false);
    const a = config.upstreams.a;
    assert.ok(a.transport === 'stdio');
    assert.deepEqual(a.args, ['--port', '9090']);
    assert.deepEqual(a.env, { PORT: '3000', DEBUG: 'true' });
  });
});

describe('parseConfig: errors name file, line, column and key', () => {
  test('a bad type', () => {
    const err = fails(`upstreams:
  everything:
    command: npx
    timeouts:
      request: fast
`);
    assert.equal(err.message, 'config.yaml:5:16: upstreams.everything.timeouts.request: expected a duration like 500ms, 30s, 5m or 1h, got "fast"');
    assert.equal(err.file, 'config.yaml');
    assert.equal(err.line, 5);
    assert.equal(err.column, 16);
    assert.equal(err.key, 'upstreams.everything.timeouts.request');
    assert.equal(err.expected, 'a duration like 500ms, 30s, 5m or 1h');
    assert.equal(err.code, 'GH_ERR_CONFIG_INVALID');
  });

  test('a number out of range and a wrong kind of value', () => {
    const err = fails('server:\n  port: 70000\n  allowedOrigins: yes\n');
    assert.equal(err.issues.length, 2);
    assert.equal(err.message, [
      'config.yaml:2:9: server.port: expected a number of at most 65535, got 70000',
      'config.yaml:3:19: server.allowedOrigins: expected a list, got "yes"',
    ].join('\n'));
  });

  test('an unknown key, with a suggestion', () => {
    const err = fails('server:\n  port: 80\n  hots: 0.0.0.0\n');
    assert.equal(err.message, 'config.yaml:3:3: server.hots: unknown key; did you mean "host"?');
    assert.equal(err.key, 'server.hots');
    assert.equal(err.line, 3);
    assert.match(err.expected!, /^one of host, port, path/);
  });

  test('an unknown key, far from every known one', () => {
    const err = fails('logging:\n  level: info\n  colour: never\n');
    assert.equal(err.message, 'config.yaml:3:3: logging.colour: unknown key; expected one of level');
  });

  test('an unknown top-level key written in another case style', () => {
    const err = fails('virtual_servers: {}\n');
    assert.equal(err.message, 'config.yaml:1:1: virtual_servers: unknown key; did you mean "virtualServers"?');
  });

  test('an unknown upstream key suggests from the kind of upstream written', () => {
    const err = fails('upstreams:\n  web:\n    url: https://x.example/mcp\n    header: {}\n');
    assert.equal(err.message, 'config.yaml:4:5: upstreams.web.header: unknown key; did you mean "headers"?');
    const stdio = fails('upstreams:\n  a:\n    comand: npx\n');
    assert.match(stdio.message, /upstreams\.a\.comand: unknown key; did you mean "command"\?/);
  });

  test('a missing required key points at the mapping that lacks it', () => {
    const err = fails('upstreams:\n  everything:\n    args: [x]\n');
    assert.equal(err.message, 'config.yaml:2:3: upstreams.everything.command: missing required key; expected a command to run (or a url for an HTTP upstream)');
    assert.equal(err.key, 'upstreams.everything.command');
    assert.equal(err.line, 2);
  });

  test('an upstream with both command and url', () => {
    const err = fails('upstreams:\n  a: { command: x, url: "http://h/mcp" }\n');
    assert.equal(err.message, 'config.yaml:2:6: upstreams.a: expected either a command (stdio) or a url (http, sse), not both');
  });

  test('an unknown transport lists the known ones', () => {
    const err = fails('upstreams:\n  a:\n    transport: websocket\n    url: ws://h\n');
    assert.equal(err.message, 'config.yaml:3:16: upstreams.a.transport: expected one of "stdio", "http", "sse", got "websocket"');
  });

  test('a bad name of an upstream points at the name', () => {
    const err = fails('upstreams:\n  "my server": { command: x }\n');
    assert.equal(err.line, 2);
    assert.equal(err.column, 3);
    assert.equal(err.key, 'upstreams["my server"]');
    assert.match(err.message, /invalid name; expected letters, digits/);
  });

  test('a virtual server selecting an upstream that does not exist', () => {
    const err = fails('upstreams:\n  github: { command: x }\nvirtualServers:\n  dev:\n    include:\n      - upstreams: [gihtub]\n');
    assert.equal(err.message, 'config.yaml:6:21: virtualServers.dev.include[0].upstreams[0]: expected the name of an upstream defined under upstreams, got "gihtub"; did you mean "github"?');
  });

  test('the hybrid tool ranker without an embedder, at the top level and in a virtual server', () => {
    const top = fails('toolSearch:\n  mode: search\n  ranker: hybrid\n');
    assert.equal(top.message, 'config.yaml:3:11: toolSearch.ranker: expected an embedder for ranker: hybrid (add embedder: { kind: local }), or ranker: bm25, got "hybrid"');
    const vs = fails('virtualServers:\n  dev:\n    toolSearch: { ranker: hybrid }\n');
    assert.match(vs.message, /^config\.yaml:3:\d+: virtualServers\.dev\.toolSearch\.ranker: expected an embedder for ranker: hybrid, here or under the top-level toolSearch/);
    const http = fails('toolSearch:\n  ranker: hybrid\n  embedder: { kind: http, url: nope, model: m }\n');
    assert.match(http.message, /toolSearch\.embedder\.url: .*a URL like/);
  });

  test('every issue is listed, sorted by position; the first one is on the error', () => {
    const err = fails(`upstreams:
  a:
    command: x
    sharing: sometimes
  b:
    url: nope
server:
  port: -1
`);
    assert.equal(err.issues.length, 3);
    const lines = err.message.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], 'config.yaml:4:14: upstreams.a.sharing: expected one of "shared", "per-session", "per-user", got "sometimes"');
    assert.equal(lines[1], 'config.yaml:6:10: upstreams.b.url: expected a URL like https://example.com/mcp, got "nope"');
    assert.equal(lines[2], 'config.yaml:8:9: server.port: expected a number of at least 0, got -1');
    assert.equal(err.key, 'upstreams.a.sharing');
    assert.equal(err.line, 4);
  });

  test('bad YAML syntax', () => {
    const err = fails('upstreams:\n  a:\n    command: x\n   args: [y\n');
    assert.equal(err.line, 4);
    assert.equal(err.key, '');
    assert.match(err.message, /^config\.yaml:4:\d+: invalid YAML: /);
    assert.equal(err.issues.length, 1);
  });

  test('a duplicate key is a YAML error', () => {
    const err = fails('server:\n  port: 1\n  port: 2\n');
    assert.equal(err.line, 3);
    assert.match(err.message, /invalid YAML: Map keys must be unique/);
  });

  test('an unquoted reference inside a flow mapping gets a hint', () => {
    const err = fails('server: { port: ${PORT} }\n');
    assert.match(err.message, /quote a value that uses \$\{…\}/);
  });

  test('a missing environment variable', () => {
    const err = fails('upstreams:\n  gh:\n    url: https://api.example.com/mcp\n    headers:\n      Authorization: Bearer ${GITHUB_TOKEN}\n');
    assert.equal(err.line, 5);
    assert.equal(err.column, 22);
    assert.equal(err.key, 'upstreams.gh.headers.Authorization');
    assert.match(err.message, /^config\.yaml:5:22: upstreams\.gh\.headers\.Authorization: environment variable GITHUB_TOKEN is not set/);
    assert.equal(err.expected, 'a value for ${GITHUB_TOKEN}');
  });

  test('an interpolated value is never echoed', () => {
    const err = fails('upstreams:\n  a:\n    url: "${TOKEN}"\n');
    assert.equal(err.message, 'config.yaml:3:10: upstreams.a.url: expected a URL like https://example.com/mcp, got a string from "${TOKEN}"');
    assert.doesNotMatch(err.message, /sk-secret/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-load-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads a file and names it in errors', async () => {
    const file = join(dir, 'gatehouse.yaml');
    await writeFile(file, 'server:\n  port: 1234\n');
    const loaded = await loadConfig(file);
    assert.equal(loaded.config.server.port, 1234);
    assert.equal(loaded.file, file);

    await writeFile(file, 'server:\n  port: many\n');
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(ConfigError.is(err));
      assert.ok(err.message.startsWith(`${file}:2:9: server.port: expected a number, got "many"`));
      return true;
    });
  });

  test('a missing file is a ConfigError without a line', async () => {
    const file = join(dir, 'nope.yaml');
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.line, undefined);
      assert.equal(err.message, `${file}: cannot read the config file (ENOENT)`);
      return true;
    });
  });
});
