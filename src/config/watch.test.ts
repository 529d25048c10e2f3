import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConfigError } from './errors.ts';
import { loadConfig, type LoadedConfig } from './load.ts';
import { watchConfig, type ConfigWatcher } from './watch.ts';

type Event = { kind: 'change'; loaded: LoadedConfig } | { kind: 'error'; err: unknown };

/** Collects watcher callbacks; `next()` resolves with the next one, or rejects after a timeout. */
function recorder() {
  const buffered: Event[] = [];
  let waiting: ((event: Event) => void) | undefined;
  const push = (event: Event) => {
    if (waiting === undefined) buffered.push(event);
    else waiting(event);
  };
  return {
    onChange: (loaded: LoadedConfig) => push({ kind: 'change', loaded }),
    onError: (err: unknown) => push({ kind: 'error', err }),
    buffered,
    next(ms = 5000): Promise<Event> {
      const event = buffered.shift();
      if (event !== undefined) return Promise.resolve(event);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined;
          reject(new Error(`no watch event within ${ms} ms`));
        }, ms);
        waiting = (e) => {
          clearTimeout(timer);
          waiting = undefined;
          resolve(e);
        };
      });
    },
  };
}

async function nextChange(events: ReturnType<typeof recorder>): Promise<LoadedConfig> {
  const event = await events.next();
  if (event.kind === 'error') throw event.err;
  return event.loaded;
}

const config = (port: number) => `server:\n  port: ${port}\n`;

describe('watchConfig', () => {
  let dir: string;
  let file: string;
  let watcher: ConfigWatcher | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-watch-'));
    file = join(dir, 'gatehouse.yaml');
    await writeFile(file, config(1000));
  });
  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (events: ReturnType<typeof recorder>, extra: { env?: Record<string, string> } = {}) => {
    const initial = await loadConfig(file, extra);
    watcher = watchConfig(file, events.onChange, events.onError, { initial, debounceMs: 20, ...extra });
    return initial;
  };

  test('reloads when the file is written', async () => {
    const events = recorder();
    await start(events);
    await writeFile(file, config(1001));
    const loaded = await nextChange(events);
    assert.equal(loaded.config.server.port, 1001);
    assert.equal(loaded.file, file);
    assert.equal(loaded.text, config(1001));
  });

  test('reloads when an editor replaces the file by renaming over it, again and again', async () => {
    const events = recorder();
    await start(events);
    for (const port of [2001, 2002]) {
      const tmp = join(dir, `.gatehouse.yaml.${port}.swp`);
      await writeFile(tmp, config(port));
      await rename(tmp, file);
      assert.equal((await nextChange(events)).config.server.port, port);
    }
  });

  test('a write that leaves the text as it was does not fire', async () => {
    const events = recorder();
    await start(events);
    await writeFile(file, config(1000));
    await writeFile(file, config(3001));
    assert.equal((await nextChange(events)).config.server.port, 3001);
    assert.equal(events.buffered.length, 0);
  });

  test('an invalid edit reports the error and a fixed one reloads', async () => {
    const events = recorder();
    await start(events);
    await writeFile(file, 'server:\n  port: lots\n');
    const bad = await events.next();
    assert.equal(bad.kind, 'error');
    assert.ok(bad.kind === 'error' && bad.err instanceof ConfigError);
    assert.equal(bad.err.line, 2);
    assert.equal(bad.err.key, 'server.port');

    await writeFile(file, config(4001));
    assert.equal((await nextChange(events)).config.server.port, 4001);
  });

  test('SIGHUP reloads even when only a secret file changed', { skip: process.platform === 'win32' }, async () => {
    const secrets = join(dir, 'secrets');
    await mkdir(secrets);
    const token = join(secrets, 'token');
    await writeFile(token, 'one\n');
    await writeFile(file, `upstreams:\n  api:\n    url: https://api.example.com/mcp\n    headers:\n      Authorization: "Bearer \${file:${token}}"\n`);
    const events = recorder();
    const listeners = process.listenerCount('SIGHUP');
    const initial = await start(events);
    assert.equal((initial.config.upstreams.api as { headers: Record<string, string> }).headers.Authorization, 'Bearer one');
    assert.equal(process.listenerCount('SIGHUP'), listeners + 1);

    await writeFile(token, 'two\n');
    process.kill(process.pid, 'SIGHUP');
    const loaded = await nextChange(events);
    assert.equal((loaded.config.upstreams.api as { headers: Record<string, string> }).headers.Authorization, 'Bearer two');

    watcher!.close();
    assert.equal(process.listenerCount('SIGHUP'), listeners);
  });

  test('reload() reloads on demand and resolves after the callback', async () => {
    const events = recorder();
    await start(events);
    await watcher!.reload();
    assert.equal(events.buffered.length, 1);
    assert.equal((await nextChange(events)).config.server.port, 1000);
  });

  test('an emptied file is never applied; an explicit reload says so', async () => {
    const events = recorder();
    await start(events);
    await writeFile(file, '');
    await watcher!.reload();
    const event = await events.next();
    assert.ok(event.kind === 'error' && event.err instanceof ConfigError);
    assert.match(event.err.message, /the config file is empty; keeping the running config/);
  });

  test('a file that disappears is reported, and nothing runs after close', async () => {
    const events = recorder();
    await start(events);
    await rm(file);
    const gone = await events.next();
    assert.ok(gone.kind === 'error' && gone.err instanceof ConfigError);
    assert.match(gone.err.message, /cannot read the config file \(ENOENT\)/);

    watcher!.close();
    await watcher!.reload();
    assert.equal(events.buffered.length, 0);
  });
});
