/** The shapes of the portal API (src/portal/catalog-api.ts) and the admin API (src/portal/admin.ts) that the pages read. */
import type { JsonSchema } from './schema.ts';
import type { LoginConfig } from './auth.ts';

export interface Principal {
  id: string;
  kind: string;
  scopes: string[];
  groups: string[];
}

export interface Session {
  principal: Principal | null;
  admin: boolean;
  auth: { enabled: boolean; login: LoginConfig | null };
  endpoints: { mcp: string; sse: string | null };
  publicUrl: string;
}

export type Health = 'ready' | 'degraded' | 'down';

export interface ServerSummary {
  name: string;
  title: string;
  description: string;
  endpoint: string;
  sseEndpoint: string | null;
  tools: number;
  upstreams: string[];
  health: Health;
}

export interface Finding {
  rule: string;
  severity: string;
  explanation: string;
}

export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  annotations?: ToolAnnotations;
  upstream: string | null;
  verdict: 'allow' | 'warn' | 'quarantine' | null;
  findings: Finding[];
}

export interface Replica {
  replica: string | number;
  state: 'closed' | 'half-open' | 'open';
  inFlight: number;
  queued: number;
  lastError: string | null;
  [key: string]: unknown;
}

export interface UpstreamHealth {
  name: string;
  title?: string;
  status: string;
  error?: string;
  replicas: Replica[];
}

export interface ServerDetail extends ServerSummary {
  toolList: Tool[];
  upstreamList: UpstreamHealth[];
}

export interface UsageBucket {
  t: number;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Usage {
  window: string;
  bucketSeconds: number;
  /** False when the audit log (usage's source) is off. */
  audit?: boolean;
  buckets: UsageBucket[];
  topTools: { tool: string; calls: number; errors: number }[];
  topPrincipals: { principal: string; calls: number }[];
}

export interface Approval {
  id: string;
  upstream: string;
  kind: string;
  key: string;
  reason: string;
  status: 'pending' | 'rejected';
  hash: string;
  previousHash: string | null;
  firstSeen: string;
  rejectedAt: string | null;
  rejectedBy: string | null;
  findings?: Finding[];
}

export interface ApprovalDetail extends Approval {
  definition: unknown;
  approved: { hash: string; definition: unknown; approvedBy: string; approvedAt: string } | null;
  before: string;
  after: string;
  diff: string;
}

export interface ApiKey {
  id: string;
  owner: string;
  name: string | null;
  scopes: string[];
  groups: string[];
  status: 'active' | 'revoked' | 'expired';
  createdAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface AdminUpstream {
  name: string;
  source: 'file' | 'admin';
  definition: Record<string, unknown>;
  status: string;
  error?: string;
  tools: number;
  updatedBy?: string;
  updatedAt?: string;
}
