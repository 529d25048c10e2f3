/**
 * `gatehouse vault list|revoke`: what the per-user credential vault holds (principal, upstream, when, key id — never a
 * token) in the store file (config `store.path`, or --store), and removing a user's tokens for an upstream.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { configSchema } from '../config/schema.ts';
import { openSqliteVaultStore } from '../store/sqlite/vault.ts';

export const VAULT_HELP = `Usage:
  gatehouse vault list [--principal ID] [--json]
  gatehouse vault revoke --principal ID --upstream NAME

list    Every stored authorization: principal, upstream, last update, key id. Never prints tokens.
revoke  Delete a user's tokens for an upstream; their next call there asks them to authorize again.
        A running gateway drops its cached copy when the upstream refuses it, or at the token's refresh.

Options:
  -c, --config FILE   take the store file from the config's store.path (default .gatehouse/gatehouse.db)
      --store PATH    the store file itself (overrides -c)
      --json          machine-readable output
`;

/** Run `gatehouse vault …` with the arguments after `vault`; resolves to the exit status. */
export async function runVault(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
      principal: { type: 'string' },
      upstream: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out.write(VAULT_HELP);
    return 0;
  }
  const [command, ...rest] = positionals;
  if ((command !== 'list' && command !== 'revoke') || rest.length > 0) {
    throw new Error(`${command ? `unknown vault command "${[command, ...rest].join(' ')}"` : 'vault needs a command'}\n\n${VAULT_HELP}`);
  }
  if (command === 'revoke' && (!values.principal || !values.upstream)) throw new Error('usage: gatehouse vault revoke --principal ID --upstream NAME');
  const path = values.store ?? (values.config ? (await loadConfig(values.config)).config.store.path : configSchema.parse({}).store.path);
  const vault = openSqliteVaultStore(path, null);
  try {
    if (command === 'revoke') {
      const removed = await vault.delete(values.principal!, values.upstream!);
      out.write(removed ? `Revoked ${values.principal} at ${values.upstream}.\n` : `Nothing stored for ${values.principal} at ${values.upstream}.\n`);
      return removed ? 0 : 1;
    }
    const rows = await vault.list(values.principal);
    if (values.json) {
      out.write(`${JSON.stringify(rows.map((r) => ({ ...r, updatedAt: new Date(r.updatedAt).toISOString() })), null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      out.write('The vault is empty.\n');
      return 0;
    }
    for (const r of rows) out.write(`${r.principal}\t${r.upstream}\t${new Date(r.updatedAt).toISOString()}\tkey ${r.keyId}\n`);
    return 0;
  } finally {
    await vault.close();
  }
}
