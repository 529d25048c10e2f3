import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, describeValue, editDistance, formatIssue, formatKey, suggest } from './errors.ts';

describe('ConfigError', () => {
  test('lists every issue, one per line, and copies the first onto itself', () => {
    const err = new ConfigError('config.yaml', [
      { line: 12, column: 5, key: 'upstreams.everything.timeouts.request', expected: 'a duration', detail: 'expected a duration, got "fast"' },
      { line: 14, column: 3, key: 'server.hots', detail: 'unknown key; did you mean "host"?' },
    ]);
    assert.equal(err.message, 'config.yaml:12:5: upstreams.everything.timeouts.request: expected a duration, got "fast"\nconfig.yaml:14:3: server.hots: unknown key; did you mean "host"?');
    assert.equal(err.file, 'config.yaml');
    assert.equal(err.line, 12);
    assert.equal(err.column, 5);
    assert.equal(err.key, 'upstreams.everything.timeouts.request');
    assert.equal(err.expected, 'a duration');
    assert.equal(err.name, 'ConfigError');
    assert.ok(err instanceof Error);
    assert.ok(ConfigError.is(err));
    assert.equal(ConfigError.is(new Error('x')), false);
  });

  test('an issue without a position or key', () => {
    assert.equal(formatIssue('c.yaml', { key: '', detail: 'cannot read the config file (ENOENT)' }), 'c.yaml: cannot read the config file (ENOENT)');
    assert.equal(formatIssue('c.yaml', { line: 1, column: 1, key: '', detail: 'expected a mapping, got a list' }), 'c.yaml:1:1: expected a mapping, got a list');
    assert.throws(() => new ConfigError('c.yaml', []), TypeError);
  });
});

describe('helpers', () => {
  test('formatKey', () => {
    assert.equal(formatKey(['upstreams', 'everything', 'command']), 'upstreams.everything.command');
    assert.equal(formatKey(['virtualServers', 'dev', 'derived', 0, 'name']), 'virtualServers.dev.derived[0].name');
    assert.equal(formatKey(['upstreams', 'my.server', 'env', 'A B']), 'upstreams["my.server"].env["A B"]');
    assert.equal(formatKey([]), '');
  });

  test('describeValue', () => {
    assert.equal(describeValue('fast'), '"fast"');
    assert.equal(describeValue('x'.repeat(50)), `"${'x'.repeat(40)}…"`);
    assert.equal(describeValue(3), '3');
    assert.equal(describeValue(false), 'false');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(undefined), 'nothing');
    assert.equal(describeValue([1]), 'a list');
    assert.equal(describeValue({ a: 1 }), 'a mapping');
  });

  test('editDistance counts an adjacent swap as one edit', () => {
    assert.equal(editDistance('hots', 'host'), 1);
    assert.equal(editDistance('comand', 'command'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  test('suggest only what is close enough', () => {
    const keys = ['host', 'port', 'path', 'allowedOrigins', 'maxBodyBytes'];
    assert.equal(suggest('hots', keys), 'host');
    assert.equal(suggest('allowed_origins', keys), 'allowedOrigins');
    assert.equal(suggest('maxbodybyte', keys), 'maxBodyBytes');
    assert.equal(suggest('colour', keys), undefined);
    assert.equal(suggest('x', keys), undefined);
  });
});
