// Reads what the benchmark needs about processes from Linux /proc: CPU ticks, resident memory, the process tree.
// Synchronous on purpose: it is called at the edges of a measured window, where an await would add its own delay.
import { readdirSync, readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says about one process; fields after the command name, which may hold spaces or ')'. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  /** Start time after boot in clock ticks: with the pid, it tells a process from a later one that reused its pid. */
  startTime: number;
  /** utime + stime of the process itself, in clock ticks (children not included). */
  cpuTicks: number;
}

/** The stat of `pid`, or `undefined` once it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Fields from field 3 (state) on; utime and stime are fields 14 and 15, starttime field 22 (proc(5)).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Resident set size of `pid` in bytes (VmRSS), 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `root` and all its live descendants, found by walking parent links; root first. */
export function processTree(root: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    if (pid === root) rootStat = stat;
    const siblings = byParent.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else byParent.set(stat.ppid, [stat]);
  }
  if (rootStat === undefined) return [];
  const tree = [rootStat];
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i].pid) ?? []));
  return tree.filter((s) => s.state !== 'Z' && s.state !== 'X');
}

/** CPU ticks (utime + stime) summed over `pids`; a pid that is gone counts 0. */
export function sumCpuTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.cpuTicks ?? 0;
  return sum;
}

/** Busy CPU ticks of the whole machine, all cores (user, nice, system, irq, softirq, steal), from /proc/stat. */
export function machineBusyTicks(): number {
  const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  // cpu user nice system idle iowait irq softirq steal ...: guest time is already counted in user.
  return fields[1] + fields[2] + fields[3] + fields[6] + fields[7] + fields[8];
}
