/**
 * The embedded default: with no config file and no --upstream, `gatehouse start` runs a demo made of the
 * example servers in examples/ (notes over stdio, weather over streamable HTTP, clock over legacy SSE) and
 * the official server-everything over stdio. The HTTP and SSE examples run as companion processes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Demo {
  upstreams: Record<string, unknown>;
  virtualServers: Record<string, unknown>;
  stop(): void;
}

export async function startDemo(): Promise<Demo> {
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  try {
    const [weather, clock] = await Promise.all([companion('weather-http', children), companion('clock-sse', children)]);
    const everything = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json');
    return {
      upstreams: {
        notes: { command: process.execPath, args: [join(root, 'examples/notes-stdio/server.ts')], title: 'Notes', tags: ['demo', 'productivity'] },
        weather: { url: weather, title: 'Weather', tags: ['demo', 'data'] },
        clock: { transport: 'sse', url: clock, title: 'Clock', tags: ['demo'] },
        everything: { command: process.execPath, args: [join(dirname(everything), 'dist/index.js'), 'stdio'], title: 'Everything (reference server)', tags: ['reference'] },
      },
      virtualServers: {
        demo: {
          title: 'Demo tools',
          description: 'A curated selection: notes and weather, with a derived tool.',
          include: [{ upstreams: ['notes', 'weather'] }],
          tools: { weather__get_forecast: { descriptionAppend: 'Served through Gatehouse.' } },
          derived: [{ name: 'paris_forecast', from: 'weather__get_forecast', description: 'Forecast for Paris.', fixed: { city: 'Paris' }, defaults: { days: 3 } }],
        },
      },
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}

function companion(name: string, children: ChildProcess[]): Promise<string> {
  const child = spawn(process.execPath, [join(root, 'examples', name, 'server.ts'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo server ${name} did not start within 15 s`)), 15_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^LISTENING (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo server ${name} exited with code ${code}`));
    });
  });
}
