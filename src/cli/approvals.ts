/**
 * `gatehouse approvals list|show|approve|reject`: the definitions pinning keeps in quarantine (src/guard/pinning.ts),
 * read from the store file a gateway uses. An approval pins the new version; a running gateway notices within
 * `pinning.checkInterval` and lists the definition again.
 */
import { parseArgs } from 'node:util';
import { createTwoFilesPatch } from 'diff';
import { prettyDefinition } from '../guard/pinning.ts';
import type { Pending, Pin, PinStore } from '../store/pins.ts';
import { openSqlitePinStore } from '../store/sqlite/pins.ts';
import { storePath } from './keys.ts';

export const APPROVALS_HELP = `Usage:
  gatehouse approvals list [--all] [--upstream NAME] [--json]
  gatehouse approvals show ID [--json]
  gatehouse approvals approve ID [--by NAME]
  gatehouse approvals reject ID [--by NAME]

list     Definitions waiting for a decision: changed since approved, new (pinning mode approve), or flagged by the
         scanner. --all adds the rejected ones.
show     One of them, with a line diff against the approved version.
approve  Pin this version: the gateway lists it again (and tells its sessions) within pinning.checkInterval.
reject   Keep it quarantined. It stays so until the upstream serves the approved version or a new one.

Options:
  -c, --config FILE   take the store file from the config's store.path (default .gatehouse/gatehouse.db)
      --store PATH    the store file itself (overrides -c)
      --by NAME       who decides (default: $USER)
      --json          machine-readable output
`;

/** Run `gatehouse approvals …` with the arguments after `approvals`; resolves to the exit status. */
export async function runApprovals(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
      upstream: { type: 'string' },
      by: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help) {
    out.write(APPROVALS_HELP);
    return 0;
  }
  if (command !== 'list' && command !== 'show' && command !== 'approve' && command !== 'reject') {
    throw new Error(`${command ? `unknown approvals command "${command}"` : 'approvals needs a command'}\n\n${APPROVALS_HELP}`);
  }
  const expected = command === 'list' ? 0 : 1;
  if (rest.length !== expected) throw new Error(expected === 0 ? `approvals list takes no arguments, got "${rest.join(' ')}"` : `usage: gatehouse approvals ${command} ID`);
  const by = values.by ?? process.env.USER ?? 'admin';

  const store = openSqlitePinStore(await storePath(values.store, values.config));
  try {
    if (command === 'list') return await list(store, { all: values.all === true, upstream: values.upstream, json: values.json === true }, out);
    const id = rest[0];
    const pending = await store.getPending(id);
    if (pending === null) throw new Error(`no approval with id "${id}"; see gatehouse approvals list --all`);
    if (command === 'show') return await show(store, pending, values.json === true, out);
    if (command === 'approve') {
      const pin = await store.approve(id, by);
      out.write(`Approved ${describe(pending)}: pinned ${pin!.hash.slice(0, 12)} by ${by}.\n`);
      return 0;
    }
    await store.reject(id, by);
    out.write(`Rejected ${describe(pending)}: it stays quarantined.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

const KIND_WORD: Record<string, string> = { tools: 'tool', prompts: 'prompt', resources: 'resource', resourceTemplates: 'resource template' };
const describe = (p: Pending) => `${KIND_WORD[p.kind] ?? p.kind} ${p.key} of ${p.upstream}`;
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

function status(p: Pending): string {
  return p.rejectedAt === null ? p.reason : `rejected by ${p.rejectedBy} ${iso(p.rejectedAt)}`;
}

async function list(store: PinStore, options: { all: boolean; upstream: string | undefined; json: boolean }, out: NodeJS.WritableStream): Promise<number> {
  const rows = await store.pending({ includeRejected: options.all, ...(options.upstream !== undefined && { upstream: options.upstream }) });
  if (options.json) {
    out.write(`${JSON.stringify(rows.map(({ definition: _d, ...rest }) => rest), null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    out.write('Nothing waits for approval.\n');
    return 0;
  }
  const table = [['ID', 'UPSTREAM', 'KIND', 'NAME', 'STATUS', 'FIRST SEEN'], ...rows.map((p) => [p.id, p.upstream, KIND_WORD[p.kind] ?? p.kind, p.key, status(p), iso(p.firstSeen)])];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) out.write(`${r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
  out.write('\nShow one with: gatehouse approvals show ID\n');
  return 0;
}

async function show(store: PinStore, p: Pending, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const approved = (await store.pinsOf(p.upstream)).find((pin: Pin) => pin.kind === p.kind && pin.key === p.key);
  if (json) {
    out.write(`${JSON.stringify({ ...p, approved: approved ?? null }, null, 2)}\n`);
    return 0;
  }
  out.write(`${describe(p)}: ${status(p)}, first seen ${iso(p.firstSeen)}\n`);
  for (const f of p.findings as { rule?: string; severity?: string; explanation?: string }[]) {
    out.write(`  finding ${f.rule ?? '?'} (${f.severity ?? '?'}): ${f.explanation ?? ''}\n`);
  }
  const before = approved ? prettyDefinition(approved.definition) : '';
  const after = prettyDefinition(p.definition);
  const label = approved ? `approved ${approved.hash.slice(0, 12)} (${approved.approvedBy}, ${iso(approved.approvedAt)})` : 'nothing approved yet';
  out.write(createTwoFilesPatch(label, `pending ${p.hash.slice(0, 12)}`, before, after, undefined, undefined, { context: 3 }).split('\n').slice(2).join('\n'));
  out.write(`\nApprove with: gatehouse approvals approve ${p.id}   Reject with: gatehouse approvals reject ${p.id}\n`);
  return 0;
}

