/**
 * The audit store's contract (issue 4): one record per served call or denial, appended and never changed. Backends:
 * jsonl/audit.ts (the durable primary, group commit), sqlite/audit.ts (an index for queries), memory/audit.ts (tests).
 */

/** How the guard pipeline decided: `stage` (and `rule`, when the stage names one) that refused, or null when allowed. */
export interface AuditDecision {
  readonly allowed: boolean;
  readonly stage: string | null;
  readonly rule: string | null;
  /** Request or response phase of the refusing stage. */
  readonly phase?: 'request' | 'response';
}

/** Something a stage noticed about the call (a redacted secret, a poisoning verdict, …). */
export interface AuditFinding {
  readonly stage: string;
  readonly kind: string;
  readonly detail?: string;
}

export type AuditOutcome = 'ok' | 'error' | 'denied';

/** One line of the audit log. Times are ISO 8601 (UTC); `time` is when the call arrived. */
export interface AuditRecord {
  readonly time: string;
  /** Unique per record (time-ordered random id). */
  readonly id: string;
  readonly principal: string;
  readonly session: string | null;
  readonly virtualServer: string;
  readonly upstream: string | null;
  readonly method: string;
  /** The tool or prompt name as the virtual server lists it, or the resource URI. */
  readonly target: string | null;
  /** The client's JSON-RPC id, to match a record to a request. */
  readonly requestId: string | number | null;
  /** The arguments after redaction, as JSON, cut to the configured length. */
  readonly argsPreview: string | null;
  /** Hex SHA-256 (or HMAC-SHA-256 with `hashKey`) of the canonical JSON of the unredacted arguments. */
  readonly argsHash: string | null;
  readonly decision: AuditDecision;
  readonly findings: readonly AuditFinding[];
  readonly latencyMs: number;
  readonly outcome: AuditOutcome;
  /** GH_ERR_… code, an upstream's JSON-RPC code as text, or `tool-error` for a result with isError. */
  readonly errorCode: string | null;
  readonly error: string | null;
}

/** What `query` selects; every field narrows, all are optional. Times are milliseconds since the epoch. */
export interface AuditQuery {
  readonly since?: number;
  readonly until?: number;
  readonly principal?: string;
  /** Matches `target` exactly. */
  readonly tool?: string;
  readonly upstream?: string;
  readonly outcome?: AuditOutcome;
  /** The most recent `limit` matches (still returned oldest first). */
  readonly limit?: number;
}

export interface AuditStore {
  /** Resolves once the record is as durable as the backend promises (see store/README.md, "Audit log"). */
  append(record: AuditRecord): Promise<void>;
  /** Matching records, oldest first. */
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** Flush what is pending and release the backend. */
  close(): Promise<void>;
}

/** A torn or unreadable line met while reading a JSONL file back (a crash mid-write, a power loss). */
export interface AuditReadProblem {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly bytes: number;
  readonly reason: 'torn' | 'invalid';
}

/** True when `record` passes every filter of `q` except `limit` (shared by the backends that filter in code). */
export function matchesQuery(record: AuditRecord, q: AuditQuery, timeMs = Date.parse(record.time)): boolean {
  if (q.since !== undefined && timeMs < q.since) return false;
  if (q.until !== undefined && timeMs > q.until) return false;
  if (q.principal !== undefined && record.principal !== q.principal) return false;
  if (q.tool !== undefined && record.target !== q.tool) return false;
  if (q.upstream !== undefined && record.upstream !== q.upstream) return false;
  if (q.outcome !== undefined && record.outcome !== q.outcome) return false;
  return true;
}

/** Sort oldest first (ties by id, which is time-ordered) and keep the last `limit`. */
export function newestLast(records: AuditRecord[], limit: number | undefined): AuditRecord[] {
  records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return limit !== undefined && records.length > limit ? records.slice(records.length - limit) : records;
}
