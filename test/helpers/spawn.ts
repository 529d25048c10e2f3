// Starting the example MCP servers from tests: the pinned Node binary, waiting for the `LISTENING`
// line instead of sleeping, and shutting children down so no process outlives its test.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/spawn.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type HttpExampleName = 'weather-http' | 'clock-sse' | 'catalog-http';
export type StdioExampleName = 'notes-stdio';

const STARTUP_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_KEPT_BYTES = 8_192;

/**
 * The Node binary that runs the examples: this process's own when it is Node >= 22 (type stripping
 * of `.ts` files), otherwise the pinned one in node_modules.
 */
export function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.execPath;
  const pinned = path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
  if (!existsSync(pinned)) throw new Error(`Node ${process.versions.node} is too old and ${pinned} is missing; run npm ci`);
  return pinned;
}

function exampleScript(name: HttpExampleName | StdioExampleName): string {
  return path.join(REPO_ROOT, 'examples', name, 'server.ts');
}

/** Command and arguments that start a stdio example, for a stdio transport or a gateway config. */
export function exampleStdioCommand(name: StdioExampleName): { command: string; args: string[] } {
  return { command: nodeBinary(), args: [exampleScript(name)] };
}

/**
 * Resolves with the first match of `regex` in `stream`, read line by line. Rejects after
 * `timeoutMs`, or when the stream ends first.
 */
export function waitForLine(stream: Readable, regex: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (error: Error | undefined, match?: RegExpMatchArray): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (error) reject(error);
      else resolve(match!);
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const match = line.match(regex);
        if (match) return finish(undefined, match);
      }
    };
    const onEnd = (): void => {
      const match = buffered.match(regex);
      if (match) finish(undefined, match);
      else finish(new Error(`stream ended before a line matched ${regex}`));
    };
    const onError = (error: Error): void => finish(error);
    const timer = setTimeout(() => finish(new Error(`no line matched ${regex} within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

export interface RunningExample {
  /** The MCP URL from the LISTENING line: `…/mcp` for weather-http, `…/sse` for clock-sse. */
  url: string;
  proc: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and resolves once it has exited. */
  close(): Promise<void>;
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Spawns an HTTP example on a free port and waits until it prints `LISTENING <url>`. */
export async function startExample(name: HttpExampleName, env: Record<string, string> = {}): Promise<RunningExample> {
  const proc = spawn(nodeBinary(), [exampleScript(name), '--port', '0'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT_BYTES);
  });
  const exited = new Promise<never>((_, reject) => {
    proc.once('exit', (code, signal) => reject(new Error(`exited early (code ${code}, signal ${signal})`)));
    proc.once('error', reject);
  });
  try {
    const match = await Promise.race([waitForLine(proc.stdout!, /^LISTENING (\S+)$/, STARTUP_TIMEOUT_MS), exited]);
    // Keep draining stdout so a chatty server never blocks on a full pipe.
    proc.stdout!.resume();
    exited.catch(() => {});
    return { url: match[1], proc, close: () => stop(proc) };
  } catch (error) {
    exited.catch(() => {});
    await stop(proc);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`example ${name} did not start: ${reason}\n--- stderr ---\n${stderr}`, { cause: error });
  }
}
