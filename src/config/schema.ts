/**
 * The configuration schema: one YAML file, validated once at load. Every key a user can write is here,
 * with its default; docs in the README's configuration reference follow this file.
 */
import { z } from 'zod';
import { authConfigSchema } from '../auth/config.ts';
import { stdioAuthSchema, upstreamAuthSchema } from '../auth/credentials/config.ts';
import { policyConfigSchema, rateLimitsSchema } from '../policy/config.ts';
import { compactionOverrideSchema, compactionSchema, toolSearchOverrideSchema, toolSearchSchema } from '../optimizer/config.ts';
import { pinningSchema } from '../guard/pinning-config.ts';
import { auditConfigSchema } from '../observe/audit-config.ts';
import { resultGuardOverrideSchema, resultGuardSchema } from '../guard/config.ts';
import { scannerSchema } from '../guard/scanner/config.ts';
import { allowlistSchema, refusedCommand, refusedUrl } from '../guard/allowlist.ts';
import { suggest } from './errors.ts';

/*
 * Messages here are written as what a key should hold ("a duration like …"): the loader prints them as
 * `key: expected <message>, got <value>`.
 *
 * Values written as `${VAR}` arrive as strings, so number and boolean keys also take their string spelling
 * (`port: ${PORT:-8080}`), and string maps and lists take numbers and booleans (`env: { PORT: 3000 }`), as a
 * process environment holds only strings anyway.
 */

const DURATION = 'a duration like 500ms, 30s, 5m or 1h';

/** Milliseconds as a number, or a string with a unit; a bare number string ("500", from `${VAR}`) is milliseconds. */
const duration = z.union([
  z.number({ error: DURATION }).nonnegative({ error: DURATION }),
  z.string({ error: DURATION }).regex(/^\d+(\.\d+)?(ms|s|m|h)?$/, DURATION),
], { error: DURATION })
  .transform((v) => (typeof v === 'number' ? v : parseDuration(v)));

/** Parse `500ms`, `30s`, `5m`, `1h` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h']);
}

/** A number key that also takes "8080" (see the note at the top). */
function num<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v), schema);
}

/** A boolean key that also takes "true" / "false". */
function bool() {
  return z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
}

/** A string that also takes a number or boolean, written back as text (`PORT: 3000` means "3000"). */
const text = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string());

/** A section left empty in YAML (`upstreams:` with every entry commented out) is null: treat it as absent. */
function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => v ?? undefined, schema);
}

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "-" and "." only, starting with a letter or digit');

const timeouts = z.strictObject({
  /** Start a process / open a connection and finish initialize within this time. */
  connect: duration.default(15_000),
  /** Default per-request deadline. */
  request: duration.default(60_000),
}).prefault({});

const stdioPool = z.strictObject({
  /** Hard cap on live processes of this upstream (all sharing modes). */
  maxProcesses: num(z.number().int().positive()).default(64),
  /** A per-session / per-user process with no traffic for this long is stopped. */
  idleTimeout: duration.default(300_000),
  /** Recycle a process after this long (0 = never). */
  maxLifetime: duration.default(0),
  /** Restart backoff after a crash: first delay, doubled up to maxBackoff. */
  backoff: duration.default(250),
  maxBackoff: duration.default(30_000),
  /** Grace between SIGTERM and SIGKILL when stopping a process group. */
  killGrace: duration.default(2_000),
}).prefault({});

/** How a session's requests are spread over an upstream's replicas (src/upstream/balancer.ts). */
const balancer = z.enum(['session-affinity', 'round-robin', 'least-in-flight']).default('session-affinity');

/** Admission per replica: beyond `concurrency` requests wait in a queue of `queue`; beyond that, an overload error. */
const limits = z.strictObject({
  /** Requests in flight per replica (0 = no limit). */
  concurrency: num(z.number().int().nonnegative()).default(0),
  /** Requests waiting for a free slot per replica when at the limit. */
  queue: num(z.number().int().nonnegative()).default(64),
}).prefault({});

/** Active health checks of each replica (src/upstream/health.ts). */
const health = z.strictObject({
  /** Check every replica this often (0 = no active checks; passive detection still runs). */
  interval: duration.default(10_000),
  /** A check not answered within this counts as failed. */
  timeout: duration.default(2_000),
  /** ping, or tools/list (also proves the upstream still lists its tools). */
  check: z.enum(['ping', 'tools/list']).default('ping'),
  /** Failed checks in a row that take a replica out of rotation. */
  unhealthyThreshold: num(z.number().int().positive()).default(2),
  /** Passed checks in a row that bring it back. */
  healthyThreshold: num(z.number().int().positive()).default(1),
}).prefault({});

/** The circuit breaker of each replica: passive outlier detection with a growing ejection (src/upstream/breaker.ts). */
const breaker = z.strictObject({
  /** Transport failures or timeouts in a row that open the breaker (0 = never open). */
  consecutiveFailures: num(z.number().int().nonnegative()).default(5),
  /** How long the first opening lasts before a probe request may try; doubled on each reopening. */
  openFor: duration.default(1_000),
  /** The longest an opening lasts. */
  maxOpenFor: duration.default(30_000),
}).prefault({});

/** Repeating requests that are safe to repeat on another replica (src/upstream/retry.ts). */
const retry = z.strictObject({
  /** Further attempts after the first, each on another replica when there is one, within the request's deadline. */
  attempts: num(z.number().int().nonnegative()).default(2),
  /** Tools (the upstream's own names, globs) safe to repeat though their annotations do not say readOnlyHint or idempotentHint. */
  idempotentTools: z.array(z.string().min(1)).default([]),
}).prefault({});

const common = {
  title: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).default([]),
  timeouts,
  /** Per-tool request deadline override (tool name as the upstream names it). */
  toolTimeouts: z.record(z.string(), duration).default({}),
  enabled: bool().default(true),
  /** Tools of this upstream never exposed by the gateway (globs over the upstream's own tool names). */
  hideTools: z.array(z.string().min(1)).default([]),
  balancer,
  limits,
  health,
  breaker,
  retry,
};

export const stdioUpstreamSchema = z.strictObject({
  transport: z.literal('stdio').default('stdio'),
  command: z.string({ error: (iss) => (iss.input === undefined ? 'a command to run (or a url for an HTTP upstream)' : undefined) }).min(1),
  args: section(z.array(text).default([])),
  env: section(z.record(z.string(), text).default({})),
  cwd: z.string().optional(),
  /** shared: one process for everyone; per-session: one per downstream session; per-user: one per principal. */
  sharing: z.enum(['shared', 'per-session', 'per-user']).default('shared'),
  pool: stdioPool,
  /** Copies of the command run side by side, each a replica with its own process(es). */
  replicas: num(z.number().int().positive().max(64)).default(1),
  /** Refused with an explanation: stdio secrets go through env. */
  auth: stdioAuthSchema,
  ...common,
});

const upstreamUrl = z.url({ error: 'a URL like https://example.com/mcp' });

export const httpUpstreamSchema = z.strictObject({
  transport: z.enum(['http', 'sse']).default('http'),
  /** One URL, or a list: one replica per URL. */
  url: z.union([upstreamUrl, z.array(upstreamUrl).min(1, 'at least one URL').max(64)], { error: (iss) => (iss.input === undefined ? 'a URL (or a command for a stdio upstream)' : 'a URL like https://example.com/mcp, or a list of them (one replica each)') }),
  headers: section(z.record(z.string(), text).default({})),
  /** Max keep-alive connections to this upstream. */
  connections: num(z.number().int().positive()).default(64),
  /** MCP revision spoken upstream (streamable HTTP only). auto: initialize, and switch to the stateless 2026-07-28
   *  revision when the upstream refuses initialize listing it; the other values skip the probe. */
  protocol: z.enum(['auto', '2026-07-28', '2025-11-25']).default('auto'),
  /** The credential presented upstream (src/auth/credentials/config.ts); absent = none, never the client's token. */
  auth: upstreamAuthSchema.optional(),
  ...common,
}).superRefine((u, ctx) => {
  if (u.auth === undefined) return;
  if (u.transport === 'sse') ctx.addIssue({ code: 'custom', input: u.auth, path: ['auth'], message: 'no auth key on a legacy sse upstream: put its credential in headers' });
  else if (Object.keys(u.headers).some((k) => k.toLowerCase() === 'authorization')) ctx.addIssue({ code: 'custom', input: u.headers, path: ['headers'], message: 'no authorization header when auth is set (auth provides it)' });
});

/**
 * An upstream is stdio when it has `command`, http/sse when it has `url`. `transport` may be left out, so it is
 * filled in from which of the two is present before a discriminated union picks the branch: errors then speak
 * about the one shape the user meant instead of listing why both failed.
 */
export const upstreamSchema = z.preprocess((v, ctx) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || 'transport' in v) return v;
  if ('command' in v && 'url' in v) {
    ctx.addIssue({ code: 'custom', input: v, message: 'either a command (stdio) or a url (http, sse), not both' });
    return v;
  }
  return { transport: 'url' in v ? 'http' : 'stdio', ...v };
}, z.discriminatedUnion('transport', [stdioUpstreamSchema, httpUpstreamSchema]));

const toolOverride = z.strictObject({
  name: name.optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  descriptionAppend: z.string().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

const derivedTool = z.strictObject({
  /** The new tool's name as the virtual server lists it. */
  name,
  /** The tool it wraps, as the federated catalog names it (e.g. "everything__echo" or "echo"). */
  from: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  /** Arguments fixed to these values and removed from the schema; a caller cannot override them. */
  fixed: z.record(z.string(), z.unknown()).default({}),
  /** Arguments given these defaults (still in the schema, no longer required). */
  defaults: z.record(z.string(), z.unknown()).default({}),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

const selector = z.strictObject({
  /** Upstream names; omitted = every upstream. */
  upstreams: z.array(name).optional(),
  /** Tool-name globs over the federated names ("everything__get-*"); omitted = all tools. */
  tools: z.array(z.string()).optional(),
  /** Upstream tags; an upstream matches when it has any of them. */
  tags: z.array(z.string()).optional(),
  /** Tool-name globs to leave out. */
  excludeTools: z.array(z.string()).optional(),
});

export const virtualServerSchema = z.strictObject({
  title: z.string().optional(),
  description: z.string().optional(),
  /** The selection; several entries are united. Omitted = the whole catalog. */
  include: z.array(selector).optional(),
  /** Per-tool overrides keyed by the federated tool name. */
  tools: z.record(z.string(), toolOverride).default({}),
  derived: z.array(derivedTool).default([]),
  /** Hide the original of a derived tool (default: keep it when the selection includes it). */
  hideDerivedSources: bool().default(false),
  /** Search mode for this virtual server (src/optimizer/config.ts); keys given replace the top-level ones. */
  toolSearch: toolSearchOverrideSchema,
  /** Compaction of tool definitions (src/optimizer/compaction.ts); keys given replace the top-level ones. */
  compaction: compactionOverrideSchema,
  /** The result guard (src/guard/config.ts); keys given replace the top-level ones. */
  resultGuard: resultGuardOverrideSchema,
});

export const configSchema = z.strictObject({
  server: section(z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: num(z.number().int().min(0).max(65535)).default(8080),
    /** Base path of the MCP endpoint; virtual servers are served at <path>/<name>. */
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/, 'a path like /mcp (letters, digits, "/", "_" and "-")').default('/mcp'),
    /** Origins allowed to call the gateway from a browser (exact match, or "*"). Loopback origins are allowed when bound to loopback. */
    allowedOrigins: z.array(z.string()).default([]),
    /** Host header names accepted besides loopback ones when bound to loopback (DNS-rebinding protection); "*" = any. */
    allowedHosts: z.array(z.string()).default([]),
    /** How a tools/call POST is answered: `sse` (a resumable stream with a priming event) or `json` (plain JSON, upgraded to SSE only when the call streams). */
    callResponse: z.enum(['sse', 'json']).default('sse'),
    /** Items per page of the gateway's own tools/prompts/resources lists (0 = no pagination). */
    pageSize: num(z.number().int().nonnegative()).default(0),
    /** Largest accepted request body. */
    maxBodyBytes: num(z.number().int().positive()).default(4 * 1024 * 1024),
    /** A session with no request for this long is ended. */
    sessionIdleTimeout: duration.default(30 * 60_000),
    /** Events kept per stream for Last-Event-ID resumption. */
    resumeBuffer: num(z.number().int().nonnegative()).default(200),
    /** SIGTERM: wait this long for in-flight calls before exiting. */
    drainTimeout: duration.default(10_000),
    /** Serve the legacy HTTP+SSE transport (2024-11-05) at /sse and /messages. */
    legacySse: bool().default(true),
    /** Serve Prometheus metrics at GET /metrics (on the gateway's own port: restrict it at the network edge). */
    metrics: bool().default(true),
  }).prefault({})),
  namespacing: section(z.strictObject({
    mode: z.enum(['conditional', 'always', 'never']).default('conditional'),
    separator: z.string().min(1).max(4).regex(/^[A-Za-z0-9_.\-/]+$/, 'letters, digits, "_", ".", "-" or "/"').default('__'),
  }).prefault({})),
  upstreams: section(z.record(name, upstreamSchema).default({})),
  virtualServers: section(z.record(name, virtualServerSchema).default({})),
  logging: section(z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({})),
  /**
   * Sealed session ids (src/session/seal.ts): every replica given the same keys serves every session. Without keys,
   * each process seals with a random key of its own (sessions stay on the replica that made them).
   */
  sessions: section(z.strictObject({
    /** The first key seals, all of them open: add the new key first, drop the old one after `maxAge`. */
    keys: z.array(z.strictObject({
      id: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, '1-16 letters, digits, "_" or "-"'),
      secret: z.string().refine((k) => Buffer.from(k.trim(), 'base64').length === 32, '32 bytes in base64 (openssl rand -base64 32), e.g. "${file:/run/secrets/session-key}"'),
    })).default([]),
    /** How long a session id is accepted after it was issued. */
    maxAge: duration.default(86_400_000),
  }).prefault({})),
  /** The web portal (web/, served at `path`) and its read API (src/portal/catalog-api.ts). */
  portal: section(z.strictObject({
    enabled: bool().default(true),
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, 'a path like /portal').default('/portal'),
    /** Sign-in with the IdP in the browser (authorization code + PKCE): a public client registered there. */
    login: z.strictObject({
      issuer: z.url({ error: 'the issuer URL of the IdP, e.g. https://login.example.com/realms/acme' }),
      clientId: z.string().min(1),
      scopes: z.array(z.string().min(1)).default(['openid']),
    }).optional(),
  }).prefault({})),
  /** The admin API (src/portal/admin.ts): who is an admin, and where its changes are kept. */
  admin: section(z.strictObject({
    enabled: bool().default(true),
    /** A principal (OAuth token or API key) with any of these scopes is an admin. */
    scopes: z.array(z.string().min(1)).default(['gatehouse:admin']),
    /** … or in any of these groups (the token's groups claim, an API key's groups). */
    groups: z.array(z.string().min(1)).default(['gatehouse-admins']),
    /** sqlite: changes persist in the file of store.path; postgres: in store.postgres, shared by every replica; memory: until the gateway stops. */
    store: z.enum(['sqlite', 'postgres', 'memory']).default('sqlite'),
  }).prefault({})),
  /** OpenTelemetry spans of the request path (src/observe/tracing.ts), exported over OTLP/HTTP; off without `endpoint`. */
  tracing: section(z.strictObject({
    /** The collector's OTLP/HTTP traces URL (JSON encoding), e.g. http://otel-collector:4318/v1/traces. */
    endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://otel-collector:4318/v1/traces' }).optional(),
    /** Sent with every export, e.g. a hosted backend's API key: { x-api-key: "${OTEL_KEY}" }. */
    headers: z.record(z.string(), text).default({}),
    serviceName: z.string().min(1).default('gatehouse'),
    /** Fraction of new traces recorded (0..1); a client's sampling decision is followed either way. */
    sampleRatio: num(z.number().min(0).max(1)).default(1),
    exportTimeout: duration.default(10_000),
  }).prefault({})),
  /** How clients authenticate (src/auth/config.ts). */
  auth: section(authConfigSchema),
  /** Who may see and call what (src/policy/config.ts). */
  policy: section(policyConfigSchema),
  rateLimits: section(rateLimitsSchema),
  /** Search mode (src/optimizer/config.ts) of the default endpoint, and the default of every virtual server. */
  toolSearch: section(toolSearchSchema),
  /** Compaction of tool definitions (src/optimizer/compaction.ts) of the default endpoint, and every virtual server's default. */
  compaction: section(compactionSchema),
  /** Scanning and redaction of results before they reach the client (src/guard/config.ts). */
  resultGuard: section(resultGuardSchema),
  /** Which upstreams may be registered, and the SSRF guard (src/guard/allowlist.ts). */
  allowlist: section(allowlistSchema),
  /** The tool-poisoning scanner run on every listed definition (src/guard/scanner/config.ts). */
  scanner: section(scannerSchema),
  /** Pinned definitions and approvals (src/guard/pinning-config.ts). */
  pinning: section(pinningSchema),
  /** The audit log of calls and denials (src/observe/audit-config.ts). */
  audit: section(auditConfigSchema),
  /** Durable local state (API keys, vault): an SQLite file. */
  store: section(z.strictObject({
    path: z.string().min(1).default('.gatehouse/gatehouse.db'),
    /** Shared state of several replicas (src/store/redis): rate-limit buckets, ended sessions, events between replicas. */
    redis: z.strictObject({
      url: z.url({ protocol: /^rediss?$/, error: 'a Redis URL such as redis://127.0.0.1:6379 (rediss:// for TLS)' }),
      keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]*$/, 'letters, digits, ":", "_", "." and "-"').default('gatehouse:'),
      connectTimeout: duration.default(5_000),
    }).optional(),
    /** Durable records every replica shares (src/store/postgres): the audit log (audit.store) and admin changes (admin.store). */
    postgres: z.strictObject({
      url: z.url({ protocol: /^postgres(ql)?$/, error: 'a PostgreSQL URL such as postgres://gatehouse@db:5432/gatehouse' }),
      schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a plain identifier like public or gatehouse').default('public'),
      connectTimeout: duration.default(5_000),
    }).optional(),
  }).prefault({})),
  /** The per-user credential vault (upstreams with `auth: { type: oauth, approval: user }`): rows in the SQLite
   *  file of `store.path`, sealed with AES-256-GCM under `key` (32 bytes, base64: `openssl rand -base64 32`). */
  vault: section(z.strictObject({
    key: z.string().refine((k) => Buffer.from(k.trim(), 'base64').length === 32, '32 bytes in base64 (openssl rand -base64 32), e.g. "${file:/run/secrets/vault-key}"'),
  }).optional()),
}).superRefine((config, ctx) => {
  // A PostgreSQL-backed record needs the database.
  if (config.store.postgres === undefined) {
    if (config.audit.store === 'postgres') ctx.addIssue({ code: 'custom', path: ['audit', 'store'], message: 'audit.store postgres needs store.postgres.url' });
    if (config.pinning.store === 'postgres') ctx.addIssue({ code: 'custom', path: ['pinning', 'store'], message: 'pinning.store postgres needs store.postgres.url' });
    if (config.admin.store === 'postgres') ctx.addIssue({ code: 'custom', path: ['admin', 'store'], message: 'admin.store postgres needs store.postgres.url' });
  }
  // A per-user OAuth upstream keeps its users' tokens in the vault: no key, no vault.
  if (config.vault === undefined) {
    for (const [name, u] of Object.entries(config.upstreams)) {
      if (u.transport !== 'http' || u.auth?.type !== 'oauth' || u.auth.approval !== 'user') continue;
      ctx.addIssue({ code: 'custom', path: ['upstreams', name, 'auth', 'approval'], message: 'approval "user" keeps each user\'s tokens in the credential vault: set the top-level vault.key (32 bytes, base64)' });
    }
  }
  // Upstreams outside the allowlist (or pointing at metadata addresses) are refused where they are written.
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (u.transport === 'stdio') {
      const why = refusedCommand(u.command, config.allowlist);
      if (why !== null) ctx.addIssue({ code: 'custom', input: u.command, path: ['upstreams', name, 'command'], message: `an upstream the allowlist admits: ${why}` });
      continue;
    }
    upstreamUrls(u).forEach((url, i) => {
      const why = refusedUrl(url, config.allowlist);
      if (why !== null) ctx.addIssue({ code: 'custom', input: url, path: ['upstreams', name, 'url', ...(Array.isArray(u.url) ? [i] : [])], message: `an upstream the allowlist admits: ${why}` });
    });
  }
  // A virtual server that asks for the hybrid ranker needs an embedder, its own or the top-level one.
  for (const [vsName, vs] of Object.entries(config.virtualServers)) {
    if (vs.toolSearch?.ranker !== 'hybrid' || (vs.toolSearch.embedder ?? config.toolSearch.embedder) !== undefined) continue;
    ctx.addIssue({ code: 'custom', path: ['virtualServers', vsName, 'toolSearch', 'ranker'], input: 'hybrid', message: 'an embedder for ranker: hybrid, here or under the top-level toolSearch (embedder: { kind: local }), or ranker: bm25' });
  }
  // A virtual server selecting an upstream that does not exist is a typo, not an empty selection.
  const known = Object.keys(config.upstreams);
  for (const [vsName, vs] of Object.entries(config.virtualServers)) {
    vs.include?.forEach((selector, i) => selector.upstreams?.forEach((upstream, j) => {
      if (known.includes(upstream)) return;
      ctx.addIssue({
        code: 'custom',
        input: upstream,
        path: ['virtualServers', vsName, 'include', i, 'upstreams', j],
        message: 'the name of an upstream defined under upstreams',
        params: { suggestion: suggest(upstream, known) },
      });
    }));
  }
});

export type GatehouseConfig = z.output<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;

/** The replicas' URLs of an HTTP / SSE upstream (`url` is one URL or a list). */
export function upstreamUrls(config: HttpUpstreamConfig): string[] {
  return typeof config.url === 'string' ? [config.url] : config.url;
}

/** The URL of a one-replica HTTP config (what a transport connects to); a list here is a wiring error. */
export function replicaUrl(config: HttpUpstreamConfig): string {
  if (typeof config.url !== 'string') throw new Error('a transport connects to one replica: pass the replica\'s own config');
  return config.url;
}
export type StdioUpstreamConfig = z.output<typeof stdioUpstreamSchema>;
export type HttpUpstreamConfig = z.output<typeof httpUpstreamSchema>;
export type VirtualServerConfig = z.output<typeof virtualServerSchema>;
export type DerivedToolConfig = z.output<typeof derivedTool>;
export type ToolOverrideConfig = z.output<typeof toolOverride>;
