/**
 * `gatehouse keys create|list|revoke`: manage API keys in the store file (config `store.path`, or --store). The full
 * key is printed once, at creation; nothing else ever shows or keeps it.
 */
import { parseArgs } from 'node:util';
import { API_KEY_CACHE_TTL_MS, issueApiKey } from '../auth/api-keys.ts';
import { loadConfig } from '../config/load.ts';
import { configSchema } from '../config/schema.ts';
import type { ApiKeyRecord, ApiKeyStore } from '../store/api-keys.ts';
import { openSqliteApiKeyStore } from '../store/sqlite/api-keys.ts';

export const KEYS_HELP = `Usage:
  gatehouse keys create --owner NAME [--name TEXT] [--scope S ...] [--group G ...] [--expires 30d|DATE] [--json]
  gatehouse keys list [--json]
  gatehouse keys revoke ID

create  Make a key (gh_<id>_<secret>) and print it. It is shown only this once and stored only as a hash.
        --expires takes a duration (30d, 12h, 90m, 2w) from now, or a date/time (2027-01-31, 2027-01-31T12:00Z).
list    Every key with owner, scopes, groups, expiry, last use and status. Never prints secrets.
revoke  Stop a key from working. A running gateway refuses it within ${API_KEY_CACHE_TTL_MS / 1000} s.

Options:
  -c, --config FILE   take the store file from the config's store.path (default .gatehouse/gatehouse.db)
      --store PATH    the store file itself (overrides -c)
      --json          machine-readable output
`;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d` / `12h` / `90m` / `45s` / `2w` from `now`, or an ISO date or date-time; the result must lie in the future. */
export function parseExpiry(text: string, now: number): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  const at = m ? now + Number(m[1]) * UNITS[m[2]] : /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) throw new Error(`--expires: expected a duration like 30d, 12h, 90m or a date like 2027-01-31, got "${text}"`);
  if (at <= now) throw new Error(`--expires: ${text} is not in the future`);
  return at;
}

/** Run `gatehouse keys …` with the arguments after `keys`; resolves to the exit status. */
export async function runKeys(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
      owner: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      group: { type: 'string', multiple: true },
      expires: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help) {
    out.write(KEYS_HELP);
    return 0;
  }
  if (command !== 'create' && command !== 'list' && command !== 'revoke') {
    throw new Error(`${command ? `unknown keys command "${command}"` : 'keys needs a command'}\n\n${KEYS_HELP}`);
  }
  const expected = command === 'revoke' ? 1 : 0;
  if (rest.length !== expected) throw new Error(command === 'revoke' ? 'usage: gatehouse keys revoke ID' : `keys ${command} takes no arguments, got "${rest.join(' ')}"`);
  if (command === 'create') {
    if (!values.owner?.trim()) throw new Error('keys create: --owner NAME is required (who the key is for, e.g. ci-bot)');
    for (const s of [...(values.scope ?? []), ...(values.group ?? [])]) {
      if (!/^\S+$/.test(s)) throw new Error(`keys create: a scope or group is one word without spaces, got "${s}"`);
    }
  }
  const expiresAt = values.expires === undefined ? null : parseExpiry(values.expires, Date.now());

  const store = openSqliteApiKeyStore(await storePath(values.store, values.config));
  try {
    if (command === 'create') {
      const { token, record } = await issueApiKey(store, { owner: values.owner!.trim(), name: values.name ?? null, scopes: values.scope, groups: values.group, expiresAt });
      if (values.json) out.write(`${JSON.stringify({ key: token, ...view(record, Date.now()) }, null, 2)}\n`);
      else {
        out.write(`Created API key ${record.id} for ${record.owner}${record.expiresAt === null ? '' : `, expires ${iso(record.expiresAt)}`}.\n`);
        out.write(`Copy it now; it is shown only this once:\n\n  ${token}\n\n`);
        out.write(`Send it as "Authorization: Bearer <key>". Revoke it with: gatehouse keys revoke ${record.id}\n`);
      }
      return 0;
    }
    // Awaited here, so the store closes only after the command is done with it.
    if (command === 'list') return await list(store, values.json === true, out);
    return await revoke(store, rest[0], values.json === true, out);
  } finally {
    await store.close();
  }
}

/** The store file a CLI command works on: --store, else the config's store.path, else the default. */
export async function storePath(store: string | undefined, config: string | undefined): Promise<string> {
  if (store) return store;
  // Relative paths resolve against the working directory, as they do for `gatehouse start`.
  return config ? (await loadConfig(config)).config.store.path : configSchema.parse({}).store.path;
}

async function list(store: ApiKeyStore, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const now = Date.now();
  const keys = (await store.list()).map((r) => view(r, now));
  if (json) {
    out.write(`${JSON.stringify(keys, null, 2)}\n`);
    return 0;
  }
  if (keys.length === 0) {
    out.write('No API keys. Create one with: gatehouse keys create --owner NAME\n');
    return 0;
  }
  const rows = [['ID', 'OWNER', 'NAME', 'SCOPES', 'GROUPS', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS']];
  for (const k of keys) {
    rows.push([k.id, k.owner, k.name ?? '-', k.scopes.join(',') || '-', k.groups.join(',') || '-', short(k.createdAt), short(k.expiresAt) || 'never', short(k.lastUsedAt) || 'never',
      k.status === 'revoked' ? `revoked ${short(k.revokedAt)}` : k.status]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) out.write(`${r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
  return 0;
}

async function revoke(store: ApiKeyStore, id: string, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const before = await store.get(id);
  if (!before) throw new Error(`keys revoke: no API key with id "${id}" (see gatehouse keys list)`);
  const record = (await store.revoke(id, Date.now()))!;
  if (json) out.write(`${JSON.stringify(view(record, Date.now()), null, 2)}\n`);
  else if (before.revokedAt !== null) out.write(`API key ${id} (${record.owner}) was already revoked at ${iso(record.revokedAt!)}.\n`);
  else out.write(`Revoked API key ${id} (${record.owner}). A running gateway refuses it within ${API_KEY_CACHE_TTL_MS / 1000} s.\n`);
  return 0;
}

/** What the CLI shows of a key: everything but the hash, times as ISO strings. */
function view(r: ApiKeyRecord, now: number) {
  const status = r.revokedAt !== null ? 'revoked' : r.expiresAt !== null && r.expiresAt <= now ? 'expired' : 'active';
  return {
    id: r.id,
    owner: r.owner,
    name: r.name,
    scopes: r.scopes,
    groups: r.groups,
    createdAt: iso(r.createdAt),
    expiresAt: r.expiresAt === null ? null : iso(r.expiresAt),
    lastUsedAt: r.lastUsedAt === null ? null : iso(r.lastUsedAt),
    revokedAt: r.revokedAt === null ? null : iso(r.revokedAt),
    status,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `2026-11-24 14:05` (UTC) for the table; '' for null. */
function short(isoText: string | null): string {
  return isoText === null ? '' : `${isoText.slice(0, 10)} ${isoText.slice(11, 16)}`;
}
