/**
 * An upstream MCP server run as a child process in its own process group, speaking newline-delimited JSON-RPC
 * on stdin/stdout (MCP basic/transports, stdio). stdout lines that are not JSON are skipped and counted (servers
 * log there); stderr is drained into a small tail used in error messages. Closing ends the whole group.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { StdioUpstreamConfig } from '../config/schema.ts';
import { GatehouseError } from '../core/errors.ts';
import { BaseConnection } from './connection.ts';
import type { ConnectOptions } from './connection.ts';
import type { PendingRequest } from './pending.ts';
import type { UpstreamHandlers } from './types.ts';

/** Environment a child inherits from the gateway; everything else comes from the upstream's `env`. */
export const INHERITED_ENV: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TERM', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

/** A line longer than this (no newline in sight) is dropped rather than buffered without bound. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Requests queued for a child that does not read its stdin beyond this fail at once. */
const MAX_UNREAD_STDIN = 16 * 1024 * 1024;
const STDERR_TAIL_CHARS = 4096;
const STDERR_TAIL_LINES = 8;
/** After the leader exits, how long to wait for its stdout to end before finishing (a grandchild may hold it). */
const EXIT_SETTLE_MS = 50;
const GROUP_POLL_MS = 50;
const RESOLVED: Promise<void> = Promise.resolve();
const NEWLINE = 10;

/** Build a child's environment: the inherited minimum, then the upstream's own `env` over it. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    // Skip exported shell functions ("() { ... }"), a known injection vector.
    if (value !== undefined && !value.startsWith('()')) out[key] = value;
  }
  return Object.assign(out, env);
}

export class StdioConnection extends BaseConnection {
  /** Stdout lines that were not JSON (logging on stdout), skipped. */
  skippedLines = 0;
  private readonly config: StdioUpstreamConfig;
  private child: ChildProcess | undefined;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private discarding = false;
  private stderrTail = '';
  private finished = false;
  private exitTimer: NodeJS.Timeout | undefined;
  private terminating: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  private markExited: () => void = noop;

  constructor(name: string, config: StdioUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions) {
    super(name, handlers, options, config.timeouts.request);
    this.config = config;
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  /** The child's pid (also its process group id), once spawned. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last stderr lines, for error messages. */
  stderrLines(): string {
    const lines = this.stderrTail.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
    return lines.slice(-STDERR_TAIL_LINES).join('\n');
  }

  protected start(): Promise<void> {
    const { command, args, env, cwd } = this.config;
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(command, args, { cwd, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });
      } catch (err) {
        reject(new Error(`cannot run ${command}: ${(err as Error).message}`));
        this.finish(undefined);
        return;
      }
      this.child = child;
      child.once('spawn', () => {
        this.options.logger?.debug({ upstream: this.upstream, pid: child.pid }, 'upstream process started');
        resolve();
      });
      child.on('error', (err) => {
        // Spawn failure (ENOENT, EACCES) or a failed kill; only the first matters before the process exists.
        if (child.pid === undefined) {
          this.closeDetail = `cannot run ${command}: ${err.message}`;
          reject(new Error(this.closeDetail));
          this.finish(new Error(this.closeDetail));
        }
      });
      child.stdin!.on('error', noop); // EPIPE when the child dies; the exit handler reports it
      child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        const tail = this.stderrTail + text;
        this.stderrTail = tail.length > STDERR_TAIL_CHARS ? tail.slice(-STDERR_TAIL_CHARS) : tail;
      });
      child.once('exit', (code, signal) => {
        this.closeDetail = describeExit(code, signal);
        // Let the stdout that is still in the pipe be read first; 'close' comes when every stdio stream ended.
        if (!this.finished) this.exitTimer = setTimeout(() => this.finish(this.exitError()), EXIT_SETTLE_MS);
      });
      child.once('close', () => this.finish(this.exitError()));
    });
  }

  protected sendRequest(entry: PendingRequest, body: string): void {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable) {
      this.pending.fail(entry, this.closedError());
      return;
    }
    if (stdin.writableLength > MAX_UNREAD_STDIN) {
      // The server stopped reading its stdin: fail fast instead of buffering without bound.
      this.pending.fail(entry, new GatehouseError('GH_ERR_UPSTREAM_UNAVAILABLE', [this.upstream, `it is not reading its input (${stdin.writableLength} bytes waiting)`], { upstream: this.upstream }));
      return;
    }
    stdin.write(body + '\n');
  }

  protected send(body: string): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable) return Promise.reject(this.closedError());
    stdin.write(body + '\n');
    return RESOLVED;
  }

  protected shutdown(): Promise<void> {
    if (this.child === undefined || this.finished) return this.exited;
    return this.terminate().then(() => this.exited);
  }

  protected whenClosed(): Promise<void> {
    return this.exited;
  }

  protected override startFailureDetail(): string {
    const tail = this.stderrLines();
    return tail === '' ? '' : `stderr: ${tail}`;
  }

  /**
   * End the process group: close stdin (MCP: the polite signal), SIGTERM the group, and SIGKILL whatever is left
   * of it once `pool.killGrace` has passed. Resolves when the leader has exited; leftovers (a grandchild that
   * ignores SIGTERM) are still SIGKILLed at the end of the grace, in the background.
   */
  private terminate(): Promise<void> {
    if (this.terminating !== undefined) return this.terminating;
    const pid = this.child?.pid;
    if (pid === undefined) return (this.terminating = RESOLVED);
    this.child!.stdin?.end();
    signalGroup(pid, 'SIGTERM');
    const killAt = Date.now() + this.config.pool.killGrace;
    const check = (): void => {
      if (!groupAlive(pid)) return;
      if (Date.now() >= killAt) return signalGroup(pid, 'SIGKILL');
      setTimeout(check, GROUP_POLL_MS);
    };
    setTimeout(check, GROUP_POLL_MS);
    return (this.terminating = this.exited);
  }

  private exitError(): Error {
    const tail = this.stderrLines();
    return new Error(tail === '' ? `${this.closeDetail}` : `${this.closeDetail}: ${tail}`);
  }

  private finish(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.exitTimer);
    // The leader is gone; anything it left in its group goes too.
    const pid = this.child?.pid;
    if (pid !== undefined && groupAlive(pid)) void this.terminate();
    this.connectionLost(error);
    this.markExited();
  }

  private onStdout(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl === -1) {
      this.keep(chunk);
      return;
    }
    if (this.partialBytes > 0 || this.discarding) {
      if (this.discarding) {
        this.discarding = false;
      } else {
        this.partial.push(chunk.subarray(0, nl));
        const line = Buffer.concat(this.partial, this.partialBytes + nl);
        this.partial = [];
        this.partialBytes = 0;
        this.line(line, 0, line.length);
      }
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    while (nl !== -1) {
      this.line(chunk, start, nl);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.keep(start === 0 ? chunk : chunk.subarray(start));
  }

  private keep(rest: Buffer): void {
    if (this.discarding) return;
    if (this.partialBytes + rest.length > MAX_LINE_BYTES) {
      this.partial = [];
      this.partialBytes = 0;
      this.discarding = true;
      this.skippedLines++;
      return;
    }
    this.partial.push(rest);
    this.partialBytes += rest.length;
  }

  private line(buf: Buffer, start: number, end: number): void {
    while (start < end && (buf[start] === 32 || buf[start] === 9)) start++;
    while (end > start && (buf[end - 1] === 13 || buf[end - 1] === 32 || buf[end - 1] === 9)) end--;
    if (start === end) return;
    const first = buf[start];
    if (first !== 0x7b && first !== 0x5b) {
      this.skippedLines++;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      this.skippedLines++;
      return;
    }
    this.receive(value, undefined);
  }
}

/** Spawn the upstream, run the initialize handshake within `timeouts.connect`, and return the live connection. */
export async function connectStdio(name: string, config: StdioUpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<StdioConnection> {
  const conn = new StdioConnection(name, config, handlers, options);
  await conn.open(config.timeouts.connect);
  return conn;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exited with code ${code}` : `killed by ${signal ?? 'a signal'}`;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {}
}

/** Whether any process of the group still exists (zombies included, until their parent reaps them). */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function noop(): void {}
