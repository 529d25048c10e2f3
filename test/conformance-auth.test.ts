/**
 * Issue 3, "must show": the official conformance suite's client-side auth scenarios
 * (`conformance client --suite auth`) pass with Gatehouse as the OAuth client of the scenario's server —
 * through a whole gateway (test/conformance-auth-client.ts), and with src/auth/upstream-oauth.ts alone
 * (`--direct`). All 14 scenarios apply to a gateway. The CLI splits `--command` on spaces (no quoting), so the
 * repository path must not contain one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { upstreamAuthSchema } from '../src/auth/credentials/config.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const CLI = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const CLIENT = path.join(ROOT, 'test', 'conformance-auth-client.ts');

/** The suite in @modelcontextprotocol/conformance 0.1.16, every one applicable to a gateway. */
const SCENARIOS = [
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-step-up',
  'auth/scope-retry-limit',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/pre-registration',
];

// The summary line per scenario: `✓ auth/metadata-default: 13 passed, 0 failed` (`, N warnings` when any; ✗ on failure).
const SUMMARY_LINE = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed(?:, (\d+) warnings)?$/gm;

interface SuiteResult {
  exitCode: number | null;
  output: string;
  scenarios: Map<string, { ok: boolean; passed: number; failed: number; warnings: number }>;
}

/** Run `conformance client --suite auth` with `command` (the CLI splits it on spaces and appends the server URL). */
async function runSuite(command: string): Promise<SuiteResult> {
  const child = spawn(NODE, [CLI, 'client', '--suite', 'auth', '--timeout', '60000', '--command', command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const [exitCode] = (await once(child, 'close')) as [number | null];
  const scenarios: SuiteResult['scenarios'] = new Map();
  for (const m of output.matchAll(SUMMARY_LINE)) {
    scenarios.set(m[2], { ok: m[1] === '✓', passed: Number(m[3]), failed: Number(m[4]), warnings: Number(m[5] ?? 0) });
  }
  return { exitCode, output, scenarios };
}

function assertAllPass(result: SuiteResult): void {
  assert.deepEqual([...result.scenarios.keys()].sort(), [...SCENARIOS].sort(), `the suite ran other scenarios than expected:\n${result.output.slice(-4000)}`);
  const failing = [...result.scenarios].filter(([, s]) => !s.ok || s.failed > 0 || s.warnings > 0).map(([name, s]) => `${name}: ${s.failed} failed, ${s.warnings} warnings`);
  assert.deepEqual(failing, [], `failing scenarios:\n${failing.join('\n')}\n\n${result.output.slice(-6000)}`);
  for (const [name, s] of result.scenarios) assert.ok(s.passed > 0, `${name} passed no check`);
  assert.equal(result.exitCode, 0);
}

test('the conformance auth suite passes with upstream-oauth as the client (no gateway)', { timeout: 180_000 }, async () => {
  assertAllPass(await runSuite(`${NODE} ${CLIENT} --direct`));
});

// `type: oauth` joins the upstream `auth` union in src/auth/credentials/config.ts and its provider factory in
// src/auth/upstream-credentials.ts; until both are in, there is no gateway path to test.
const wired = upstreamAuthSchema.safeParse({ type: 'oauth' }).success;

test('the conformance auth suite passes with Gatehouse as the client of the scenario server', { timeout: 180_000, skip: wired ? false : 'upstream auth type oauth is not in the config schema yet' }, async () => {
  assertAllPass(await runSuite(`${NODE} ${CLIENT}`));
});
