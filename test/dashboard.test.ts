/**
 * The Grafana dashboard in deploy/grafana stays true to the metrics: it parses, every query names metrics and labels
 * that GatewayMetrics declares, legends use labels the query keeps, panels do not overlap, and every metric the
 * gateway declares is on the dashboard somewhere.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Histogram } from 'prom-client';
import { GatewayMetrics } from '../src/observe/metrics.ts';

interface Target { expr: string; legendFormat?: string; refId: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid?: string }; targets?: Target[]; panels?: Panel[] }

const dashboard = JSON.parse(readFileSync(new URL('../deploy/grafana/gatehouse-dashboard.json', import.meta.url), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
};

/** Recorded by the upstream pool (src/upstream/replica-set.ts) rather than the router; declared in GatewayMetrics all the same. */
const FROM_UPSTREAM = [
  'gatehouse_upstream_request_duration_seconds',
  'gatehouse_upstream_in_flight',
  'gatehouse_upstream_queue_depth',
  'gatehouse_upstream_breaker_state',
  'gatehouse_upstream_replica_healthy',
  'gatehouse_upstream_retries_total',
  'gatehouse_upstream_failovers_total',
  'gatehouse_upstream_rejected_total',
  'gatehouse_upstream_health_checks_total',
];

const metrics = new GatewayMetrics({ processMetrics: false });
const declared = (name: string) => metrics.registry.getSingleMetric(name) as (ReturnType<typeof metrics.registry.getSingleMetric> & { labelNames: string[] }) | undefined;

/** A series name in a query -> the metric that exports it (a histogram's _bucket, _sum and _count are its own). */
function family(series: string): { name: string; labels: string[] } | undefined {
  const direct = declared(series);
  if (direct) return { name: series, labels: direct.labelNames };
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  const h = m ? declared(m[1]) : undefined;
  if (!m || !(h instanceof Histogram)) return undefined;
  return { name: m[1], labels: m[2] === 'bucket' ? [...h.labelNames, 'le'] : h.labelNames };
}

const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
const panels = flat(dashboard.panels);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

describe('the Grafana dashboard (deploy/grafana/gatehouse-dashboard.json)', () => {
  it('is a dashboard with a Prometheus datasource variable and virtual_server / upstream filters', () => {
    assert.equal(dashboard.uid, 'gatehouse-overview');
    assert.ok(dashboard.schemaVersion >= 39);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('DS_PROMETHEUS')?.type, 'datasource');
    assert.equal(vars.get('DS_PROMETHEUS')?.query, 'prometheus');
    for (const name of ['virtual_server', 'upstream']) assert.equal(vars.get(name)?.type, 'query', name);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) {
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', p.title);
      assert.ok(p.targets && p.targets.length > 0, `${p.title} has queries`);
      for (const t of p.targets) assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', p.title);
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Map<string, string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${p.title} fits the grid`);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const other = cells.get(`${i},${j}`);
          assert.equal(other, undefined, `${p.title} overlaps ${other}`);
          cells.set(`${i},${j}`, p.title);
        }
      }
    }
  });

  it('queries only declared metrics, with their own labels, and legends show labels the query keeps', () => {
    const variableQueries = dashboard.templating.list.flatMap((v) => (v.definition === undefined ? [] : [{ panel: `variable ${v.name}`, expr: v.definition, legendFormat: '' }]));
    for (const q of [...queries, ...variableQueries]) {
      const used = [...q.expr.matchAll(/\b(gatehouse_[a-z0-9_]+)(\{[^}]*\})?/g)];
      assert.ok(used.length > 0, `${q.panel}: ${q.expr} names a gatehouse metric`);
      const kept = new Set<string>();
      for (const [, series, selector] of used) {
        const f = family(series);
        assert.ok(f, `${q.panel}: ${series} is declared by GatewayMetrics`);
        for (const [, label] of (selector ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) assert.ok(f.labels.includes(label), `${q.panel}: ${f.name} has no label ${label}`);
        for (const l of f.labels) kept.add(l);
      }
      for (const [, list] of q.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of list.split(',').map((s) => s.trim())) assert.ok(kept.has(label), `${q.panel}: by (${label}) is a label of the metrics queried`);
      }
      const by = new Set([...q.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap(([, list]) => list.split(',').map((s) => s.trim())));
      for (const [, label] of (q.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) assert.ok(by.has(label), `${q.panel}: legend {{${label}}} is kept by the query's sum by (...)`);
    }
  });

  it('shows every metric the gateway declares, the upstream pool\'s included', async () => {
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('gatehouse_'));
    for (const n of FROM_UPSTREAM) assert.ok(names.includes(n), `${n} is declared (recorded in src/upstream)`);
    const text = queries.map((q) => q.expr).join('\n');
    for (const n of names) assert.match(text, new RegExp(`\\b${n}(_bucket|_sum|_count)?\\b`), `${n} is on the dashboard`);
  });
});
