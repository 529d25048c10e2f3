/**
 * `gatehouse migrate -c FILE`: bring the PostgreSQL tables of store.postgres to this version's schema (the gateway
 * also does at start; run this first to migrate before a rolling upgrade, or to check the database is reachable).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { PostgresStore } from '../store/postgres/database.ts';

export const MIGRATE_HELP = `Usage: gatehouse migrate -c FILE [--json]

Migrate the PostgreSQL schema of the config's store.postgres (audit log, admin changes) to this version.
`;

export async function runMigrate(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    out.write(MIGRATE_HELP);
    return 0;
  }
  if (values.config === undefined) throw new Error(`migrate needs -c FILE\n\n${MIGRATE_HELP}`);
  const { config } = await loadConfig(values.config);
  if (config.store.postgres === undefined) throw new Error(`${values.config}: store.postgres is not set; there is nothing to migrate`);
  const db = await PostgresStore.open(config.store.postgres);
  try {
    // open() migrated; a second pass reports the versions (nothing left to apply).
    const versions = await db.migrate();
    if (values.json) out.write(`${JSON.stringify({ database: db.status.url, versions })}\n`);
    else for (const [component, v] of Object.entries(versions)) out.write(`${component}: schema version ${v.to}\n`);
    return 0;
  } finally {
    await db.close();
  }
}
