import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from './errors.ts';
import { interpolate, InterpolationError, type InterpolateOptions } from './interpolate.ts';
import { parseConfig } from './load.ts';

const options: InterpolateOptions = {
  env: { HOST: 'db.internal', EMPTY: '', PORT: '5432' },
  baseDir: '/etc/gatehouse',
  readFile: (path) => {
    if (path === '/run/secrets/token') return '  s3cret\n';
    if (path === '/etc/gatehouse/secrets/relative') return 'rel\n';
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  },
};
const value = (text: string) => interpolate(text, options).value;

function rejects(text: string, pattern: RegExp): InterpolationError {
  try {
    value(text);
  } catch (err) {
    assert.ok(err instanceof InterpolationError);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected ${text} to be rejected`);
}

describe('interpolate', () => {
  test('substitutes variables anywhere in the string', () => {
    assert.equal(value('postgres://${HOST}:${PORT}/db'), 'postgres://db.internal:5432/db');
    assert.deepEqual(interpolate('${HOST}', options), { value: 'db.internal', resolved: true });
  });

  test('leaves text without references alone', () => {
    assert.deepEqual(interpolate('price: $5, $HOME, $$ and $', options), { value: 'price: $5, $HOME, $$ and $', resolved: false });
  });

  test('a set but empty variable is empty', () => {
    assert.equal(value('[${EMPTY}]'), '[]');
  });

  test(':- gives a default when unset or empty', () => {
    assert.equal(value('${MISSING:-fallback}'), 'fallback');
    assert.equal(value('${EMPTY:-fallback}'), 'fallback');
    assert.equal(value('${HOST:-fallback}'), 'db.internal');
    assert.equal(value('${MISSING:-}'), '');
    assert.equal(value('${MISSING:-a:b-c}'), 'a:b-c');
  });

  test('a default may hold references of its own', () => {
    assert.equal(value('${MISSING:-${HOST}:${PORT}}'), 'db.internal:5432');
    assert.equal(value('${MISSING:-${ALSO_MISSING:-deep}}'), 'deep');
  });

  test('$${ is a literal ${', () => {
    assert.deepEqual(interpolate('$${HOST}', options), { value: '${HOST}', resolved: false });
    assert.equal(value('a $${x} b ${PORT}'), 'a ${x} b 5432');
    assert.equal(value('${MISSING:-$${HOST}}'), '${HOST}');
  });

  test('${file:…} reads a secret, trimmed', () => {
    assert.equal(value('Bearer ${file:/run/secrets/token}'), 'Bearer s3cret');
    assert.equal(value('${file:secrets/relative}'), 'rel');
  });

  test('a missing variable names it and how to give a default', () => {
    const err = rejects('x ${NOPE} y', /^environment variable NOPE is not set \(write \$\{NOPE:-default\} to give a default\)$/);
    assert.equal(err.variable, 'NOPE');
  });

  test('an unreadable secret names the file', () => {
    const err = rejects('${file:/run/secrets/missing}', /cannot read secret file \/run\/secrets\/missing \(ENOENT\)/);
    assert.equal(err.variable, 'file:/run/secrets/missing');
    rejects('${file:}', /needs a path/);
  });

  test('malformed references', () => {
    rejects('${HOST', /unterminated/);
    rejects('${1BAD}', /not a valid reference/);
    rejects('${}', /not a valid reference/);
    rejects('${A B}', /not a valid reference/);
  });
});

describe('interpolation in a config file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-interp-'));
    await writeFile(join(dir, 'token'), 'tok-123\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('applies to string values in every quoting style, never to keys', () => {
    const text = `upstreams:
  a:
    command: \${CMD}
    args:
      - "--name=\${NAME:-anon}"
      - '\${NAME:-single}'
      - |
        line \${CMD}
    env:
      \${KEY}: "$\${LITERAL}"
`;
    const { config } = parseConfig(text, join(dir, 'config.yaml'), { env: { CMD: 'npx', KEY: 'k' } });
    const a = config.upstreams.a;
    assert.ok(a.transport === 'stdio');
    assert.equal(a.command, 'npx');
    assert.deepEqual(a.args, ['--name=anon', 'single', 'line npx\n']);
    assert.deepEqual(a.env, { '${KEY}': '${LITERAL}' });
  });

  test('reads a secret file relative to the config file', () => {
    const text = 'upstreams:\n  a:\n    url: https://h.example/mcp\n    headers: { Authorization: "Bearer ${file:token}" }\n';
    const { config } = parseConfig(text, join(dir, 'config.yaml'), { env: {} });
    const a = config.upstreams.a;
    assert.ok(a.transport === 'http');
    assert.equal(a.headers.Authorization, 'Bearer tok-123');
  });

  test('an anchored value is interpolated once and shared by its aliases', () => {
    const text = 'x-cmd: &cmd "${CMD}"\nupstreams:\n  a: { command: *cmd }\n  b: { command: *cmd }\n';
    const { config } = parseConfig(text, 'config.yaml', { env: { CMD: 'uvx' } });
    assert.equal((config.upstreams.a as { command: string }).command, 'uvx');
    assert.equal((config.upstreams.b as { command: string }).command, 'uvx');
  });

  test('every missing variable is reported with its line and key', () => {
    const text = 'upstreams:\n  a:\n    command: ${ONE}\n    cwd: ${TWO}\n';
    assert.throws(() => parseConfig(text, 'config.yaml', { env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 2);
      assert.deepEqual(err.issues.map((i) => [i.line, i.column, i.key]), [[3, 14], [4, 10]].map(([l, c], i) => [l, c, i === 0 ? 'upstreams.a.command' : 'upstreams.a.cwd']));
      assert.match(err.message, /config\.yaml:3:14: upstreams\.a\.command: environment variable ONE is not set/);
      assert.match(err.message, /config\.yaml:4:10: upstreams\.a\.cwd: environment variable TWO is not set/);
      return true;
    });
  });
});
