// Draws the tools/call throughput of a `npm run bench` run as an SVG bar chart (hand-written SVG, no dependency):
// one bar per target (direct, 1 replica, 2 replicas, supergateway, mcp-proxy) with its req/s, its ratio to direct
// and its p50/p99 latency.
//   node bench/chart.ts [FILE] [--out docs/bench-throughput.svg]
// FILE is the run's output (or just its JSON line, e.g. from BENCH_JSON_OUT); without it, stdin. The last line that
// is a JSON object with `targets` is used.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface TargetFigures {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  vs_direct: number | null;
}

interface Run {
  rounds?: number;
  seconds?: number;
  sessions?: number;
  cores?: number;
  targets: Record<string, TargetFigures | null>;
}

const BARS: readonly { key: string; label: string; color: string }[] = [
  { key: 'direct', label: 'direct (no proxy)', color: '#718096' },
  { key: 'gatehouse', label: 'Gatehouse, 1 replica', color: '#2b6cb0' },
  { key: 'gatehouse-2', label: 'Gatehouse, 2 replicas', color: '#2c5282' },
  { key: 'supergateway', label: 'supergateway --stateful', color: '#a0aec0' },
  { key: 'mcp-proxy', label: 'mcp-proxy', color: '#a0aec0' },
];

function lastRun(text: string): Run {
  for (const line of text.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const run = JSON.parse(line) as Run;
      if (run && typeof run.targets === 'object') return run;
    } catch {
      // not the JSON line
    }
  }
  throw new Error('no JSON line with "targets" found (give the output of npm run bench, or its last line)');
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A round step (1, 2 or 5 times a power of ten) giving about five ticks, and the axis end: a step above `max`. */
function axis(max: number): { top: number; step: number } {
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  return { top: Math.ceil(max / step) * step, step };
}

export function chart(run: Run): string {
  const bars = BARS.flatMap((bar) => {
    const figures = run.targets[bar.key];
    return figures && Number.isFinite(figures.rps) ? [{ ...bar, figures }] : [];
  });
  if (bars.length === 0) throw new Error('the run has no throughput figures');
  const width = 800;
  const left = 190;
  const right = 230;
  const top = 84;
  const barHeight = 34;
  const gap = 18;
  const plotWidth = width - left - right;
  const plotHeight = bars.length * (barHeight + gap) - gap;
  const height = top + plotHeight + 56;
  const { top: max, step } = axis(Math.max(...bars.map((b) => b.figures.rps)));
  const x = (value: number) => left + (value / max) * plotWidth;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">');
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push('<text x="20" y="28" font-size="16" font-weight="600" fill="#1a202c">tools/call throughput (req/s), server-everything echo</text>');
  const subtitle = `${run.sessions ?? 16} sessions, concurrency ${run.sessions ?? 16}; medians of ${run.rounds ?? '?'} rounds x ` +
    `${run.seconds ?? '?'} s, targets interleaved; ${run.cores ?? '?'} cores for everything`;
  parts.push(`<text x="20" y="48" fill="#4a5568">${escape(subtitle)}</text>`);
  parts.push('<text x="20" y="66" fill="#4a5568">Proxies front server-everything over stdio (2 replicas: a child each, ' +
    'round robin per request)</text>');
  for (let tick = 0; tick <= max + 1e-9; tick += step) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + plotHeight}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="${tx}" y="${top + plotHeight + 18}" text-anchor="middle" fill="#718096">${thousands(tick)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = top + i * (barHeight + gap);
    const w = Math.max(1, x(bar.figures.rps) - left);
    const ratio = bar.figures.vs_direct;
    parts.push(`<text x="${left - 10}" y="${y + barHeight / 2 + 4}" text-anchor="end" fill="#1a202c">${escape(bar.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" rx="3" fill="${bar.color}"/>`);
    const one = run.targets.gatehouse;
    const vsOne = bar.key === 'gatehouse-2' && one ? `, ${(bar.figures.rps / one.rps).toFixed(2)}x 1 replica` : '';
    const value = `${thousands(bar.figures.rps)}${ratio !== null && bar.key !== 'direct' ? `  (${ratio.toFixed(2)}x direct${vsOne})` : ''}`;
    parts.push(`<text x="${(left + w + 8).toFixed(1)}" y="${y + 14}" font-weight="600" fill="#1a202c">${escape(value)}</text>`);
    parts.push(`<text x="${(left + w + 8).toFixed(1)}" y="${y + 29}" font-size="11" fill="#4a5568">` +
      `p50 ${bar.figures.p50_ms.toFixed(2)} ms, p99 ${bar.figures.p99_ms.toFixed(1)} ms</text>`);
  });
  parts.push(`<text x="20" y="${height - 14}" font-size="11" fill="#718096">` +
    'npm run bench (bench/e2e/throughput.ts), drawn by bench/chart.ts from the run\'s JSON line</text>');
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
  const input = positionals[0] && positionals[0] !== '-' ? readFileSync(positionals[0], 'utf8') : readFileSync(0, 'utf8');
  const out = resolve(values.out ?? resolve(import.meta.dirname, '..', 'docs', 'bench-throughput.svg'));
  writeFileSync(out, chart(lastRun(input)));
  console.log(`wrote ${out}`);
}
