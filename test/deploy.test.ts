/**
 * The deployment files stay true to the code, without Docker or a cluster: the Dockerfile's stages, user, health
 * check, entry point and copied paths; the image's default config (deploy/gatehouse.yaml) validated by the gateway's
 * own loader; the Helm chart's values, the config it renders and the values its templates use. (`helm lint --strict`
 * and `helm template` were run on the chart by hand: there is no helm package for this machine.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../src/config/load.ts';
import { parseDuration, type GatehouseConfig } from '../src/config/schema.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const CHART = 'deploy/helm/gatehouse';
const SESSION_KEY = Buffer.alloc(32, 7).toString('base64');
const pkg = JSON.parse(read('package.json')) as { version: string };

// ---- Dockerfile -------------------------------------------------------------------------------------------------

interface Instruction { op: string; args: string }
interface Stage { image: string; name: string; instructions: Instruction[] }

/** Instructions grouped by stage: comments dropped, `\` continuations joined. */
function dockerStages(text: string): Stage[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `FROM ${args}`);
      stages.push({ image: from[1], name: from[2] ?? String(stages.length), instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before any FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const last = (stage: Stage, op: string) => all(stage, op).at(-1);

/** `COPY [--from=x] [--chown=…] src… dest`: the sources and the destination. */
function copies(stage: Stage): { from: string | undefined; sources: string[]; dest: string }[] {
  return all(stage, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
  });
}

/** The .dockerignore patterns (Go filepath.Match globs, `**` for any directories), as regexps over a path. */
function dockerignore(): RegExp[] {
  return read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((p) => {
    assert.ok(!p.startsWith('!'), 'no exceptions: every copied path is simply not ignored');
    const body = p.replace(/\/$/, '').split('/').map((part) => (part === '**' ? '(?:.*/)?' : `${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`)).join('');
    return new RegExp(`^${body.replace(/\/$/, '')}(?:/|$)`);
  });
}

describe('Dockerfile', () => {
  const stages = dockerStages(read('Dockerfile'));
  const build = stages.find((s) => s.name === 'build')!;
  const runtime = stages.at(-1)!;

  it('builds on the official Node 24 slim image and runs on it', () => {
    assert.deepEqual(stages.map((s) => [s.name, s.image]), [['build', 'node:24-bookworm-slim'], ['runtime', 'node:24-bookworm-slim']]);
  });

  it('installs, builds the portal and prunes the dev dependencies in the build stage', () => {
    const runs = all(build, 'RUN').join(' && ');
    const order = ['npm ci', 'npm run build --if-present', 'npm prune --omit=dev'].map((step) => runs.indexOf(step));
    assert.ok(order.every((i) => i >= 0), `build stage runs ${runs}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'in this order');
    // The "node" devDependency is the development machine's pinned binary; the image runs its own.
    assert.ok(all(runtime, 'RUN').every((r) => !/\bnpm\b/.test(r)), 'nothing is installed in the runtime stage');
  });

  it('copies only what runs into the runtime stage, from the build stage', () => {
    const runtimeCopies = copies(runtime);
    const fromBuild = runtimeCopies.filter((c) => c.from === 'build').flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '').replace(/\/$/, '')));
    assert.deepEqual(new Set(fromBuild), new Set(['package.json', 'node_modules', 'bin', 'dist', 'examples', 'web/dist']));
    // What the build stage holds: copied from the context, or made there (node_modules by npm ci, web/dist and dist by the build).
    const built = new Set(copies(build).flatMap((c) => (c.dest === './' ? c.sources : [c.dest])).map((p) => p.replace(/\/$/, '')));
    for (const path of fromBuild) assert.ok(built.has(path) || ['node_modules', 'web/dist', 'dist'].includes(path), `${path} exists in the build stage`);
    assert.ok(all(build, 'RUN').some((r) => r.includes('mkdir -p web/dist')), 'web/dist exists even without a build script');
  });

  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    const ignored = dockerignore();
    for (const c of stages.flatMap(copies).filter((c) => c.from === undefined)) {
      for (const source of c.sources) {
        const path = source.replace(/\/$/, '');
        assert.ok(existsSync(join(ROOT, path)), `${path} exists in the repository`);
        assert.ok(!ignored.some((re) => re.test(path)), `${path} is not in .dockerignore`);
      }
    }
    for (const path of ['node_modules', 'bench/node_modules', 'web/node_modules', '.git', '.gatehouse', 'web/dist', 'dist', 'test-results', 'docs/screenshots']) {
      assert.ok(ignored.some((re) => re.test(path)), `.dockerignore leaves out ${path}`);
    }
  });

  it('runs as uid 10001 in /app with a data volume, the config file and the gateway as entry point', () => {
    assert.equal(last(runtime, 'USER'), '10001:10001');
    assert.equal(last(runtime, 'WORKDIR'), '/app');
    assert.deepEqual(JSON.parse(last(runtime, 'VOLUME')!), ['/data']);
    assert.ok(all(runtime, 'RUN').some((r) => /useradd .*--uid 10001/.test(r) && /chown gatehouse:gatehouse \/data/.test(r)), 'the user exists and owns /data');
    assert.equal(last(runtime, 'STOPSIGNAL'), 'SIGTERM');
    const entrypoint = JSON.parse(last(runtime, 'ENTRYPOINT')!) as string[];
    assert.deepEqual(entrypoint, ['/app/bin/gatehouse.mjs']);
    const bin = join(ROOT, entrypoint[0].replace(/^\/app\//, ''));
    assert.ok((statSync(bin).mode & 0o111) !== 0, 'the entry point is an executable file of the repository');
    assert.match(readFileSync(bin, 'utf8').split('\n', 1)[0], /^#!\/usr\/bin\/env -S node( --[\w-]+=\S+)*$/, 'it runs node with its flags');
    // tsconfig.build.json compiles src/ to the dist/ the launcher runs (bin/entry.mjs: dist/cli/main.js).
    const buildConfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: Record<string, string> };
    assert.deepEqual([buildConfig.compilerOptions.rootDir, buildConfig.compilerOptions.outDir], ['src', 'dist']);
    assert.match(readFileSync(join(ROOT, 'bin', 'entry.mjs'), 'utf8'), /join\(root, 'dist', 'cli', 'main\.js'\)/);
    assert.ok(copies(build).some((c) => c.sources.includes('tsconfig.build.json')), 'the build stage has the build config');
    const cmd = JSON.parse(last(runtime, 'CMD')!) as string[];
    assert.deepEqual(cmd.slice(0, 2), ['start', '-c']);
    const config = copies(runtime).find((c) => c.sources.includes('deploy/gatehouse.yaml'));
    assert.equal(config?.dest, cmd[2], 'CMD serves the config file the image ships');
    const port = loadDeployConfig().server.port;
    assert.equal(last(runtime, 'EXPOSE'), String(port), 'EXPOSE is the default config\'s port');
  });

  it('checks health with node\'s fetch against /healthz: 0 when it answers 200, 1 otherwise', async () => {
    const spec = /^(--\S+\s+)*CMD\s+(\[.*\])$/.exec(last(runtime, 'HEALTHCHECK')!);
    assert.ok(spec, 'HEALTHCHECK [options] CMD [exec form]');
    const [bin, flag, script] = JSON.parse(spec[2]) as string[];
    assert.deepEqual([bin, flag], ['node', '-e']);
    assert.match(script, /fetch\('http:\/\/127\.0\.0\.1:8080\/healthz'\)/);
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const check = (at: number) => new Promise<number | null>((resolve) => {
      spawn(process.execPath, ['-e', script.replace('127.0.0.1:8080', `127.0.0.1:${at}`)], { stdio: 'ignore' }).on('exit', resolve);
    });
    try {
      assert.equal(await check(port), 0);
      status = 503;
      assert.equal(await check(port), 1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(await check(port), 1, 'nothing listening');
    assert.deepEqual(paths, ['/healthz', '/healthz']);
  });
});

// ---- the image's default config -----------------------------------------------------------------------------------

/** A readFile for `${file:…}`: the session key where the image and the chart mount it, nothing else. */
function secrets(path: string): string {
  if (path === '/run/secrets/session-key') return `${SESSION_KEY}\n`;
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
}

function loadDeployConfig(text = read('deploy/gatehouse.yaml')): GatehouseConfig {
  return parseConfig(text, 'deploy/gatehouse.yaml', { env: {}, readFile: secrets }).config;
}

/** Stdio upstreams run files of the image (/app/…): they must be in the repository, in a directory the image copies. */
function assertCommandsInImage(config: GatehouseConfig): void {
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (u.transport !== 'stdio') continue;
    assert.equal(u.command, 'node', `${name} runs the image's node`);
    for (const arg of u.args.filter((a) => a.startsWith('/app/'))) {
      const path = arg.slice('/app/'.length);
      assert.ok(existsSync(join(ROOT, path)), `${name}: ${path} exists`);
      assert.match(path, /^(src|examples)\//, `${name}: ${path} is copied into the image`);
      assert.doesNotMatch(path, /\.test\.ts$/, 'test files are deleted from the image');
    }
  }
}

describe('deploy/gatehouse.yaml', () => {
  it('validates with the gateway\'s loader: all interfaces, port 8080, state under /data', () => {
    const config = loadDeployConfig();
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.server.port, 8080);
    assert.equal(config.store.path, '/data/gatehouse.db');
    assert.equal(config.audit.jsonl.path, undefined, 'the audit log sits beside the store, in /data');
    assert.deepEqual(config.sessions.keys, [], 'no session key: ${file:} has no default for a file that is not mounted');
    assertCommandsInImage(config);
  });

  it('documents a sessions block that validates once the key is mounted', () => {
    const text = read('deploy/gatehouse.yaml');
    const lines = text.split('\n');
    const start = lines.indexOf('# sessions:');
    assert.ok(start > 0, 'a commented sessions block');
    const end = lines.findIndex((l, i) => i > start && !l.startsWith('#   '));
    const block = lines.slice(start, end).map((l) => l.slice(2)).join('\n');
    assert.match(block, /^sessions:/);
    const config = loadDeployConfig(`${text}\n${block}\n`);
    assert.deepEqual(config.sessions.keys, [{ id: 'k1', secret: SESSION_KEY }]);
    assert.throws(() => parseConfig(`${text}\n${block}\n`, 'deploy/gatehouse.yaml', { env: {}, readFile: () => { throw new Error('ENOENT'); } }), /cannot read secret file \/run\/secrets\/session-key/);
  });
});

// ---- the Helm chart -----------------------------------------------------------------------------------------------

const values = parse(read(`${CHART}/values.yaml`)) as Record<string, any>;
const templateFiles = readdirSync(join(ROOT, CHART, 'templates')).sort();
const templates = new Map(templateFiles.map((f) => [f, read(`${CHART}/templates/${f}`)]));

function has(obj: unknown, path: string[]): boolean {
  let at = obj;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || !(key in at)) return false;
    at = (at as Record<string, unknown>)[key];
  }
  return true;
}

describe('Helm chart', () => {
  it('has the chart files and templates', () => {
    const chart = parse(read(`${CHART}/Chart.yaml`)) as Record<string, string>;
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'gatehouse');
    assert.match(chart.version, /^\d+\.\d+\.\d+$/);
    assert.equal(chart.appVersion, pkg.version, 'appVersion (the default image tag) is the gateway\'s version');
    assert.deepEqual(templateFiles, ['NOTES.txt', '_helpers.tpl', 'configmap.yaml', 'deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'secret.yaml', 'service.yaml']);
  });

  it('templates use only values that values.yaml declares', () => {
    const used = new Set<string>();
    for (const text of templates.values()) for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) used.add(m[1].slice(1));
    assert.ok(used.size > 30, `found ${used.size} value paths`);
    for (const path of used) assert.ok(has(values, path.split('.')), `values.yaml declares ${path}`);
  });

  it('templates balance their actions and blocks', () => {
    for (const [file, text] of templates) {
      const actions = [...text.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)].map((m) => m[1]);
      assert.equal(actions.length, text.split('{{').length - 1, `${file}: every {{ is closed`);
      const opened = actions.filter((a) => /^(if|with|range|define)\b/.test(a)).length;
      const closed = actions.filter((a) => /^end\b/.test(a)).length;
      assert.equal(opened, closed, `${file}: if/with/range/define match their end`);
    }
  });

  it('renders a config the gateway accepts, reading the session key from the mounted Secret', () => {
    const { config } = parseConfig(JSON.stringify(values.config), `${CHART}/values.yaml`, { env: {}, readFile: secrets });
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.store.path.startsWith('/data/'), true);
    assert.deepEqual(config.sessions.keys, [{ id: 'k1', secret: SESSION_KEY }]);
    assertCommandsInImage(config);
    const deployment = templates.get('deployment.yaml')!;
    // The Secret's volume at /run/secrets with the key as the file session-key: the path config names.
    assert.match(deployment, /- name: session-key\n\s+mountPath: \/run\/secrets\n/);
    assert.match(deployment, /- key: \{\{ \.Values\.sessionKey\.secretKey \}\}\n\s+path: session-key\n/);
    assert.match(deployment, /automountServiceAccountToken: false/, 'no service account token under /run/secrets (= /var/run/secrets)');
    assert.match(deployment, /mountPath: \/etc\/gatehouse\n/);
    assert.match(deployment, /args: \["start", "-c", "\/etc\/gatehouse\/gatehouse\.yaml"\]/);
    assert.match(templates.get('configmap.yaml')!, /gatehouse\.yaml: \|/);
  });

  it('names the external state URLs in config by the environment variables the Deployment sets from the Secret', () => {
    const configmap = templates.get('configmap.yaml')!;
    const deployment = templates.get('deployment.yaml')!;
    const secret = templates.get('secret.yaml')!;
    const refs = new Map([...configmap.matchAll(/set \$store "(\w+)" \(dict "url" "\$\{(GATEHOUSE_\w+)\}"\)/g)].map((m) => [m[1], m[2]]));
    assert.deepEqual([...refs.keys()].sort(), ['postgres', 'redis']);
    for (const [kind, variable] of refs) {
      const env = new RegExp(`- name: ${variable}\\n\\s+valueFrom:\\n\\s+secretKeyRef:\\n\\s+name: .*\\n\\s+key: (${kind}-url)\\n`).exec(deployment);
      assert.ok(env, `the Deployment sets ${variable} from the Secret`);
      assert.ok(secret.includes(`${env[1]}: {{ . | b64enc }}`), `the Secret holds ${env[1]}`);
    }
    const env = { GATEHOUSE_REDIS_URL: 'redis://redis:6379', GATEHOUSE_POSTGRES_URL: 'postgres://gatehouse:pw@postgres:5432/gatehouse' };
    const withState = { ...values.config, store: { ...values.config.store, redis: { url: '${GATEHOUSE_REDIS_URL}' }, postgres: { url: '${GATEHOUSE_POSTGRES_URL}' } } };
    const { config } = parseConfig(JSON.stringify(withState), `${CHART}/values.yaml`, { env, readFile: secrets });
    assert.equal(config.store.redis?.url, env.GATEHOUSE_REDIS_URL);
    assert.equal(config.store.postgres?.url, env.GATEHOUSE_POSTGRES_URL);
  });

  it('probes the routes the gateway serves, and waits for the drain before killing', () => {
    const server = read('src/server/http-server.ts');
    const deployment = templates.get('deployment.yaml')!;
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']]) {
      assert.match(deployment, new RegExp(`${probe}:\\n\\s+httpGet:\\n\\s+path: ${path}\\n`));
      assert.ok(server.includes(`path === '${path}'`), `the gateway serves ${path}`);
    }
    const { config } = parseConfig(JSON.stringify(values.config), `${CHART}/values.yaml`, { env: {}, readFile: secrets });
    const killGrace = Math.max(0, ...Object.values(config.upstreams).map((u) => (u.transport === 'stdio' ? u.pool.killGrace : 0)));
    const needed = values.preStopSleepSeconds * 1000 + config.server.drainTimeout + killGrace;
    assert.ok(values.terminationGracePeriodSeconds * 1000 > needed, `terminationGracePeriodSeconds ${values.terminationGracePeriodSeconds}s > ${needed} ms`);
    assert.ok(parseDuration(String(values.config.server.drainTimeout)) > 10_000, 'longer than the default drain: the chart sets it');
  });

  it('defaults to two replicas kept by a disruption budget, hardened pods, and documents the session key', () => {
    assert.equal(values.replicaCount, 2);
    assert.equal(values.podDisruptionBudget.minAvailable, 1);
    assert.equal(values.podSecurityContext.runAsNonRoot, true);
    assert.equal(values.podSecurityContext.runAsUser, 10001);
    assert.equal(values.securityContext.readOnlyRootFilesystem, true);
    assert.match(templates.get('hpa.yaml')!, /apiVersion: autoscaling\/v2\n/);
    assert.match(templates.get('pdb.yaml')!, /apiVersion: policy\/v1\n/);
    assert.match(read(`${CHART}/values.yaml`), /openssl rand -base64 32/);
    assert.deepEqual(values.sessionKey, { value: '', existingSecret: '', secretKey: 'session-key' });
  });
});

// ---- with helm ----------------------------------------------------------------------------------------------------
