/**
 * Usage charts drawn with uPlot (canvas, ~50 KB): calls and errors per bucket, latency p50/p99 per bucket, and the
 * busiest tools and principals as bars. Each chart is a <figure> with a caption and its numbers in a table, so the
 * data is there for screen readers and for copying.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { UsageBucket } from '../lib/types.ts';

type Build = (width: number, colors: Palette) => uPlot.Options;

interface Palette {
  calls: string;
  errors: string;
  p50: string;
  p99: string;
  axis: string;
  grid: string;
}

function palette(): Palette {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return { calls: v('--chart-calls', '#2f5bd3'), errors: v('--chart-errors', '#d33f2f'), p50: v('--chart-p50', '#1f8a5b'), p99: v('--chart-p99', '#b86e00'), axis: v('--muted', '#666'), grid: v('--grid', '#e5e5e5') };
}

const HEIGHT = 220;

/** A uPlot chart that follows its container's width (and the color scheme). */
function UPlotChart({ build, data, label }: { build: Build; data: uPlot.AlignedData; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const buildRef = useRef(build);
  buildRef.current = build;
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const el = box.current!;
    const create = () => {
      chart.current?.destroy();
      chart.current = new uPlot(buildRef.current(Math.max(200, el.clientWidth), palette()), dataRef.current, el);
    };
    create();
    const resize = new ResizeObserver(() => chart.current?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', create);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', create);
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setData(data);
  }, [data]);

  return <div ref={box} class="chart" role="img" aria-label={label} />;
}

function axes(c: Palette, y: string, time: boolean, xValues?: (u: uPlot, splits: number[]) => string[]): uPlot.Axis[] {
  const common = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
  return [
    { ...common, ...(xValues && { values: xValues, gap: 4, size: 50, rotate: 0 }), ...(time ? {} : { grid: { show: false } }) },
    { ...common, label: y, size: 56 },
  ];
}

function Figure({ id, caption, children, table }: { id: string; caption: string; children: ComponentChildren; table: ComponentChildren }) {
  return (
    <figure class="card chart-card" aria-labelledby={`${id}-cap`}>
      <figcaption id={`${id}-cap`}>{caption}</figcaption>
      {children}
      <details>
        <summary>Show the numbers</summary>
        {table}
      </details>
    </figure>
  );
}

/** The time axis with half a bucket either side, so the first and last bars are whole. */
function padded(bucketSeconds: number): uPlot.Range.Function {
  return (_u, min, max) => [min - bucketSeconds / 2, max + bucketSeconds / 2];
}

function timeLabel(t: number, bucketSeconds: number): string {
  const d = new Date(t);
  return bucketSeconds >= 86400 / 4 ? d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit' }) : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function CallsChart({ buckets, bucketSeconds }: { buckets: UsageBucket[]; bucketSeconds: number }) {
  // Empty buckets draw no bar (null), rather than a flat line along zero.
  const data: uPlot.AlignedData = [buckets.map((b) => b.t / 1000), buckets.map((b) => b.calls || null), buckets.map((b) => b.errors || null)];
  const build: Build = (width, c) => ({
    width,
    height: HEIGHT,
    scales: { x: { range: padded(bucketSeconds) }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
    series: [
      {},
      { label: 'calls', stroke: c.calls, fill: `${c.calls}55`, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } },
      { label: 'errors', stroke: c.errors, fill: `${c.errors}aa`, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } },
    ],
    axes: axes(c, 'calls', true),
    cursor: { drag: { x: false, y: false } },
  });
  return (
    <Figure
      id="calls"
      caption="Calls and errors over time"
      table={
        <table class="data">
          <thead>
            <tr>
              <th scope="col">from</th>
              <th scope="col">calls</th>
              <th scope="col">errors</th>
            </tr>
          </thead>
          <tbody>
            {buckets.filter((b) => b.calls > 0).map((b) => (
              <tr key={b.t}>
                <td>{timeLabel(b.t, bucketSeconds)}</td>
                <td>{b.calls}</td>
                <td>{b.errors}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    >
      <UPlotChart build={build} data={data} label={`Bar chart of calls and errors per ${bucketSeconds / 60} minutes; ${buckets.reduce((n, b) => n + b.calls, 0)} calls in all`} />
    </Figure>
  );
}

export function LatencyChart({ buckets, bucketSeconds }: { buckets: UsageBucket[]; bucketSeconds: number }) {
  const data: uPlot.AlignedData = [buckets.map((b) => b.t / 1000), buckets.map((b) => b.p50Ms), buckets.map((b) => b.p99Ms)];
  const build: Build = (width, c) => ({
    width,
    height: HEIGHT,
    scales: { x: { range: padded(bucketSeconds) }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
    series: [
      {},
      { label: 'p50 ms', stroke: c.p50, width: 2, spanGaps: false, points: { show: true, size: 4 } },
      { label: 'p99 ms', stroke: c.p99, width: 2, dash: [6, 4], spanGaps: false, points: { show: true, size: 4 } },
    ],
    axes: axes(c, 'ms', true),
    cursor: { drag: { x: false, y: false } },
  });
  return (
    <Figure
      id="latency"
      caption="Latency p50 and p99 over time"
      table={
        <table class="data">
          <thead>
            <tr>
              <th scope="col">from</th>
              <th scope="col">p50 ms</th>
              <th scope="col">p99 ms</th>
            </tr>
          </thead>
          <tbody>
            {buckets.filter((b) => b.p50Ms !== null).map((b) => (
              <tr key={b.t}>
                <td>{timeLabel(b.t, bucketSeconds)}</td>
                <td>{b.p50Ms}</td>
                <td>{b.p99Ms}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    >
      <UPlotChart build={build} data={data} label="Line chart of the median and 99th percentile latency per bucket" />
    </Figure>
  );
}

function short(label: string, max = 18): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

/** Bars per name (top tools, top principals); names on the x axis, shortened, in full in the table and legend. */
export function TopChart({ id, caption, rows }: { id: string; caption: string; rows: { name: string; calls: number; errors?: number }[] }) {
  const names = rows.map((r) => r.name);
  const hasErrors = rows.some((r) => r.errors !== undefined);
  const data: uPlot.AlignedData = [rows.map((_, i) => i), rows.map((r) => r.calls), ...(hasErrors ? [rows.map((r) => r.errors || null)] : [])];
  const build: Build = (width, c) => ({
    width,
    height: HEIGHT,
    scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, names.length - 0.5)] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    series: [
      { label: 'name', value: (_u, v) => (v === null ? '' : names[Math.round(v)] ?? '') },
      { label: 'calls', stroke: c.calls, fill: `${c.calls}88`, paths: uPlot.paths.bars!({ size: [0.6, 60], align: 0 }), points: { show: false } },
      ...(hasErrors ? [{ label: 'errors', stroke: c.errors, fill: `${c.errors}cc`, paths: uPlot.paths.bars!({ size: [0.6, 60], align: 0 }), points: { show: false } }] : []),
    ],
    axes: [
      { stroke: c.axis, grid: { show: false }, ticks: { show: false }, splits: () => names.map((_, i) => i), values: (_u: uPlot, splits: number[]) => splits.map((i) => short(names[i] ?? '', Math.max(6, Math.floor(width / Math.max(1, names.length) / 7)))) },
      { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, label: 'calls', size: 56 },
    ],
    cursor: { drag: { x: false, y: false } },
  });
  return (
    <Figure
      id={id}
      caption={caption}
      table={
        <table class="data">
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">calls</th>
              {hasErrors && <th scope="col">errors</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td>{r.calls}</td>
                {hasErrors && <td>{r.errors}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      }
    >
      {rows.length === 0 ? <p class="muted">No calls in this window.</p> : <UPlotChart key={names.join('\0')} build={build} data={data} label={`Bar chart: ${rows.map((r) => `${r.name} ${r.calls}`).join(', ')}`} />}
    </Figure>
  );
}
