/**
 * The gateway's PostgreSQL (config `store.postgres`): durable records every replica shares — the audit log and the
 * admin API's changes. Versioned migrations per component, run at start and by `gatehouse migrate`, serialized
 * across replicas by an advisory lock so several starting together migrate once.
 */
import type pg from 'pg';
import { withoutPassword } from '../../core/urls.ts';

export interface PostgresConfig {
  url: string;
  /** Schema the tables live in (created if missing). */
  schema: string;
  connectTimeout: number;
}

/** Append only, per component: migrations[i] takes its tables from version i to i + 1. `{schema}` is replaced. */
export const MIGRATIONS: Record<string, readonly string[]> = {
  audit: [
    `CREATE TABLE {schema}.audit_records (
      seq BIGSERIAL PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      time TIMESTAMPTZ NOT NULL,
      principal TEXT NOT NULL,
      virtual_server TEXT NOT NULL,
      upstream TEXT,
      method TEXT NOT NULL,
      target TEXT,
      outcome TEXT NOT NULL,
      record JSONB NOT NULL
    );
    CREATE INDEX audit_records_time ON {schema}.audit_records (time);
    CREATE INDEX audit_records_principal_time ON {schema}.audit_records (principal, time);
    CREATE INDEX audit_records_target_time ON {schema}.audit_records (target, time)`,
  ],
  pins: [
    `CREATE TABLE {schema}.pins (
      upstream TEXT NOT NULL,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      hash TEXT NOT NULL,
      definition JSONB NOT NULL,
      approved_at BIGINT NOT NULL,
      approved_by TEXT NOT NULL,
      PRIMARY KEY (upstream, kind, key)
    );
    CREATE TABLE {schema}.pins_pending (
      id TEXT PRIMARY KEY,
      upstream TEXT NOT NULL,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      hash TEXT NOT NULL,
      definition JSONB NOT NULL,
      reason TEXT NOT NULL,
      previous_hash TEXT,
      first_seen BIGINT NOT NULL,
      rejected_at BIGINT,
      rejected_by TEXT,
      findings JSONB NOT NULL
    );
    CREATE INDEX pins_pending_definition ON {schema}.pins_pending (upstream, kind, key);
    CREATE SEQUENCE {schema}.pins_changes`,
  ],
  admin: [
    `CREATE TABLE {schema}.admin_changes (
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      definition JSONB,
      updated_by TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (kind, name)
    )`,
  ],
};

/** Arbitrary, fixed: the advisory lock every Gatehouse takes while migrating. */
const MIGRATION_LOCK = 0x6761_7465;

export class PostgresStore {
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly url: string;

  private constructor(Pool: typeof pg.Pool, config: PostgresConfig) {
    this.url = withoutPassword(config.url);
    this.schema = quoteIdent(config.schema);
    this.pool = new Pool({ connectionString: config.url, connectionTimeoutMillis: config.connectTimeout, max: 10 });
    this.pool.on('error', () => {}); // an idle client's error: the next query reports it
  }

  /** Connect and migrate; rejects with an error naming the URL (password masked) when PostgreSQL cannot be reached. */
  static async open(config: PostgresConfig): Promise<PostgresStore> {
    // Loaded here, not at start-up: a gateway without store.postgres never pays for the driver.
    const { default: driver } = await import('pg');
    const store = new PostgresStore(driver.Pool, config);
    try {
      await store.migrate();
    } catch (err) {
      await store.pool.end().catch(() => {});
      const what = (err as { code?: string }).code === 'ECONNREFUSED' || /connect|timeout/i.test((err as Error).message) ? 'cannot reach PostgreSQL at' : 'PostgreSQL at';
      throw new Error(`store.postgres: ${what} ${store.url}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  /** Bring every component's tables to the latest version; returns the versions applied, per component. */
  async migrate(): Promise<Record<string, { from: number; to: number }>> {
    const client = await this.pool.connect();
    const applied: Record<string, { from: number; to: number }> = {};
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
      for (const [component, steps] of Object.entries(MIGRATIONS)) {
        const row = await client.query<{ version: number }>(`SELECT version FROM ${this.schema}.schema_version WHERE component = $1`, [component]);
        const current = row.rows[0]?.version ?? 0;
        if (current > steps.length) throw new Error(`${component} tables are at schema version ${current}, newer than this gatehouse knows (${steps.length}); upgrade gatehouse`);
        for (let v = current; v < steps.length; v++) await client.query(steps[v].replaceAll('{schema}', this.schema));
        if (current !== steps.length) {
          await client.query(`INSERT INTO ${this.schema}.schema_version (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = excluded.version`, [component, steps.length]);
        }
        applied[component] = { from: current, to: steps.length };
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    return applied;
  }

  get status(): { url: string } {
    return { url: this.url };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`store.postgres.schema: "${name}" is not a plain identifier`);
  return `"${name}"`;
}

