/**
 * `gatehouse audit`: query the audit log — the SQLite index in the store file merged with the JSONL records it has not
 * seen yet, or either one alone — and print a table or JSON lines. Read only: it never repairs or indexes.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { configSchema } from '../config/schema.ts';
import { AuditLog } from '../observe/audit.ts';
import { auditConfigSchema } from '../observe/audit-config.ts';
import type { AuditConfig } from '../observe/audit-config.ts';
import type { AuditOutcome, AuditQuery, AuditReadProblem, AuditRecord } from '../store/audit.ts';

export const AUDIT_HELP = `Usage:
  gatehouse audit [-c FILE | --store PATH | --jsonl PATH] [--since 1h|2026-12-01T10:00Z] [--until …]
                  [--principal P] [--tool T] [--upstream U] [--outcome ok|error|denied] [--limit N] [--json]

Print the audit log: every tools/call, prompts/get and resources/read the gateway answered or refused, with who
asked, the (redacted) arguments' preview and hash, the decision, the outcome and the latency. Oldest first.

Where the log is:
  -c, --config FILE   the config's audit.jsonl.path and store.path (defaults: .gatehouse/gatehouse.db and the
                      JSONL beside it, .gatehouse/audit/audit.jsonl)
      --store PATH    the store file (SQLite index); alone, only the index is read
      --jsonl PATH    the JSONL base path (files audit.<day>.<n>.jsonl beside it); alone, only the JSONL is read

Filters:
      --since WHEN    records from WHEN on: a duration back from now (90s, 15m, 1h, 7d, 2w) or a date or date-time
                      (2026-12-01, 2026-12-01T10:00Z; without a zone, UTC)
      --until WHEN    records up to WHEN (same forms)
      --principal P   principal id (anonymous, key:<id>, oauth:<issuer>#<subject>)
      --tool T        tool or prompt name as the virtual server lists it, or a resource URI
      --upstream U    upstream name
      --outcome O     ok, error or denied
      --limit N       the most recent N matches (default 1000; 0 = all)
      --json          one JSON record per line
`;

const OUTCOMES: readonly AuditOutcome[] = ['ok', 'error', 'denied'];
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A mistake in the command line: exit status 2. */
class UsageError extends Error {}

/** `1h` / `15m` / `7d` back from `now`, or an ISO date or date-time (UTC when it names no zone). */
export function parseWhen(flag: string, text: string, now: number): number {
  const t = text.trim();
  const m = /^(\d+)([smhdw])$/.exec(t);
  if (m) return now - Number(m[1]) * UNITS[m[2]];
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const at = Date.parse(/T[\d:.]+$/.test(t) ? `${t}Z` : t);
    if (!Number.isNaN(at)) return at;
  }
  throw new UsageError(`--${flag}: expected a duration like 1h, 15m, 7d or a date like 2026-12-01 or 2026-12-01T10:00Z, got "${text}"`);
}

/** Run `gatehouse audit …` with the arguments after `audit`; resolves to the exit status (2 for a bad command line). */
export async function runAudit(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  try {
    return await audit(argv, out, err);
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw e;
    err.write(`gatehouse audit: ${(e as Error).message}\n(gatehouse audit --help)\n`);
    return 2;
  }
}

async function audit(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
      jsonl: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      principal: { type: 'string' },
      tool: { type: 'string' },
      upstream: { type: 'string' },
      outcome: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out.write(AUDIT_HELP);
    return 0;
  }
  const now = Date.now();
  const query = toQuery(values, now);
  const { jsonlPath, storePath } = await sources(values);
  if (values.store !== undefined && !existsSync(values.store)) throw new UsageError(`--store: no store file at ${values.store}`);

  const problems: AuditReadProblem[] = [];
  const log = new AuditLog({
    readOnly: true,
    jsonl: jsonlPath === null ? null : { path: jsonlPath },
    // Never create a store file just by looking: a default path that does not exist means "no index".
    sqlitePath: storePath !== null && existsSync(storePath) ? storePath : null,
    onProblem: (p) => problems.push(p),
  });
  let records: AuditRecord[];
  try {
    records = await log.query(query);
  } finally {
    await log.close();
  }
  for (const p of problems) {
    err.write(p.reason === 'torn'
      ? `warning: ${p.file} line ${p.line}: incomplete last line (${p.bytes} bytes) — a write in progress, or cut short by a crash before its call was answered; skipped\n`
      : `warning: ${p.file} line ${p.line}: not an audit record (${p.bytes} bytes); skipped\n`);
  }
  if (values.json) {
    for (const r of records) out.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  if (records.length === 0) {
    const where = [jsonlPath === null ? null : `${jsonlPath} (JSONL)`, storePath !== null && existsSync(storePath) ? `${storePath} (index)` : null].filter(Boolean);
    out.write(`No audit records match${where.length > 0 ? ` in ${where.join(' and ')}` : ''}.\n`);
    return 0;
  }
  printTable(records, out);
  if (query.limit !== undefined && records.length === query.limit) err.write(`(the most recent ${query.limit}; --limit N for more, --limit 0 for all)\n`);
  return 0;
}

function toQuery(values: Record<string, string | boolean | undefined>, now: number): AuditQuery {
  const str = (k: string) => values[k] as string | undefined;
  const outcome = str('outcome');
  if (outcome !== undefined && !OUTCOMES.includes(outcome as AuditOutcome)) throw new UsageError(`--outcome: expected ok, error or denied, got "${outcome}"`);
  const limitText = str('limit') ?? '1000';
  if (!/^\d+$/.test(limitText)) throw new UsageError(`--limit: expected a whole number (0 = all), got "${limitText}"`);
  const limit = Number(limitText);
  const since = str('since') === undefined ? undefined : parseWhen('since', str('since')!, now);
  const until = str('until') === undefined ? undefined : parseWhen('until', str('until')!, now);
  if (since !== undefined && until !== undefined && since > until) throw new UsageError('--since is after --until');
  for (const k of ['principal', 'tool', 'upstream']) {
    if (str(k) !== undefined && str(k)!.trim() === '') throw new UsageError(`--${k} needs a value`);
  }
  return { since, until, principal: str('principal'), tool: str('tool'), upstream: str('upstream'), outcome: outcome as AuditOutcome | undefined, limit: limit === 0 ? undefined : limit };
}

/** The JSONL base path and store file to read: explicit flags win, then the config (-c), then the defaults. */
async function sources(values: { config?: string; store?: string; jsonl?: string }): Promise<{ jsonlPath: string | null; storePath: string | null }> {
  if (values.config === undefined && (values.store !== undefined || values.jsonl !== undefined)) {
    return { jsonlPath: values.jsonl ?? null, storePath: values.store ?? null };
  }
  const config = values.config === undefined ? configSchema.parse({}) : (await loadConfig(values.config)).config;
  // Parsed again so this works whether or not the config schema has an `audit` section yet (its output re-parses).
  const auditConfig: AuditConfig = auditConfigSchema.parse((config as unknown as { audit?: unknown }).audit ?? {});
  return {
    jsonlPath: values.jsonl ?? AuditLog.jsonlPath(auditConfig, config.store.path),
    storePath: values.store ?? (auditConfig.sqlite ? config.store.path : null),
  };
}

function printTable(records: readonly AuditRecord[], out: NodeJS.WritableStream): void {
  const rows = [['TIME', 'PRINCIPAL', 'SERVER', 'UPSTREAM', 'METHOD', 'TARGET', 'OUTCOME', 'MS', 'ARGS']];
  for (const r of records) {
    const outcome = r.outcome === 'denied'
      ? `denied by ${r.decision.stage ?? '?'}${r.decision.rule ? ` (${r.decision.rule})` : ''}`
      : r.outcome === 'error' ? `error ${r.errorCode ?? ''}`.trim() : 'ok';
    rows.push([r.time.replace('T', ' ').replace('Z', ''), r.principal, r.virtualServer || '-', r.upstream ?? '-', r.method, r.target ?? '-', outcome,
      r.latencyMs.toFixed(1), oneLine(r.argsPreview ?? '-', 60)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) out.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
