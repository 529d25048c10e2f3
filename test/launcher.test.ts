/**
 * The `gatehouse` command (bin/gatehouse.mjs): which module it runs (the build in dist/ when it is up to date, else
 * the sources) and the Node flags its `#!` line gives the gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { entryFor } from '../bin/entry.mjs';
import { exampleStdioCommand, nodeBinary, REPO_ROOT } from './helpers/spawn.ts';
import { freePort } from './helpers/wait.ts';

const roots: string[] = [];
after(() => { for (const root of roots) rmSync(root, { recursive: true, force: true }); });

/** A project directory holding `files`, each last modified that many seconds ago. */
function project(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-launcher-'));
  roots.push(root);
  for (const [file, secondsAgo] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), '');
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, file), when, when);
  }
  return root;
}

describe('the entry module', () => {
  it('is the sources when there is no build', () => {
    const root = project({ 'src/cli/main.ts': 10 });
    assert.equal(entryFor(root), join(root, 'src', 'cli', 'main.ts'));
  });

  it('is the build when it is newer than every source file', () => {
    const root = project({ 'src/cli/main.ts': 60, 'src/deep/er/module.ts': 30, 'dist/cli/main.js': 10, 'dist/.tsbuildinfo': 10 });
    assert.equal(entryFor(root), join(root, 'dist', 'cli', 'main.js'));
  });

  it('is the sources when any source file changed after the build, however deep', () => {
    const root = project({ 'src/cli/main.ts': 60, 'src/deep/er/module.ts': 5, 'dist/cli/main.js': 10, 'dist/.tsbuildinfo': 10 });
    assert.equal(entryFor(root), join(root, 'src', 'cli', 'main.ts'));
  });

  it('is the sources when the build was interrupted before it finished (no build info)', () => {
    const root = project({ 'src/cli/main.ts': 60, 'dist/cli/main.js': 10 });
    assert.equal(entryFor(root), join(root, 'src', 'cli', 'main.ts'));
  });

  it('is the build when there are no sources (the container image)', () => {
    const root = project({ 'dist/cli/main.js': 10 });
    assert.equal(entryFor(root), join(root, 'dist', 'cli', 'main.js'));
  });
});

describe('bin/gatehouse.mjs', () => {
  it('runs the gateway with V8\'s young generation capped at 4 MB per semi-space', async (t) => {
    const port = await freePort();
    const notes = exampleStdioCommand('notes-stdio');
    const bin = join(REPO_ROOT, 'bin', 'gatehouse.mjs');
    // Executed as a program, as a shell runs it: the kernel reads its #! line; `env` finds this Node on PATH.
    const child = spawn(bin, ['start', '--host', '127.0.0.1', '--port', String(port), '--upstream', `notes=${[notes.command, ...notes.args].join(' ')}`], {
      env: { ...process.env, PATH: `${dirname(nodeBinary())}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const listening = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => { if (line.includes('gatehouse listening on')) resolve(line); });
      child.once('exit', (code) => reject(new Error(`gatehouse exited (${code}) before listening: ${stderr}`)));
    });
    assert.match(listening, new RegExp(`127\\.0\\.0\\.1:${port}`));
    // `env -S` exec'd node in the same process, with the flags of the #! line.
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=4'), `node runs with the cap: ${argv.join(' ')}`);
    assert.equal(argv[argv.indexOf('--max-semi-space-size=4') + 1], bin);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const newSpace = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(metrics)?.[1]);
    // Two semi-spaces of at most 4 MB; without the cap, V8 has grown it to 32 MB by the time the gateway is up.
    assert.ok(newSpace > 0 && newSpace <= 8 * 1024 * 1024, `young generation ${newSpace} bytes`);
  });
});

describe('the build in dist/', () => {
  it('finds the modules it starts by URL: the embedding worker beside its compiled module', async (t) => {
    // npm test builds first; the URL of a worker is a string tsc does not rewrite, so it must name the right file.
    const built = pathToFileURL(join(REPO_ROOT, 'dist', 'optimizer', 'embedder-thread.js')).href;
    const { ThreadEmbedder } = (await import(built)) as typeof import('../src/optimizer/embedder-thread.ts');
    const embedder = new ThreadEmbedder();
    t.after(() => embedder.close());
    const [weather, stocks, forecast] = await embedder.embed(['weather forecast for a city', 'stock market prices', 'will it rain tomorrow']);
    const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i], 0);
    assert.ok(cosine(weather, forecast) > cosine(weather, stocks), 'the worker embeds: related texts are closer');
  });
});
