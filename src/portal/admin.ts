/**
 * The admin API (`/admin/…`): upstreams and virtual servers (validated like the config file, kept in the admin store,
 * applied live like a reload), quarantined definitions with their diff, API keys, the audit log, health and stats.
 * Every route but the OpenAPI document needs an admin: a principal (OAuth token or API key) with a scope in
 * `admin.scopes` or a group in `admin.groups`. Anonymous callers get 401 (with the protected-resource metadata link
 * when auth is on), others 403. The routes and their shapes are described in `/admin/openapi.json` (openapi.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createTwoFilesPatch } from 'diff';
import { z } from 'zod';
import { issueApiKey } from '../auth/api-keys.ts';
import type { Principal } from '../auth/principal.ts';
import { parseWhen } from '../cli/audit.ts';
import { parseExpiry } from '../cli/keys.ts';
import { GatehouseError } from '../core/errors.ts';
import type { Gateway } from '../gateway.ts';
import { prettyDefinition } from '../guard/pinning.ts';
import type { AdminChange, AdminKind } from '../store/admin-changes.ts';
import type { ApiKeyRecord } from '../store/api-keys.ts';
import type { AuditOutcome, AuditQuery } from '../store/audit.ts';
import type { Pending } from '../store/pins.ts';
import { ApiInputError, readJsonBody, sendJson } from './http.ts';
import { adminOpenApi } from './openapi.ts';
import { SECTION, applyChanges, overlay } from './overlay.ts';
import { redactSecrets, restoreRedacted } from './redact.ts';

const MAX_BODY = 1024 * 1024;

interface Call {
  gw: Gateway;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  principal: Principal;
  /** The path's variable parts, in order. */
  params: string[];
}

type Handler = (call: Call) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const NAME = '([^/]+)';
const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/upstreams$/, handler: (c) => listEntries(c, 'upstream') },
  { method: 'GET', pattern: new RegExp(`^/upstreams/${NAME}$`), handler: (c) => getEntry(c, 'upstream') },
  { method: 'PUT', pattern: new RegExp(`^/upstreams/${NAME}$`), handler: (c) => putEntry(c, 'upstream') },
  { method: 'DELETE', pattern: new RegExp(`^/upstreams/${NAME}$`), handler: (c) => deleteEntry(c, 'upstream') },
  { method: 'GET', pattern: /^\/virtual-servers$/, handler: (c) => listEntries(c, 'virtualServer') },
  { method: 'GET', pattern: new RegExp(`^/virtual-servers/${NAME}$`), handler: (c) => getEntry(c, 'virtualServer') },
  { method: 'PUT', pattern: new RegExp(`^/virtual-servers/${NAME}$`), handler: (c) => putEntry(c, 'virtualServer') },
  { method: 'DELETE', pattern: new RegExp(`^/virtual-servers/${NAME}$`), handler: (c) => deleteEntry(c, 'virtualServer') },
  { method: 'GET', pattern: /^\/approvals$/, handler: listApprovals },
  { method: 'GET', pattern: new RegExp(`^/approvals/${NAME}$`), handler: getApproval },
  { method: 'POST', pattern: new RegExp(`^/approvals/${NAME}/approve$`), handler: (c) => decide(c, true) },
  { method: 'POST', pattern: new RegExp(`^/approvals/${NAME}/reject$`), handler: (c) => decide(c, false) },
  { method: 'GET', pattern: /^\/keys$/, handler: listKeys },
  { method: 'POST', pattern: /^\/keys$/, handler: createKey },
  { method: 'DELETE', pattern: new RegExp(`^/keys/${NAME}$`), handler: revokeKey },
  { method: 'GET', pattern: /^\/audit$/, handler: queryAudit },
  { method: 'GET', pattern: /^\/health$/, handler: async (c) => sendJson(c.res, 200, c.gw.readiness()) },
  { method: 'GET', pattern: /^\/stats$/, handler: async (c) => sendJson(c.res, 200, c.gw.stats()) },
  { method: 'GET', pattern: /^\/me$/, handler: async (c) => sendJson(c.res, 200, { principal: principalView(c.principal), admin: true }) },
];

/** Serve one admin API request (`path` is relative to /admin). */
export async function serveAdmin(gw: Gateway, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
  if (path === '/openapi.json') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET');
    return sendJson(res, 200, adminOpenApi());
  }
  if (!gw.currentConfig.admin.enabled) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', ['The admin API is off (admin.enabled: false)']);
  const matching = ROUTES.filter((r) => r.pattern.test(path));
  if (matching.length === 0) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No admin route ${path}; the routes are listed in /admin/openapi.json`]);
  // Who asks comes before whether the method fits: a stranger learns nothing about the routes.
  const principal = await requireAdmin(gw, req);
  const route = matching.find((r) => r.method === req.method);
  if (route === undefined) throw methodNotAllowed(matching.map((r) => r.method).join(', '));
  const params = route.pattern.exec(path)!.slice(1).map((p) => decodeURIComponent(p));
  await route.handler({ gw, req, res, url, principal, params });
}

function methodNotAllowed(allow: string): GatehouseError {
  const err = new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', [`This route takes ${allow}`]);
  err.headers = { allow };
  return err;
}

/** The caller, if an admin; else the 401 or 403 that says what is missing. */
async function requireAdmin(gw: Gateway, req: IncomingMessage): Promise<Principal> {
  const principal = await gw.authenticate(req, '');
  if (principal.kind === 'anonymous') throw gw.credentialsRequired() ?? new GatehouseError('GH_ERR_ADMIN_AUTH_OFF');
  if (isAdmin(principal, gw.currentConfig.admin)) return principal;
  const { scopes, groups } = gw.currentConfig.admin;
  throw new GatehouseError('GH_ERR_ADMIN_FORBIDDEN', [principal.id, scopes.join(' ') || '(none)', groups.join(' ') || '(none)']);
}

/** A scope in `admin.scopes` or a group in `admin.groups`. */
export function isAdmin(principal: Principal, admin: { scopes: readonly string[]; groups: readonly string[] }): boolean {
  return principal.scopes.some((s) => admin.scopes.includes(s)) || principal.groups.some((g) => admin.groups.includes(g));
}

function principalView(p: Principal) {
  return { id: p.id, kind: p.kind, subject: p.subject, scopes: p.scopes, groups: p.groups };
}

// ---- upstreams and virtual servers ---------------------------------------------------------------

const WORD: Record<AdminKind, string> = { upstream: 'upstream', virtualServer: 'virtual server' };

/** Admin writes to a gateway go one at a time: each validates against the result of the one before. */
const writes = new WeakMap<Gateway, Promise<unknown>>();
function serially<T>(gw: Gateway, work: () => Promise<T>): Promise<T> {
  const next = (writes.get(gw) ?? Promise.resolve()).then(work, work);
  writes.set(gw, next.catch(() => {}));
  return next;
}

async function entryView(gw: Gateway, kind: AdminKind, name: string, changes: readonly AdminChange[]) {
  const section = SECTION[kind];
  const definition = (gw.currentConfig[section] as Record<string, unknown>)[name];
  const change = changes.find((c) => c.kind === kind && c.name === name);
  const fromFile = Object.hasOwn(gw.baseConfig[section], name);
  const view: Record<string, unknown> = {
    name,
    source: change === undefined ? 'file' : 'admin',
    ...(change !== undefined && { updatedBy: change.updatedBy, updatedAt: new Date(change.updatedAt).toISOString(), overridesFile: fromFile }),
    // The definition with every default filled in, secrets masked (a PUT of it back keeps them).
    definition: redactSecrets(definition),
  };
  if (kind === 'upstream') {
    const ready = gw.readiness().upstreams[name];
    const entry = gw.catalog.entries.get(name);
    view.status = ready?.status ?? 'disabled';
    if (ready?.error) view.error = ready.error;
    if (ready?.replicas) view.replicas = ready.replicas;
    view.tools = entry?.tools.length ?? 0;
  } else {
    view.endpoint = `${gw.currentConfig.server.path}/${name}`;
    view.tools = gw.view(name)?.tools.length ?? 0;
  }
  return view;
}

async function listEntries(c: Call, kind: AdminKind): Promise<void> {
  const changes = await c.gw.adminChanges.list();
  const names = Object.keys(c.gw.currentConfig[SECTION[kind]]);
  const items = await Promise.all(names.map((n) => entryView(c.gw, kind, n, changes)));
  sendJson(c.res, 200, { [SECTION[kind]]: items });
}

function requireEntry(gw: Gateway, kind: AdminKind, name: string): void {
  if (!Object.hasOwn(gw.currentConfig[SECTION[kind]], name)) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No ${WORD[kind]} named "${name}"`]);
}

async function getEntry(c: Call, kind: AdminKind): Promise<void> {
  const [name] = c.params;
  requireEntry(c.gw, kind, name);
  sendJson(c.res, 200, await entryView(c.gw, kind, name, await c.gw.adminChanges.list()));
}

const ENTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Create or replace: 201 when it is new, 200 when it replaced one. The answer comes once the change is live. */
async function putEntry(c: Call, kind: AdminKind): Promise<void> {
  const [name] = c.params;
  if (!ENTRY_NAME.test(name)) throw new ApiInputError(`"${name}" is not a valid ${WORD[kind]} name`, [{ path: '(name)', message: 'letters, digits, "_", "-" and "." only, starting with a letter or digit' }]);
  const body = await readJsonBody(c.req, MAX_BODY);
  await serially(c.gw, async () => {
    const gw = c.gw;
    const section = SECTION[kind];
    const existed = Object.hasOwn(gw.currentConfig[section], name);
    // Masked secrets sent back as they were read keep their values.
    const current = existed ? (gw.currentConfig[section] as Record<string, unknown>)[name] : undefined;
    const definition = restoreRedacted(body, current) as Record<string, unknown>;
    const change: AdminChange = { kind, name, definition, updatedBy: c.principal.id, updatedAt: Date.now() };
    const next = await validated(gw, change);
    await gw.adminChanges.put(change);
    await gw.reconfigure(next);
    gw.announce('admin');
    sendJson(c.res, existed ? 200 : 201, await entryView(gw, kind, name, await gw.adminChanges.list()), existed ? {} : { location: `/admin/${kind === 'upstream' ? 'upstreams' : 'virtual-servers'}/${encodeURIComponent(name)}` });
  });
}

/** 204 once it is gone. One the file defines stays deleted (a tombstone) until the change is removed. */
async function deleteEntry(c: Call, kind: AdminKind): Promise<void> {
  const [name] = c.params;
  await serially(c.gw, async () => {
    const gw = c.gw;
    requireEntry(gw, kind, name);
    const inFile = Object.hasOwn(gw.baseConfig[SECTION[kind]], name);
    const change: AdminChange = { kind, name, definition: null, updatedBy: c.principal.id, updatedAt: Date.now() };
    const next = await validated(gw, change);
    if (inFile) await gw.adminChanges.put(change);
    else await gw.adminChanges.remove(kind, name);
    await gw.reconfigure(next);
    gw.announce('admin');
    c.res.writeHead(204).end();
  });
}

/** The effective config with `change` in place of any earlier change of its entry; a 400 naming the fields if invalid. */
async function validated(gw: Gateway, change: AdminChange) {
  const others = (await gw.adminChanges.list()).filter((x) => !(x.kind === change.kind && x.name === change.name));
  const base = overlay(gw.baseConfig, others).config;
  const result = applyChanges(base, [change]);
  if (!result.ok) throw new ApiInputError(result.message, result.fields);
  return result.config;
}

// ---- approvals ---------------------------------------------------------------------------------

function pins(gw: Gateway) {
  if (gw.pins === null) throw new GatehouseError('GH_ERR_ADMIN_UNAVAILABLE', ['Pinning is off (pinning.mode: off): there is nothing to approve']);
  return gw.pins;
}

function pendingView(p: Pending) {
  return {
    id: p.id,
    upstream: p.upstream,
    kind: p.kind,
    key: p.key,
    reason: p.reason,
    status: p.rejectedAt === null ? 'pending' : 'rejected',
    hash: p.hash,
    previousHash: p.previousHash,
    firstSeen: new Date(p.firstSeen).toISOString(),
    rejectedAt: p.rejectedAt === null ? null : new Date(p.rejectedAt).toISOString(),
    rejectedBy: p.rejectedBy,
    findings: p.findings,
  };
}

async function listApprovals(c: Call): Promise<void> {
  const upstream = c.url.searchParams.get('upstream') ?? undefined;
  const all = flag(c.url, 'all');
  const items = await pins(c.gw).pending({ upstream, includeRejected: all });
  sendJson(c.res, 200, { approvals: items.map(pendingView) });
}


async function getApproval(c: Call): Promise<void> {
  const store = pins(c.gw);
  const p = await store.getPending(c.params[0]);
  if (p === null) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No approval with id "${c.params[0]}"; GET /admin/approvals?all=true lists them`]);
  const approved = (await store.pinsOf(p.upstream)).find((pin) => pin.kind === p.kind && pin.key === p.key) ?? null;
  const before = approved === null ? '' : prettyDefinition(approved.definition);
  const after = prettyDefinition(p.definition);
  const diff = createTwoFilesPatch(approved === null ? 'nothing approved' : `approved ${approved.hash.slice(0, 12)}`, `pending ${p.hash.slice(0, 12)}`, before, after, undefined, undefined, { context: 3 });
  sendJson(c.res, 200, {
    ...pendingView(p),
    definition: p.definition,
    approved: approved === null ? null : { hash: approved.hash, definition: approved.definition, approvedBy: approved.approvedBy, approvedAt: new Date(approved.approvedAt).toISOString() },
    // Both sides pretty-printed (a side-by-side view) and the unified diff.
    before,
    after,
    diff,
  });
}

async function decide(c: Call, approve: boolean): Promise<void> {
  const store = pins(c.gw);
  const [id] = c.params;
  const p = await store.getPending(id);
  if (p === null) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No approval with id "${id}"; GET /admin/approvals?all=true lists them`]);
  if (approve) {
    const pin = await store.approve(id, c.principal.id);
    // The definition is listed again (with list_changed) before the answer: the caller sees it back at once.
    await c.gw.revet();
    c.gw.announce('approvals');
    sendJson(c.res, 200, { approved: { id, upstream: p.upstream, kind: p.kind, key: p.key, hash: pin?.hash ?? p.hash, approvedBy: c.principal.id } });
    return;
  }
  const rejected = await store.reject(id, c.principal.id);
  c.gw.announce('approvals');
  sendJson(c.res, 200, { rejected: pendingView(rejected ?? p) });
}

// ---- API keys ----------------------------------------------------------------------------------

function keyStore(gw: Gateway) {
  const store = gw.apiKeys;
  if (store === null) throw new GatehouseError('GH_ERR_ADMIN_UNAVAILABLE', ['API keys need auth (auth.enabled: true)']);
  return store;
}

function keyView(r: ApiKeyRecord, now: number) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const status = r.revokedAt !== null ? 'revoked' : r.expiresAt !== null && r.expiresAt <= now ? 'expired' : 'active';
  return { id: r.id, owner: r.owner, name: r.name, scopes: r.scopes, groups: r.groups, status, createdAt: iso(r.createdAt), expiresAt: iso(r.expiresAt), revokedAt: iso(r.revokedAt), lastUsedAt: iso(r.lastUsedAt) };
}

async function listKeys(c: Call): Promise<void> {
  const now = Date.now();
  sendJson(c.res, 200, { keys: (await keyStore(c.gw).list()).map((r) => keyView(r, now)) });
}

const word = z.string().regex(/^\S+$/, 'one word without spaces');
const newKeySchema = z.strictObject({
  owner: z.string().trim().min(1, 'who the key is for, e.g. ci-bot'),
  name: z.string().min(1).optional(),
  scopes: z.array(word).default([]),
  groups: z.array(word).default([]),
  /** A duration from now (30d, 12h) or a date (2027-01-31). */
  expires: z.string().min(1).optional(),
});

/** 201 with the key itself: the only time it is shown. */
async function createKey(c: Call): Promise<void> {
  const store = keyStore(c.gw);
  const body = parseBody(newKeySchema, await readJsonBody(c.req, MAX_BODY));
  const now = Date.now();
  let expiresAt: number | null = null;
  if (body.expires !== undefined) {
    try {
      expiresAt = parseExpiry(body.expires, now);
    } catch (err) {
      throw new ApiInputError((err as Error).message.replace('--expires', 'expires'), [{ path: 'expires', message: 'a duration like 30d, 12h or 90m, or a future date like 2027-01-31' }]);
    }
  }
  const { token, record } = await issueApiKey(store, { owner: body.owner, name: body.name ?? null, scopes: body.scopes, groups: body.groups, expiresAt, now });
  sendJson(c.res, 201, { key: token, ...keyView(record, now) }, { location: `/admin/keys/${record.id}` });
}

async function revokeKey(c: Call): Promise<void> {
  const record = await keyStore(c.gw).revoke(c.params[0], Date.now());
  if (record === null) throw new GatehouseError('GH_ERR_ADMIN_NOT_FOUND', [`No API key with id "${c.params[0]}"`]);
  sendJson(c.res, 200, keyView(record, Date.now()));
}

// ---- audit -------------------------------------------------------------------------------------

const OUTCOMES: readonly AuditOutcome[] = ['ok', 'error', 'denied'];
/** `1h` (that long ago) or an ISO date/time, as `gatehouse audit --since` takes them. */
function when(param: string, text: string, now: number): number {
  try {
    return parseWhen(param, text, now);
  } catch {
    throw new ApiInputError(`${param}: expected a duration like 1h or 7d, or a date like 2026-12-01T10:00Z, got "${text}"`, [{ path: param, message: 'a duration like 1h or 7d, or an ISO date' }]);
  }
}

async function queryAudit(c: Call): Promise<void> {
  const log = c.gw.audit;
  if (log === null) throw new GatehouseError('GH_ERR_ADMIN_UNAVAILABLE', ['The audit log is off (audit.enabled: false)']);
  const q = c.url.searchParams;
  const now = Date.now();
  const limitText = q.get('limit') ?? '100';
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 10_000) {
    throw new ApiInputError(`limit: expected a whole number from 1 to 10000, got "${limitText}"`, [{ path: 'limit', message: 'a whole number from 1 to 10000' }]);
  }
  const outcome = q.get('outcome');
  if (outcome !== null && !OUTCOMES.includes(outcome as AuditOutcome)) throw new ApiInputError(`outcome: expected ok, error or denied, got "${outcome}"`, [{ path: 'outcome', message: 'ok, error or denied' }]);
  const query: AuditQuery = {
    since: q.has('since') ? when('since', q.get('since')!, now) : undefined,
    until: q.has('until') ? when('until', q.get('until')!, now) : undefined,
    principal: q.get('principal') ?? undefined,
    tool: q.get('tool') ?? undefined,
    upstream: q.get('upstream') ?? undefined,
    outcome: (outcome ?? undefined) as AuditOutcome | undefined,
    limit: Number(limitText),
  };
  sendJson(c.res, 200, { records: await log.query(query) });
}

// ---- helpers -----------------------------------------------------------------------------------

function flag(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new ApiInputError(`${name}: expected true or false, got "${v}"`, [{ path: name, message: 'true or false' }]);
}

function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
  throw new ApiInputError(`invalid body: ${fields[0].path}: ${fields[0].message}`, fields);
}
