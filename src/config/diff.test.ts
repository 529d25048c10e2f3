import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffConfig, isEmptyDiff } from './diff.ts';
import { parseConfig } from './load.ts';

const parse = (text: string) => parseConfig(text, 'config.yaml', { env: {} }).config;

const before = parse(`
server: { port: 8080 }
upstreams:
  keep: { command: a, args: [x], env: { A: "1" } }
  edit: { command: b, args: [x] }
  drop: { url: https://drop.example/mcp }
virtualServers:
  dev: { include: [ { upstreams: [keep] } ] }
  ops: { description: operators }
`);

describe('diffConfig', () => {
  test('two loads of the same text differ in nothing', () => {
    const again = parse(`
server: { port: 8080 }
upstreams:
  keep: { command: a, args: [x], env: { A: "1" } }
  edit: { command: b, args: [x] }
  drop: { url: https://drop.example/mcp }
virtualServers:
  dev: { include: [ { upstreams: [keep] } ] }
  ops: { description: operators }
`);
    const diff = diffConfig(before, again);
    assert.deepEqual(diff, {
      upstreams: { added: [], removed: [], changed: [] },
      virtualServers: { added: [], removed: [], changed: [] },
      serverChanged: false,
      namespacingChanged: false,
      loggingChanged: false,
    });
    assert.equal(isEmptyDiff(diff), true);
  });

  test('names what was added, removed and changed', () => {
    const after = parse(`
server: { port: 8080 }
upstreams:
  keep: { command: a, args: [x], env: { A: "1" } }
  edit: { command: b, args: [x, y] }
  fresh: { url: https://fresh.example/mcp }
virtualServers:
  dev: { include: [ { upstreams: [keep, fresh] } ] }
  web: {}
`);
    const diff = diffConfig(before, after);
    assert.deepEqual(diff.upstreams, { added: ['fresh'], removed: ['drop'], changed: ['edit'] });
    assert.deepEqual(diff.virtualServers, { added: ['web'], removed: ['ops'], changed: ['dev'] });
    assert.equal(diff.serverChanged, false);
    assert.equal(isEmptyDiff(diff), false);
  });

  test('a change deep inside an entry counts, a change of spelling that validates the same does not', () => {
    const after = parse(`
server: { port: "8080" }
upstreams:
  keep: { command: a, args: [x], env: { A: 1 } }
  edit: { command: b, args: [x], timeouts: { request: 60s } }
  drop: { url: https://drop.example/mcp, headers: { X-Key: k } }
virtualServers:
  dev: { include: [ { upstreams: [keep] } ] }
  ops: { description: operators }
`);
    const diff = diffConfig(before, after);
    assert.deepEqual(diff.upstreams, { added: [], removed: [], changed: ['drop'] });
    assert.equal(diff.serverChanged, false);
  });

  test('server, namespacing and logging sections', () => {
    const after = parse(`
server: { port: 9090 }
namespacing: { separator: "." }
logging: { level: debug }
upstreams:
  keep: { command: a, args: [x], env: { A: "1" } }
  edit: { command: b, args: [x] }
  drop: { url: https://drop.example/mcp }
virtualServers:
  dev: { include: [ { upstreams: [keep] } ] }
  ops: { description: operators }
`);
    const diff = diffConfig(before, after);
    assert.equal(diff.serverChanged, true);
    assert.equal(diff.namespacingChanged, true);
    assert.equal(diff.loggingChanged, true);
    assert.deepEqual(diff.upstreams, { added: [], removed: [], changed: [] });
  });
});
