#!/usr/bin/env node
/**
 * The `gatehouse` command: start the gateway, check a config, print the version.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { configSchema } from '../config/schema.ts';
import { authConfigSchema } from '../auth/config.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { watchConfig } from '../config/watch.ts';
import { Gateway } from '../gateway.ts';
import { VERSION } from '../version.ts';
import { parseUpstreamFlags } from './adhoc.ts';
import { startDemo } from './demo.ts';

const HELP = `gatehouse ${VERSION} — an MCP gateway

Usage:
  gatehouse start [-c FILE] [--port N] [--host H] [--upstream NAME=COMMAND_OR_URL ...]
                  [--auth-issuer URL [--public-url URL] [--auth-scope S ...]] [--tool-search]
  gatehouse check -c FILE
  gatehouse keys create|list|revoke ...   (gatehouse keys --help)
  gatehouse vault list|revoke ...         (gatehouse vault --help)
  gatehouse policy explain -c FILE --principal JSON --tool NAME   (gatehouse policy --help)
  gatehouse approvals list|show|approve|reject ...   (gatehouse approvals --help)
  gatehouse scan -c FILE | --url URL | --command CMD | --file F [--json|--sarif] [--fail-on S]   (gatehouse scan --help)
  gatehouse audit [--since 1h] [--principal P] [--tool T] [--outcome O] [--json] ...   (gatehouse audit --help)
  gatehouse migrate -c FILE               migrate the PostgreSQL schema of store.postgres
  gatehouse --version | --help

start   Run the gateway. With -c, serve that config (YAML, or a desktop client's mcpServers JSON) and reload
        it on change or SIGHUP. With --upstream (repeatable), serve those upstreams without a config file:
          --upstream everything="npx -y @modelcontextprotocol/server-everything"
          --upstream remote=https://example.com/mcp      (streamable HTTP; a path ending in /sse = legacy SSE)
        The same NAME given again adds a replica: another URL, or another copy of the same command.
        With neither, run the built-in demo (example servers plus server-everything).
check   Validate a config, start its upstreams, print the resolved catalog of every virtual server, exit.
        Exit status 1 when the config is invalid or an upstream cannot start.
keys    Create, list and revoke API keys in the store file (config store.path, or --store PATH).
vault   List and revoke users' upstream authorizations (auth: { type: oauth, approval: user }).
policy  explain: print what the config's policy decides for a principal and a tool, and which rule decided.
approvals  Review definitions that pinning quarantined (changed, new, or flagged) and approve or reject them.
scan    Scan tool, prompt and resource definitions for poisoning (a config's servers, a live server, or a file).
audit   Print the audit log (every call and denial) from the JSONL files and the store file's index.

Options:
  -c, --config FILE      config file
  -p, --port N           listen port (default 8080; 0 picks a free port)
      --host H           listen address (default 127.0.0.1)
  -u, --upstream SPEC    NAME=COMMAND_OR_URL, repeatable
      --log-level L      fatal|error|warn|info|debug|trace|silent
      --auth-issuer URL  require OAuth access tokens from this authorization server (the gateway becomes an
                         OAuth 2.1 resource server; tokens must name the MCP endpoint's URL as audience)
      --public-url URL   the gateway's public origin (default http://<host>:<port>)
      --auth-scope S     a scope every token must carry, repeatable
      --tool-search      search mode: list only pinned tools plus search_tools and call_tool (config toolSearch)
      --store URL        share state with the other replicas in Redis (redis://host:port; config store.redis)
      --session-key-file F  seal session ids with the 32-byte key in F (base64): processes started with the same
                         file serve each other's sessions (config sessions.keys)
  -h, --help             this help
  -v, --version          print the version
`;

async function main(argv: string[]): Promise<number> {
  // `keys` has options of its own (--owner, --scope, …): it parses its arguments itself.
  // Each command's module is loaded when it runs: `start` does not pay for the scanner's MCP client and the rest.
  if (argv[0] === 'keys') return (await import('./keys.ts')).runKeys(argv.slice(1));
  if (argv[0] === 'vault') return (await import('./vault.ts')).runVault(argv.slice(1));
  if (argv[0] === 'policy') return (await import('./policy.ts')).policyCommand(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'approvals') return (await import('./approvals.ts')).runApprovals(argv.slice(1));
  if (argv[0] === 'scan') return (await import('./scan.ts')).runScan(argv.slice(1));
  if (argv[0] === 'audit') return (await import('./audit.ts')).runAudit(argv.slice(1));
  if (argv[0] === 'migrate') return (await import('./migrate.ts')).runMigrate(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      upstream: { type: 'string', short: 'u', multiple: true },
      'log-level': { type: 'string' },
      'auth-issuer': { type: 'string' },
      'public-url': { type: 'string' },
      'auth-scope': { type: 'string', multiple: true },
      'tool-search': { type: 'boolean' },
      'session-key-file': { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 1;
  }
  if (command !== 'start' && command !== 'check') {
    process.stderr.write(`gatehouse: unknown command "${command}"\n\n${HELP}`);
    return 1;
  }
  if (command === 'check' && !values.config) {
    process.stderr.write('gatehouse check: -c FILE is required\n');
    return 1;
  }

  let file: string | null = null;
  let base: GatehouseConfig;
  let stopDemo = () => {};
  if (values.config) {
    const loaded = await loadConfig(values.config);
    file = loaded.file;
    base = loaded.config;
  } else if (values.upstream?.length) {
    // The same NAME given again adds a replica of that upstream (another URL, or another copy of the command).
    const upstreams = parseUpstreamFlags(values.upstream);
    base = configSchema.parse({ upstreams, pinning: { store: 'memory' }, admin: { store: 'memory' }, audit: { enabled: false } });
  } else {
    const demo = await startDemo();
    stopDemo = demo.stop;
    base = configSchema.parse({ upstreams: demo.upstreams, virtualServers: demo.virtualServers, pinning: { store: 'memory' }, admin: { store: 'memory' }, audit: { enabled: false } });
  }
  const config = withOverrides(base, values, command === 'check');
  const logger = pino({ level: (values['log-level'] as string | undefined) ?? config.logging.level, base: undefined }, pino.destination(2));
  const gateway = new Gateway(config, logger);
  const url = await gateway.start();

  if (command === 'check') {
    const report = checkReport(gateway, config);
    await gateway.close();
    stopDemo();
    process.stdout.write(report.text);
    return report.ok ? 0 : 1;
  }

  process.stdout.write(`gatehouse listening on ${url}\n`);
  const watcher = file
    ? watchConfig(
        file,
        (next) => {
          const applied = withOverrides(next.config, values, false);
          gateway.reload(applied).then(
            (changes) => logger.info({ changes }, 'config reloaded'),
            (err: Error) => logger.error({ err: err.message }, 'applying the reloaded config failed'),
          );
        },
        (err) => logger.error({ err: err.message }, 'config reload rejected; keeping the previous config'),
      )
    : null;

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining');
      watcher?.close();
      gateway.drain().finally(() => {
        stopDemo();
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

interface Overrides {
  port?: string;
  host?: string;
  'auth-issuer'?: string;
  'public-url'?: string;
  'auth-scope'?: string[];
  'tool-search'?: boolean;
  'session-key-file'?: string;
  store?: string;
}

function withOverrides(config: GatehouseConfig, values: Overrides, check: boolean): GatehouseConfig {
  const server = { ...config.server };
  let auth = config.auth;
  if (values['auth-issuer'] !== undefined) {
    for (const flag of ['auth-issuer', 'public-url'] as const) {
      if (values[flag] !== undefined && !URL.canParse(values[flag])) throw new Error(`--${flag} must be a URL, got "${values[flag]}"`);
    }
    auth = authConfigSchema.parse({
      ...config.auth,
      enabled: true,
      issuers: [{ issuer: values['auth-issuer'] }],
      publicUrl: values['public-url'] ?? config.auth.publicUrl,
      scopes: values['auth-scope']?.flatMap((s) => s.split(/[\s,]+/).filter(Boolean)) ?? config.auth.scopes,
    });
  } else if (values['public-url'] !== undefined || values['auth-scope'] !== undefined) {
    throw new Error('--public-url and --auth-scope need --auth-issuer');
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got "${values.port}"`);
    server.port = port;
  }
  if (values.host !== undefined) server.host = values.host;
  if (check) {
    server.port = 0;
    server.host = '127.0.0.1';
  }
  // Ad-hoc search mode: the default endpoint (and virtual servers that do not set their own mode) list pinned tools
  // plus search_tools and call_tool.
  const toolSearch = values['tool-search'] ? { ...config.toolSearch, mode: 'search' as const } : config.toolSearch;
  // `check` looks, it does not approve: pinning on first sight there would pin without anyone serving.
  const pinning = check ? { ...config.pinning, store: 'memory' as const } : config.pinning;
  // `check` serves no calls: nothing to audit, and no audit files to create.
  const audit = check ? { ...config.audit, enabled: false } : config.audit;
  // `check` changes nothing, so it reads no admin store either (and creates no store file): the file is what it checks.
  const admin = check && config.admin.store === 'sqlite' ? { ...config.admin, store: 'memory' as const } : config.admin;
  const sessions = values['session-key-file'] === undefined ? config.sessions : { ...config.sessions, keys: [sessionKeyFromFile(values['session-key-file'])] };
  let store = config.store;
  if (values.store !== undefined) {
    if (!/^rediss?:\/\//.test(values.store) || !URL.canParse(values.store)) throw new Error(`--store must be a Redis URL such as redis://127.0.0.1:6379, got "${values.store}"`);
    store = { ...config.store, redis: { url: values.store, keyPrefix: config.store.redis?.keyPrefix ?? 'gatehouse:', connectTimeout: config.store.redis?.connectTimeout ?? 5_000 } };
  }
  return { ...config, server, auth, toolSearch, pinning, audit, admin, sessions, store };
}

/** `--session-key-file F`: 32 bytes in base64 (or raw) in F; processes given the same file serve each other's sessions. */
function sessionKeyFromFile(file: string): { id: string; secret: string } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new Error(`--session-key-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const text = raw.toString('utf8').trim();
  const secret = raw.length === 32 ? raw : Buffer.from(text, 'base64');
  if (secret.length !== 32) throw new Error(`--session-key-file: ${file} must hold 32 bytes, in base64 (openssl rand -base64 32 > ${file}) or raw; it holds ${secret.length}`);
  return { id: 'file', secret: secret.toString('base64') };
}

function checkReport(gateway: Gateway, config: GatehouseConfig): { ok: boolean; text: string } {
  let ok = true;
  const lines: string[] = [];
  const readiness = gateway.readiness();
  lines.push('Upstreams:');
  for (const [name, r] of Object.entries(readiness.upstreams)) {
    const entry = gateway.catalog.entries.get(name);
    if (r.status !== 'ready') ok = false;
    lines.push(`  ${name}: ${r.status}${r.error ? ` — ${r.error}` : ''}${entry?.status === 'ready' ? ` (${entry.tools.length} tools, ${entry.prompts.length} prompts, ${entry.resources.length} resources, ${entry.resourceTemplates.length} templates)` : ''}`);
  }
  for (const name of ['', ...Object.keys(config.virtualServers)]) {
    const view = gateway.view(name)!;
    lines.push('', name === '' ? `Default endpoint ${config.server.path}:` : `Virtual server "${name}" (${config.server.path}/${name}):`);
    lines.push(`  tools (${view.tools.length}): ${view.tools.map((t) => t.name).join(', ') || '-'}`);
    lines.push(`  prompts (${view.prompts.length}): ${view.prompts.map((p) => p.name).join(', ') || '-'}`);
    lines.push(`  resources: ${view.resources.length}, templates: ${view.resourceTemplates.length}`);
    for (const w of view.warnings) lines.push(`  warning: ${w}`);
  }
  return { ok, text: `${lines.join('\n')}\n` };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`gatehouse: ${err.message}\n`);
    process.exit(1);
  },
);
