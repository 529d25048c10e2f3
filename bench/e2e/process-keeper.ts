// Starts the processes of a benchmark, each in a process group of its own, and makes sure every one of them dies: at
// the end of a round, on error, on Ctrl-C. supergateway starts each per-session child *detached* (a group of its own),
// so killing the group we made is not enough: stopping walks the process tree and signals every group found in it.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioNull, StdioPipe } from 'node:child_process';
import { processTree, readStat } from './proc.ts';
import type { ProcStat } from './proc.ts';

/** A process started by the keeper. */
export interface Kept {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** The last few kilobytes the process wrote to stderr, for error reports. */
  stderrTail(): string;
}

export interface KeepOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** `pipe` to read it (readiness line, worker result); `ignore` for chatty servers. */
  stdout: StdioPipe | StdioNull;
}

const TAIL_BYTES = 4096;

export class ProcessKeeper {
  readonly #kept = new Map<number, { kept: Kept; seen: Map<number, ProcStat> }>();
  readonly #ownGroup = readStat(process.pid)?.pgrp ?? process.pid;

  start(command: string, args: readonly string[], options: KeepOptions): Kept {
    // stdin stays an open pipe: supergateway shuts down when its stdin closes, which a /dev/null stdin would do at once.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['pipe', options.stdout, 'pipe'],
    });
    if (child.pid === undefined) {
      throw new Error(`could not start ${command}`);
    }
    const pid = child.pid;
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      tail = (tail + text).slice(-TAIL_BYTES);
    });
    child.stdin?.on('error', () => {});
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    const kept: Kept = { child, pid, exited, stderrTail: () => tail.trim() };
    this.#kept.set(pid, { kept, seen: new Map() });
    this.remember(pid);
    return kept;
  }

  /**
   * Notes the current descendants of a kept process, so they are still killed if their parent dies first and they
   * are re-parented away from it. Call it once the target is busy (all its children exist).
   */
  remember(pid: number): ProcStat[] {
    const entry = this.#kept.get(pid);
    const tree = processTree(pid);
    if (entry) for (const stat of tree) entry.seen.set(stat.pid, stat);
    return tree;
  }

  /** SIGTERM the whole tree of `pid`, wait up to `graceMs` for it to go, then SIGKILL what is left. */
  async stop(pid: number, graceMs = 3000): Promise<void> {
    const entry = this.#kept.get(pid);
    if (!entry) return;
    this.#signal(entry, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.#living(entry).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.#living(entry).length > 0) {
      this.#signal(entry, 'SIGKILL');
      const killDeadline = Date.now() + 2000;
      while (this.#living(entry).length > 0 && Date.now() < killDeadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    entry.kept.child.stdin?.destroy();
    this.#kept.delete(pid);
  }

  /** Stops every kept process, in parallel. */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.#kept.keys()].map((pid) => this.stop(pid, graceMs)));
  }

  /** SIGKILL everything at once, synchronously: for `process.on('exit')`, where nothing can be awaited. */
  killAllNow(): void {
    for (const entry of this.#kept.values()) this.#signal(entry, 'SIGKILL');
  }

  /** The processes of an entry still alive: its current tree plus the remembered ones that are still the same. */
  #living(entry: { kept: Kept; seen: Map<number, ProcStat> }): ProcStat[] {
    for (const stat of processTree(entry.kept.pid)) entry.seen.set(stat.pid, stat);
    const living: ProcStat[] = [];
    for (const seen of entry.seen.values()) {
      const now = readStat(seen.pid);
      if (now && now.startTime === seen.startTime && now.state !== 'Z' && now.state !== 'X') living.push(now);
    }
    return living;
  }

  #signal(entry: { kept: Kept; seen: Map<number, ProcStat> }, signal: NodeJS.Signals): void {
    const living = this.#living(entry);
    // The group we created (its id is the kept pid) and every other group found in the tree, never our own.
    const groups = new Set([entry.kept.pid, ...living.map((s) => s.pgrp)]);
    groups.delete(this.#ownGroup);
    for (const group of groups) if (group > 1) tryKill(-group, signal);
    for (const stat of living) tryKill(stat.pid, signal);
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}
