// Runs a worker script (load.ts, probe.ts) in a process of its own and waits for its one JSON line, bounded in time.
import type { ProcessKeeper } from './process-keeper.ts';

export async function runWorker<T>(keeper: ProcessKeeper, node: string, script: string, options: unknown, limitMs: number): Promise<T> {
  const worker = keeper.start(node, [script, JSON.stringify(options)], { stdout: 'pipe' });
  let output = '';
  worker.child.stdout?.setEncoding('utf8');
  worker.child.stdout?.on('data', (text: string) => (output += text));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
  const ended = await Promise.race([worker.exited, timedOut]);
  clearTimeout(timer);
  await keeper.stop(worker.pid, 1000);
  if (ended === 'timeout') throw new Error(`worker ${script} did not finish within ${limitMs / 1000} s`);
  const line = output.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`worker ${script} exited (${ended}) without a result: ${worker.stderrTail().slice(-600) || line}`);
  }
}
