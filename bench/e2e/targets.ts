// The targets of the e2e throughput benchmark, all fronting (or being) the same server-everything: how each one is
// started, where it serves MCP, and how we know it is ready. Every server is a node process spawned directly (no
// npx or sh wrapper), so the pid we watch is the proxy itself.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Kept, ProcessKeeper } from './process-keeper.ts';

/** Where things are on this machine. */
export interface BenchPaths {
  /** The repository root (the gateway's package). */
  root: string;
  bench: string;
  /** The node binary that runs everything: the pinned one that runs this script. */
  node: string;
  /** shared/peers/bind-localhost.mjs: keeps servers without a host option on 127.0.0.1. */
  loader: string;
  /** A temp dir of this run (session key file, configs), removed at the end. */
  tmp: string;
}

/** A started target: its processes (the ones whose CPU and memory are charged to it) and its MCP endpoints. */
export interface Started {
  kept: Kept[];
  urls: string[];
}

export interface Target {
  name: string;
  describe: string;
  /** Starts the target and resolves with its MCP endpoints once they answer; throws if it cannot. */
  start(keeper: ProcessKeeper, paths: BenchPaths): Promise<Started>;
}

const READY_TIMEOUT_MS = 30_000;

/** The JS file of a package's bin, so the process we spawn (and measure) is node itself, not a shim. */
export function binFile(packageDir: string, bin: string): string {
  const manifestPath = join(packageDir, 'package.json');
  if (!existsSync(manifestPath)) {
    throw new Error(`${packageDir} is not installed (run: npm --prefix bench ci)`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin?: string | Record<string, string> };
  const relative = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin];
  if (!relative) throw new Error(`${packageDir} has no bin ${bin}`);
  return join(packageDir, relative);
}

/** The upstream every target fronts: server-everything over stdio, as an argv. */
export function everythingStdio(paths: BenchPaths): string[] {
  const packageDir = join(paths.root, 'node_modules', '@modelcontextprotocol', 'server-everything');
  return [paths.node, binFile(packageDir, 'mcp-server-everything'), 'stdio'];
}

/** Quotes argv for a POSIX shell (supergateway runs `--stdio` through `sh -c`). */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before the target binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The telling line of a crash report (the first `...Error...` line), else its last line. */
function summarize(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  const telling = lines.find((line) => /Error\b/.test(line)) ?? lines.at(-1);
  return telling ? `: ${telling.slice(0, 300)}` : '';
}

export function exitError(kept: Kept, what: string): Promise<never> {
  return kept.exited.then((code) => {
    throw new Error(`${what} exited (${code}) before it was ready${summarize(kept.stderrTail())}`);
  });
}

function timeout(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not ready after ${ms / 1000} s`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Polls `url` until any HTTP answer comes back (a 400 or 405 to a bare GET means the server is up). */
export async function pollHttp(kept: Kept, url: string, what: string): Promise<string> {
  let exited = false;
  void kept.exited.then(() => (exited = true));
  const deadline = timeout(READY_TIMEOUT_MS, what);
  const poll = (async () => {
    while (!exited) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await response.body?.cancel();
        return url;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return url;
  })();
  try {
    return await Promise.race([poll, exitError(kept, what), deadline.promise]);
  } finally {
    deadline.cancel();
  }
}

/** Waits for a stdout line matching `pattern` and resolves with its first group; keeps draining stdout after. */
export async function waitForLine(kept: Kept, pattern: RegExp, what: string): Promise<string> {
  const stdout = kept.child.stdout;
  if (!stdout) throw new Error(`${what}: stdout is not piped`);
  const lines = createInterface({ input: stdout, crlfDelay: Infinity });
  const deadline = timeout(READY_TIMEOUT_MS, what);
  const found = new Promise<string>((resolve) => {
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match) resolve(match[1]);
    });
  });
  try {
    return await Promise.race([found, exitError(kept, what), deadline.promise]);
  } finally {
    deadline.cancel();
    // Stop scanning lines but keep draining, so a chatty stdout never fills the pipe and blocks the target.
    lines.close();
    stdout.resume();
  }
}

/**
 * The node arguments that run the gateway's CLI as the installed `gatehouse` command runs it: bin/gatehouse.mjs
 * (which runs the build in dist/ when there is one) with the Node flags of its `#!` line. `BENCH_NODE_FLAGS` replaces
 * those flags (`BENCH_NODE_FLAGS=` runs with Node's defaults), to measure what they cost or save.
 */
export function gatehouseCommand(paths: BenchPaths): string[] {
  const bin = join(paths.root, 'bin', 'gatehouse.mjs');
  const shebang = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const flags = process.env.BENCH_NODE_FLAGS ?? shebang.replace(/^#!\S*env -S node\s*/, '');
  return [...flags.split(/\s+/).filter((f) => f !== ''), bin];
}

/** `gatehouse start` on `port` with server-everything over stdio as its one upstream, plus `extra` arguments. */
async function startGatehouse(keeper: ProcessKeeper, paths: BenchPaths, port: number, extra: readonly string[], what: string) {
  const upstream = `everything=${shellJoin(everythingStdio(paths))}`;
  const args = [...gatehouseCommand(paths), 'start', '--host', '127.0.0.1', '--port', String(port), '--upstream', upstream, ...extra];
  const kept = keeper.start(paths.node, args, { cwd: paths.root, stdout: 'pipe' });
  const url = await waitForLine(kept, /gatehouse listening on (http:\/\/\S+)/, what);
  return { kept, url };
}

/** The file with the 32-byte session key both replicas are given (base64, as `openssl rand -base64 32` writes it). */
function sessionKeyFile(paths: BenchPaths): string {
  const file = join(paths.tmp, 'session.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  return file;
}

export const targets: readonly Target[] = [
  {
    name: 'direct',
    describe: 'server-everything streamableHttp, no proxy',
    async start(keeper, paths) {
      const port = await freePort();
      const packageDir = join(paths.root, 'node_modules', '@modelcontextprotocol', 'server-everything');
      const bin = binFile(packageDir, 'mcp-server-everything');
      // It logs every request to stdout: send that to /dev/null.
      const kept = keeper.start(paths.node, ['--import', paths.loader, bin, 'streamableHttp'], {
        env: { ...process.env, PORT: String(port) },
        stdout: 'ignore',
      });
      return { kept: [kept], urls: [await pollHttp(kept, `http://127.0.0.1:${port}/mcp`, 'server-everything')] };
    },
  },
  {
    name: 'gatehouse',
    describe: 'gatehouse -> server-everything stdio',
    async start(keeper, paths) {
      const one = await startGatehouse(keeper, paths, await freePort(), [], 'gatehouse');
      return { kept: [one.kept], urls: [one.url] };
    },
  },
  {
    name: 'gatehouse-2',
    describe: 'two gatehouse replicas, one session key, each with its own server-everything stdio; requests round robin',
    async start(keeper, paths) {
      const key = ['--session-key-file', sessionKeyFile(paths)];
      const ports = [await freePort(), await freePort()];
      const replicas = await Promise.all(ports.map((port, i) => startGatehouse(keeper, paths, port, key, `gatehouse replica ${i + 1}`)));
      return { kept: replicas.map((r) => r.kept), urls: replicas.map((r) => r.url) };
    },
  },
  {
    name: 'supergateway',
    describe: 'supergateway --stateful -> server-everything stdio (a child per session)',
    async start(keeper, paths) {
      const port = await freePort();
      const bin = binFile(join(paths.bench, 'node_modules', 'supergateway'), 'supergateway');
      const args = [
        '--import', paths.loader, bin,
        '--stdio', shellJoin(everythingStdio(paths)),
        '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none',
      ];
      const kept = keeper.start(paths.node, args, { stdout: 'ignore' });
      return { kept: [kept], urls: [await pollHttp(kept, `http://127.0.0.1:${port}/mcp`, 'supergateway')] };
    },
  },
  {
    name: 'mcp-proxy',
    describe: 'mcp-proxy --server stream -> server-everything stdio (one shared child)',
    async start(keeper, paths) {
      const port = await freePort();
      const bin = binFile(join(paths.bench, 'node_modules', 'mcp-proxy'), 'mcp-proxy');
      const args = [bin, '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--', ...everythingStdio(paths)];
      const kept = keeper.start(paths.node, args, { stdout: 'ignore' });
      return { kept: [kept], urls: [await pollHttp(kept, `http://127.0.0.1:${port}/mcp`, 'mcp-proxy')] };
    },
  },
];
