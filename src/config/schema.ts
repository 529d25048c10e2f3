/**
 * The configuration schema: one YAML file, validated once at load. Every key a user can write is here,
 * with its default; docs in the README's configuration reference follow this file.
 */
import { z } from 'zod';

const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration like 500ms, 30s, 5m or 1h')])
  .transform((v) => (typeof v === 'number' ? v : parseDuration(v)));

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']);
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
  maxProcesses: z.number().int().positive().default(64),
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

const common = {
  title: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).default([]),
  timeouts,
  /** Per-tool request deadline override (tool name as the upstream names it). */
  toolTimeouts: z.record(z.string(), duration).default({}),
  enabled: z.boolean().default(true),
};

export const stdioUpstreamSchema = z.strictObject({
  transport: z.literal('stdio').default('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  /** shared: one process for everyone; per-session: one per downstream session; per-user: one per principal. */
  sharing: z.enum(['shared', 'per-session', 'per-user']).default('shared'),
  pool: stdioPool,
  ...common,
});

export const httpUpstreamSchema = z.strictObject({
  transport: z.enum(['http', 'sse']).default('http'),
  url: z.url(),
  headers: z.record(z.string(), z.string()).default({}),
  /** Max keep-alive connections to this upstream. */
  connections: z.number().int().positive().default(64),
  ...common,
});

export const upstreamSchema = z.union([stdioUpstreamSchema, httpUpstreamSchema]);

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
  hideDerivedSources: z.boolean().default(false),
});

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Base path of the MCP endpoint; virtual servers are served at <path>/<name>. */
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/).default('/mcp'),
    /** Origins allowed to call the gateway from a browser (exact match, or "*"). Loopback origins are allowed when bound to loopback. */
    allowedOrigins: z.array(z.string()).default([]),
    /** Largest accepted request body. */
    maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
    /** A session with no request for this long is ended. */
    sessionIdleTimeout: duration.default(30 * 60_000),
    /** Events kept per stream for Last-Event-ID resumption. */
    resumeBuffer: z.number().int().nonnegative().default(200),
    /** SIGTERM: wait this long for in-flight calls before exiting. */
    drainTimeout: duration.default(10_000),
    /** Serve the legacy HTTP+SSE transport (2024-11-05) at /sse and /messages. */
    legacySse: z.boolean().default(true),
  }).prefault({}),
  namespacing: z.strictObject({
    mode: z.enum(['conditional', 'always', 'never']).default('conditional'),
    separator: z.string().min(1).max(4).regex(/^[A-Za-z0-9_.\-/]+$/).default('__'),
  }).prefault({}),
  upstreams: z.record(name, upstreamSchema).default({}),
  virtualServers: z.record(name, virtualServerSchema).default({}),
  logging: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
});

export type GatehouseConfig = z.output<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type StdioUpstreamConfig = z.output<typeof stdioUpstreamSchema>;
export type HttpUpstreamConfig = z.output<typeof httpUpstreamSchema>;
export type VirtualServerConfig = z.output<typeof virtualServerSchema>;
export type DerivedToolConfig = z.output<typeof derivedTool>;
export type ToolOverrideConfig = z.output<typeof toolOverride>;
