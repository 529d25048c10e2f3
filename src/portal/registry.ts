/**
 * The registry API (issue 7): what this gateway offers, in the read API of the official MCP Registry, so a
 * registry-aware client can discover its endpoints. One entry per virtual server (`<server.path>/<name>`) and one
 * for the default endpoint (`<server.path>`, every upstream); each entry's `remotes` point back at the gateway.
 *
 * Written against the generic registry API revision 2025-12-01 (OpenAPI `$id`
 * https://modelcontextprotocol.io/schemas/draft/2025-12-01/server-registry-openapi, served by the official registry at
 * `/v0.1` and `/v0`) and the server.json schema 2025-12-11. Routes (paths relative to `/v0`):
 *
 *   GET /servers                                   ServerList: `cursor`, `limit` (1..100, default 30), `search`,
 *                                                  `updated_since`, `version`, `include_deleted`
 *   GET /servers/{serverName}/versions             ServerList of the entry's versions (only the current one)
 *   GET /servers/{serverName}/versions/{version}   ServerResponse; `latest` or the exact current version
 *   GET /servers/{serverName}                      ServerResponse of the latest version: removed from the spec in
 *                                                  revision 2025-10-17, kept for clients of 2025-09-29
 *
 * `{serverName}` is one path segment, its "/" sent as %2F (as the official registry requires); so is a version's "+".
 *
 * Names are `<namespace>/<entry>`: the namespace is the gateway's host name in reverse-DNS order (`mcp.example.com`
 * → `com.example.mcp`, IP addresses as they are, no port), the host of `auth.publicUrl` when it is set, else of the
 * request's Host header (the gateway trusts no X-Forwarded-* header anywhere). The entry is the virtual server's name
 * (config names already fit the registry's `[A-Za-z0-9._-]`), or `_default` for the default endpoint: a virtual
 * server's name cannot start with "_", so the two never collide.
 *
 * Versions are `<gateway version>+<12 hex>`, the semver build metadata a hash of what the endpoint serves (its tools,
 * prompts, resources, upstreams, title, description and paths): it changes exactly when a client would see something
 * different, which the package version alone would not tell, while staying equal across replicas with the same
 * config and upstreams. Old versions are not kept: `/versions` lists the current one.
 *
 * Access: the same identity as the default endpoint (`authenticate(req, '')`): anonymous with auth off; with auth on
 * a token or API key for the gateway, unless `auth.allowAnonymous` — the entries name internal upstreams and virtual
 * servers. The MCP endpoint's DNS-rebinding check (Origin, and Host when bound to loopback) applies too.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { View } from '../catalog/view.ts';
import type { Gateway } from '../gateway.ts';
import { checkOrigin } from '../server/guards.ts';
import { LEGACY_SSE_PATH } from '../server/http-server.ts';
import { VERSION } from '../version.ts';
import { ApiInputError, sendJson } from './http.ts';

export const SERVER_SCHEMA_URL = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';
export const OFFICIAL_META = 'io.modelcontextprotocol.registry/official';
/** The gateway's own extras in each server.json `_meta`. */
export const GATEHOUSE_META = 'dev.gatehouse/gateway';
/** The entry name of the default endpoint; virtual-server names start with a letter or digit. */
export const DEFAULT_ENTRY = '_default';

const DEFAULT_LIMIT = 30;
const MAX_LIMIT = 100;
/** server.json: `description` and `title` are at most 100 characters. */
const MAX_TEXT = 100;
const ALLOW = 'GET, HEAD';
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

type Remote = { type: 'streamable-http' | 'sse'; url: string };

export interface ServerJson {
  $schema: string;
  name: string;
  title: string;
  description: string;
  version: string;
  remotes: Remote[];
  _meta: Record<string, unknown>;
}

export interface RegistryEntry {
  server: ServerJson;
  _meta: { [OFFICIAL_META]: { status: 'active'; publishedAt: string; updatedAt: string; isLatest: true } };
}

interface Listed {
  /** The name without its namespace: the sort key, and what a cursor carries (it does not depend on the Host). */
  key: string;
  entry: RegistryEntry;
}

export async function serveRegistry(gateway: Gateway, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
  checkOrigin(req, gateway.options.origin);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const err = new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', [`The registry API is read-only: ${req.method ?? 'this method'} is not allowed on ${url.pathname}; use GET`]);
    err.headers = { allow: ALLOW };
    throw err;
  }
  await gateway.authenticate(req, '');

  // Where the portal mounted this API (`/v0`), for messages.
  const root = url.pathname.endsWith(path) ? url.pathname.slice(0, url.pathname.length - path.length) : '/v0';
  const segments = path.replace(/\/$/, '').split('/').slice(1);
  if (segments[0] !== 'servers') throw notFound(`Not found: ${url.pathname}; the registry API serves ${root}/servers`);
  if (segments.length === 1) {
    sendJson(res, 200, listServers(entries(gateway, req), url.searchParams));
    return;
  }
  const name = decodeSegment(segments[1], 'the server name');
  const found = entries(gateway, req).find((l) => l.entry.server.name === name);
  if (segments.length === 2 && found) {
    sendJson(res, 200, found.entry);
    return;
  }
  if (segments.length > 4 || (segments.length > 2 && segments[2] !== 'versions')) {
    throw notFound(`Not found: ${url.pathname}; encode the "/" of a server name as %2F, e.g. ${root}/servers/${encodeURIComponent(`${segments[1]}/${segments[2]}`)}`);
  }
  if (!found) throw notFound(`No server named "${name}" in this registry; GET ${root}/servers lists them`);
  if (segments.length === 3) {
    sendJson(res, 200, { servers: [found.entry], metadata: { count: 1 } });
    return;
  }
  const version = decodeSegment(segments[3], 'the version');
  if (version !== 'latest' && version !== found.entry.server.version) {
    throw notFound(`Server "${name}" has no version "${version}"; its only version is ${found.entry.server.version} (or ask for "latest")`);
  }
  sendJson(res, 200, found.entry);
}

/** GET /servers: filter, then a page after the cursor, in name order. */
function listServers(all: Listed[], query: URLSearchParams): { servers: RegistryEntry[]; metadata: { nextCursor?: string; count: number } } {
  const limit = parseLimit(query.get('limit'));
  const after = query.has('cursor') ? parseCursor(query.get('cursor')!) : null;
  const search = query.get('search')?.toLowerCase() ?? '';
  const version = query.get('version') ?? '';
  const since = parseSince(query.get('updated_since'));
  const includeDeleted = query.get('include_deleted');
  // Nothing here is ever deleted: the flag is checked, then changes nothing.
  if (includeDeleted !== null && includeDeleted !== 'true' && includeDeleted !== 'false') throw badParam('include_deleted', 'true or false', `include_deleted must be true or false, not "${includeDeleted}"`);

  const matching = all.filter(
    (l) =>
      (after === null || l.key > after) &&
      (search === '' || l.entry.server.name.toLowerCase().includes(search)) &&
      (version === '' || version === 'latest' || version === l.entry.server.version) &&
      (since === null || Date.parse(l.entry._meta[OFFICIAL_META].updatedAt) >= since),
  );
  const page = matching.slice(0, limit);
  const metadata: { nextCursor?: string; count: number } = { count: page.length };
  if (matching.length > limit) metadata.nextCursor = encodeCursor(page.at(-1)!.key);
  return { servers: page.map((l) => l.entry), metadata };
}

/** Every entry, sorted by key (code units, so every replica orders them alike). */
function entries(gateway: Gateway, req: IncomingMessage): Listed[] {
  const config = gateway.currentConfig;
  const base = baseUrl(gateway, req);
  const namespace = namespaceOf(new URL(base).hostname);
  const now = new Date().toISOString();
  const out: Listed[] = [];
  for (const vsName of ['', ...Object.keys(config.virtualServers)]) {
    const view = gateway.view(vsName);
    if (view === undefined) continue; // removed by a reload while this request ran
    const vs = vsName === '' ? undefined : config.virtualServers[vsName];
    const key = vsName === '' ? DEFAULT_ENTRY : vsName;
    const endpoint = vsName === '' ? gateway.options.path : `${gateway.options.path}/${encodeURIComponent(vsName)}`;
    const remotes: Remote[] = [{ type: 'streamable-http', url: `${base}${endpoint}` }];
    if (gateway.options.legacySse) remotes.push({ type: 'sse', url: `${base}${LEGACY_SSE_PATH}${vsName === '' ? '' : `/${encodeURIComponent(vsName)}`}` });
    const title = clip(vs?.title ?? (vsName === '' ? 'Gatehouse' : vsName));
    const description = clip(vs?.description?.replace(/\s+/g, ' ').trim() || generatedDescription(vsName, view));
    const version = `${VERSION}+${digest(JSON.stringify([title, description, endpoint, remotes.map((r) => r.type)]) + contentHash(view)).slice(0, 12)}`;
    const times = stamp(gateway, key, version, now);
    const server: ServerJson = {
      $schema: SERVER_SCHEMA_URL,
      name: `${namespace}/${key}`,
      title,
      description,
      version,
      remotes,
      _meta: {
        [GATEHOUSE_META]: {
          virtualServer: vsName,
          upstreams: [...view.upstreams],
          // What the view gives access to, before per-caller policy (in search mode: found through search).
          tools: view.tools.length,
          prompts: view.prompts.length,
          resources: view.resources.length,
          resourceTemplates: view.resourceTemplates.length,
          authentication: !config.auth.enabled ? 'none' : config.auth.allowAnonymous ? 'optional' : 'required',
          gatewayVersion: VERSION,
        },
      },
    };
    out.push({ key, entry: { server, _meta: { [OFFICIAL_META]: { status: 'active', publishedAt: times.publishedAt, updatedAt: times.updatedAt, isLatest: true } } } });
  }
  forget(gateway, new Set(out.map((l) => l.key)));
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function generatedDescription(vsName: string, view: View): string {
  const upstreams = view.upstreams.length === 0 ? 'no upstream ready yet' : view.upstreams.join(', ');
  return vsName === '' ? `Every upstream of this Gatehouse gateway: ${upstreams}` : `Gatehouse virtual server "${vsName}" over ${upstreams}`;
}

/**
 * `auth.publicUrl` when configured (the origin, plus any prefix a proxy adds, that the auth stage names in token
 * audiences), else `http://<Host>`.
 */
function baseUrl(gateway: Gateway, req: IncomingMessage): string {
  const config = gateway.currentConfig;
  if (config.auth.publicUrl !== undefined) return config.auth.publicUrl.replace(/\/+$/, '');
  const host = req.headers.host;
  if (host === undefined || host === '') {
    const listen = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    return `http://${listen}:${gateway.port}`;
  }
  if (!HOST_HEADER.test(host)) throw badParam('Host', 'a host[:port]', `the Host header "${host}" is not a host[:port]; the registry builds its URLs from it`);
  return `http://${host}`;
}

/** A host name in reverse-DNS order, in the registry's namespace alphabet `[a-zA-Z0-9.-]`. */
export function namespaceOf(hostname: string): string {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  // IP addresses are not DNS names: reversing them would only obscure them.
  const ip = /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || host.includes(':');
  const ordered = ip ? host : host.split('.').reverse().join('.');
  return ordered.replace(/[^a-z0-9.-]/g, '-') || 'localhost';
}

/** At most 100 characters (code points, as JSON Schema counts them), cut with an ellipsis. */
function clip(text: string): string {
  const chars = [...text];
  return chars.length <= MAX_TEXT ? text : `${chars.slice(0, MAX_TEXT - 1).join('').trimEnd()}…`;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A view is rebuilt (a new object) whenever the catalog or config changes: hash each one once. */
const contentHashes = new WeakMap<View, string>();
function contentHash(view: View): string {
  let hash = contentHashes.get(view);
  if (hash === undefined) {
    hash = digest(JSON.stringify([view.upstreams, view.tools, view.prompts, view.resources, view.resourceTemplates]));
    contentHashes.set(view, hash);
  }
  return hash;
}

/**
 * publishedAt / updatedAt: when this process first saw the entry, and its current version. They are noted when the
 * registry is asked, so they are never earlier than the change itself: a sync by `updated_since` may fetch an entry
 * again (after a restart, on another replica) but never misses one. Per gateway, and gone with it; nothing here must
 * outlive the process, so no store.
 */
const stamps = new WeakMap<Gateway, Map<string, { version: string; publishedAt: string; updatedAt: string }>>();
function stamp(gateway: Gateway, key: string, version: string, now: string): { publishedAt: string; updatedAt: string } {
  let byKey = stamps.get(gateway);
  if (byKey === undefined) stamps.set(gateway, (byKey = new Map()));
  let s = byKey.get(key);
  if (s === undefined) byKey.set(key, (s = { version, publishedAt: now, updatedAt: now }));
  else if (s.version !== version) Object.assign(s, { version, updatedAt: now });
  return s;
}

/** A virtual server removed by a reload and added back later is a new entry. */
function forget(gateway: Gateway, keys: Set<string>): void {
  const byKey = stamps.get(gateway);
  if (byKey !== undefined) for (const key of byKey.keys()) if (!keys.has(key)) byKey.delete(key);
}

// ---- parameters ---------------------------------------------------------------------------------

function parseLimit(raw: string | null): number {
  if (raw === null || raw === '') return DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw badParam('limit', `an integer from 1 to ${MAX_LIMIT}`, `limit must be an integer from 1 to ${MAX_LIMIT}, not "${raw}"`);
  return n;
}

/** Opaque to clients: base64url of `{"after": <key>}`, the last key of the previous page. */
function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

function parseCursor(raw: string): string {
  let value: unknown;
  if (/^[A-Za-z0-9_-]+$/.test(raw)) {
    try {
      value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    } catch {}
  }
  const after = (value as { after?: unknown } | null | undefined)?.after;
  if (typeof after !== 'string') throw badParam('cursor', 'metadata.nextCursor of a previous page', 'cursor is not one this registry returned: pass metadata.nextCursor of the previous page unchanged, or leave it out to start over');
  return after;
}

function parseSince(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  const t = RFC3339.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(t)) throw badParam('updated_since', 'an RFC 3339 timestamp', `updated_since must be an RFC 3339 timestamp such as 2025-08-07T13:15:04.280Z, not "${raw}"`);
  return t;
}

function decodeSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiInputError(`${what} in the path is not valid percent-encoding: "${raw}"`, [{ path: 'path', message: 'not valid percent-encoding' }]);
  }
}

/** A 400 naming the query parameter (or header) at fault: `fields[0].path` is its name, `.message` what it takes. */
function badParam(param: string, expected: string, message: string): ApiInputError {
  return new ApiInputError(message, [{ path: param, message: expected }]);
}

function notFound(message: string): GatehouseError {
  return new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [message]);
}
