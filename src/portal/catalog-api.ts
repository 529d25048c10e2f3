/**
 * The portal's read API (`<portal.path>/api/…`): who the caller is and how to log in, the catalog of servers (the
 * default endpoint and every virtual server) with their tools, scan verdicts and live health per replica, and usage
 * drawn from the audit log. With auth on, every route but `session` needs a valid principal, as the MCP endpoint does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { discoverMetadata } from '../auth/oauth.ts';
import type { Principal } from '../auth/principal.ts';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { Gateway } from '../gateway.ts';
import { publicFinding, scanDefinitions } from '../guard/scanner/index.ts';
import type { AuditRecord } from '../store/audit.ts';
import { ApiInputError, sendJson } from './http.ts';
import { isAdmin } from './admin.ts';

/** `_` names the default endpoint in paths (its own name is ''). */
const DEFAULT_NAME = '_';

export async function serveCatalogApi(gw: Gateway, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const err = new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['The portal API is read-only: GET']);
    err.headers = { allow: 'GET' };
    throw err;
  }
  if (path === '/session') return sendJson(res, 200, await session(gw, req));
  const principal = await gw.authenticate(req, '');
  if (path === '/servers') return sendJson(res, 200, { servers: serverNames(gw).map((n) => summary(gw, n, principal)) });
  const one = /^\/servers\/([^/]+)$/.exec(path);
  if (one) return sendJson(res, 200, await server(gw, serverName(gw, decodeURIComponent(one[1])), principal));
  if (path === '/usage') return sendJson(res, 200, await usage(gw, url));
  throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No portal API route ${path}`]);
}

// ---- session -----------------------------------------------------------------------------------

async function session(gw: Gateway, req: IncomingMessage) {
  const config = gw.currentConfig;
  let principal: Principal | null = null;
  try {
    principal = await gw.authenticate(req, '');
  } catch (err) {
    if (!GatehouseError.is(err) || err.status !== 401) throw err;
  }
  return {
    principal: principal === null ? null : { id: principal.id, kind: principal.kind, scopes: principal.scopes, groups: principal.groups },
    admin: principal !== null && principal.kind !== 'anonymous' && isAdmin(principal, config.admin),
    auth: { enabled: config.auth.enabled, login: config.auth.enabled ? await login(gw) : null },
    endpoints: { mcp: config.server.path, sse: config.server.legacySse ? '/sse' : null },
    publicUrl: gw.publicOrigin(),
  };
}

const discovered = new Map<string, Promise<{ authorizationEndpoint: string; tokenEndpoint: string } | null>>();

/** The IdP login of `portal.login`: its endpoints from the issuer's metadata (fetched once). */
async function login(gw: Gateway) {
  const config = gw.currentConfig.portal.login;
  if (config === undefined) return null;
  let found = discovered.get(config.issuer);
  if (found === undefined) {
    found = discover(config.issuer);
    discovered.set(config.issuer, found);
    found.then((v) => v === null && discovered.delete(config.issuer), () => discovered.delete(config.issuer));
  }
  const endpoints = await found;
  return endpoints === null ? null : { issuer: config.issuer, ...endpoints, clientId: config.clientId, scopes: config.scopes };
}

async function discover(issuer: string): Promise<{ authorizationEndpoint: string; tokenEndpoint: string } | null> {
  const meta = await discoverMetadata(issuer, (m) => typeof m.authorization_endpoint === 'string' && typeof m.token_endpoint === 'string');
  return meta === null ? null : { authorizationEndpoint: meta.authorization_endpoint as string, tokenEndpoint: meta.token_endpoint as string };
}

// ---- servers -----------------------------------------------------------------------------------

function serverNames(gw: Gateway): string[] {
  return ['', ...Object.keys(gw.currentConfig.virtualServers)];
}

function serverName(gw: Gateway, name: string): string {
  if (name === DEFAULT_NAME) return '';
  if (!Object.hasOwn(gw.currentConfig.virtualServers, name)) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No server named "${name}"; GET ../servers lists them (the default endpoint is "${DEFAULT_NAME}")`]);
  return name;
}

function upstreamsOf(gw: Gateway, name: string): string[] {
  const view = gw.view(name);
  if (view === undefined) return [];
  return [...new Set([...view.toolRoutes.values()].map((r) => r.upstream))].sort();
}

function summary(gw: Gateway, name: string, principal: Principal) {
  const config = gw.currentConfig;
  const vs = name === '' ? undefined : config.virtualServers[name];
  const upstreams = name === '' ? Object.keys(config.upstreams).filter((u) => config.upstreams[u].enabled) : upstreamsOf(gw, name);
  const ready = gw.readiness().upstreams;
  const up = upstreams.filter((u) => ready[u]?.status === 'ready').length;
  return {
    name,
    title: vs?.title ?? (name === '' ? 'All servers' : name),
    description: vs?.description ?? (name === '' ? `Every upstream of the gateway: ${upstreams.join(', ') || 'none yet'}` : `Tools from ${upstreams.join(', ') || 'no upstream yet'}`),
    endpoint: name === '' ? config.server.path : `${config.server.path}/${name}`,
    sseEndpoint: config.server.legacySse ? (name === '' ? '/sse' : `/sse/${name}`) : null,
    tools: gw.toolsFor(principal, name).length,
    upstreams,
    health: upstreams.length === 0 || up === upstreams.length ? 'ready' : up === 0 ? 'down' : 'degraded',
  };
}

/** Scan verdicts per catalog version and server: the scanner runs once per change, not per page view. */
const verdicts = new WeakMap<Gateway, Map<string, Promise<Map<string, { verdict: string; findings: object[] }>>>>();

/** One server, with the tools the caller may see (the authorization policy filters them as it filters tools/list). */
async function server(gw: Gateway, name: string, principal: Principal) {
  const view = gw.view(name);
  const tools = gw.toolsFor(principal, name);
  const found = await verdictsOf(gw, name, view?.tools ?? []);
  const ready = gw.readiness().upstreams;
  const base = summary(gw, name, principal);
  return {
    ...base,
    toolList: tools.map((t) => {
      const route = view?.toolRoutes.get(t.name as string);
      const v = found.get(t.name as string);
      return {
        name: t.name,
        ...(t.title !== undefined && { title: t.title }),
        ...(t.description !== undefined && { description: t.description }),
        inputSchema: t.inputSchema ?? { type: 'object' },
        ...(t.outputSchema !== undefined && { outputSchema: t.outputSchema }),
        ...(t.annotations !== undefined && { annotations: t.annotations }),
        upstream: route?.upstream ?? null,
        verdict: v?.verdict ?? null,
        findings: v?.findings ?? [],
      };
    }),
    upstreamList: base.upstreams.map((u) => ({
      name: u,
      ...(gw.currentConfig.upstreams[u]?.title !== undefined && { title: gw.currentConfig.upstreams[u].title }),
      status: ready[u]?.status ?? 'disabled',
      ...(ready[u]?.error && { error: ready[u].error }),
      replicas: ready[u]?.replicas ?? [],
    })),
  };
}

function verdictsOf(gw: Gateway, name: string, tools: readonly JsonObject[]) {
  const config = gw.currentConfig.scanner;
  if (!config.enabled) return Promise.resolve(new Map<string, { verdict: string; findings: object[] }>());
  let cache = verdicts.get(gw);
  if (cache === undefined) verdicts.set(gw, (cache = new Map()));
  const key = `${gw.catalog.version}\0${name}`;
  let found = cache.get(key);
  if (found === undefined) {
    for (const k of cache.keys()) if (k.endsWith(`\0${name}`)) cache.delete(k); // an older catalog's
    const known = [...gw.catalog.entries.values()].flatMap((e) => e.tools.map((t) => ({ upstream: e.upstream, name: t.name })));
    const items = tools.map((t) => ({ kind: 'tool' as const, name: String(t.name), definition: t }));
    found = scanDefinitions(items, { config, knownTools: known }).then((results) => new Map(results.map((r) => [r.name, { verdict: r.verdict, findings: r.findings.map(publicFinding) }])));
    cache.set(key, found);
  }
  return found;
}

// ---- usage -------------------------------------------------------------------------------------

const WINDOWS: Record<string, { ms: number; bucket: number }> = {
  '1h': { ms: 3_600_000, bucket: 60_000 },
  '24h': { ms: 86_400_000, bucket: 1_800_000 },
  '7d': { ms: 604_800_000, bucket: 21_600_000 },
};
/** Records read per usage query: the most recent ones when a window holds more. */
const USAGE_LIMIT = 50_000;

async function usage(gw: Gateway, url: URL) {
  const windowName = url.searchParams.get('window') ?? '1h';
  const window = WINDOWS[windowName];
  if (window === undefined) throw new ApiInputError(`window: expected 1h, 24h or 7d, got "${windowName}"`, [{ path: 'window', message: '1h, 24h or 7d' }]);
  const serverParam = url.searchParams.get('server');
  const vs = serverParam === null ? null : serverName(gw, serverParam);
  const now = Date.now();
  const start = Math.floor((now - window.ms) / window.bucket) * window.bucket + window.bucket;
  const records = gw.audit === null ? [] : (await gw.audit.query({ since: start, limit: USAGE_LIMIT })).filter((r) => vs === null || r.virtualServer === vs);
  return { window: windowName, bucketSeconds: window.bucket / 1000, audit: gw.audit !== null, ...aggregate(records, start, now, window.bucket) };
}

/** Calls, errors and latency percentiles per bucket; the busiest tools and principals. */
export function aggregate(records: readonly AuditRecord[], start: number, now: number, bucketMs: number) {
  const count = Math.max(1, Math.ceil((now - start) / bucketMs));
  const latencies: number[][] = Array.from({ length: count }, () => []);
  const errors = new Array<number>(count).fill(0);
  const tools = new Map<string, { calls: number; errors: number }>();
  const principals = new Map<string, number>();
  for (const r of records) {
    const i = Math.floor((Date.parse(r.time) - start) / bucketMs);
    if (i < 0 || i >= count) continue;
    latencies[i].push(r.latencyMs);
    const failed = r.outcome !== 'ok';
    if (failed) errors[i]++;
    const tool = r.target ?? r.method;
    const t = tools.get(tool) ?? { calls: 0, errors: 0 };
    t.calls++;
    if (failed) t.errors++;
    tools.set(tool, t);
    principals.set(r.principal, (principals.get(r.principal) ?? 0) + 1);
  }
  const pct = (sorted: number[], p: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]);
  return {
    buckets: latencies.map((l, i) => {
      const sorted = l.sort((a, b) => a - b);
      return { t: start + i * bucketMs, calls: l.length, errors: errors[i], p50Ms: pct(sorted, 0.5), p99Ms: pct(sorted, 0.99) };
    }),
    topTools: [...tools].map(([tool, v]) => ({ tool, ...v })).sort((a, b) => b.calls - a.calls).slice(0, 10),
    topPrincipals: [...principals].map(([principal, calls]) => ({ principal, calls })).sort((a, b) => b.calls - a.calls).slice(0, 10),
  };
}
