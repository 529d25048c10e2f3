/**
 * The web portal (web/, served at /portal/) in real headless Chromium against a real gateway with auth on and real
 * upstreams (server-everything, the notes, clock and weather examples, the mutable fixture): sign in with an admin
 * API key, browse and search the catalog, read a tool's parameters and run it with "try it", follow health and
 * usage, copy a client config from the clipboard, approve a quarantined change and see the tool come back, create
 * and revoke an API key, register an upstream (a 400 shown next to its field, then one that works) and see its
 * tools, and what a non-admin sees; and "Sign in with <issuer>" through a real OpenID provider (oidc-provider, login
 * and consent answered without a user): authorization code + PKCE in the browser, the token used for "try it". Screenshots of the main pages go to docs/screenshots/ when
 * UPDATE_SCREENSHOTS=1 (else to a temporary folder, so a test run leaves the tree clean).
 * Chromium is Debian's (`apt-get install chromium`), driven by playwright-core; nothing is downloaded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page, Response as PageResponse } from 'playwright-core';
import { issueApiKey } from '../src/auth/api-keys.ts';
import { everythingStdio, startGateway } from './helpers/gateway.ts';
import type { RunningGateway } from './helpers/gateway.ts';
import { exampleStdioCommand, nodeBinary, REPO_ROOT, startExample } from './helpers/spawn.ts';
import type { RunningExample } from './helpers/spawn.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MUTABLE = join(REPO_ROOT, 'test/fixtures/mutable-server.ts');
const WEB = join(REPO_ROOT, 'web');
const DIST_INDEX = join(WEB, 'dist/index.html');
const KEEP_SHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const SHOTS = KEEP_SHOTS ? join(REPO_ROOT, 'docs/screenshots') : mkdtempSync(join(tmpdir(), 'gatehouse-shots-'));
/** What the first page may load: the app, Preact and uPlot, uncompressed (the build enforces it too). */
const JS_BUDGET = 200 * 1024;

/** A JSON answer, as the tests read it. */
async function json(res: Promise<Response>): Promise<any> {
  return (await res).json();
}

/** What the page's clipboard holds (the context has clipboard permissions). */
function clipboard(page: Page): Promise<string> {
  return page.evaluate('navigator.clipboard.readText()') as Promise<string>;
}

/** The newest modification time under `path` (a file or a folder). */
function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** Build web/dist when it is missing or older than its sources (`npm run build` does the same). */
function ensureBuilt(): void {
  const sources = Math.max(newest(join(WEB, 'src')), newest(join(WEB, 'public')), newest(join(WEB, 'index.html')), newest(join(WEB, 'vite.config.ts')));
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web'], { cwd: REPO_ROOT, stdio: 'pipe' });
}

/** The portal's public client at the IdP: PKCE, no secret, redirected back to /portal/callback. */
const PORTAL_CLIENT = 'gatehouse-portal';
const ACCOUNT = 'alice';

/**
 * An OpenID provider on 127.0.0.1. Its address is known at once; the provider itself is made by `ready` (it needs
 * the portal's redirect URI, known once the gateway listens). Logins and consents are granted without a user.
 */
async function startIdp(): Promise<{ issuer: string; ready(redirectUri: string): Promise<void>; close(): Promise<void> }> {
  let provider: Provider | null = null;
  const server: Server = createServer((req, res) => {
    if (provider === null) return void res.writeHead(503).end();
    if (req.url?.startsWith('/interaction/')) {
      interact(provider, req, res).catch((err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.stack));
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    async ready(redirectUri) {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const key = { ...(await exportJWK(privateKey)), kid: 'portal-test', alg: 'RS256', use: 'sig' };
      provider = new Provider(issuer, {
        clients: [{ client_id: PORTAL_CLIENT, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [redirectUri] }],
        jwks: { keys: [key] },
        cookies: { keys: ['gatehouse-portal-test-cookie-key'] },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
        // The token endpoint answers the portal's page (a CORS request from the gateway's origin) and nobody else.
        clientBasedCORS: (_ctx, origin) => origin === new URL(redirectUri).origin,
        scopes: ['openid', 'mcp:tools'],
        findAccount: (_ctx, sub) => Promise.resolve({ accountId: sub, claims: () => Promise.resolve({ sub }) }),
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        features: {
          devInteractions: { enabled: false },
          resourceIndicators: {
            enabled: true,
            useGrantedResource: () => Promise.resolve(true),
            getResourceServerInfo: (_ctx, resource) => Promise.resolve({ scope: 'mcp:tools', audience: resource, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
          },
        },
      });
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The login and consent pages, answered at once: log ACCOUNT in and grant what was asked. */
async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

describe('web portal in Chromium', () => {
  let gw: RunningGateway;
  let clock: RunningExample;
  let weather: RunningExample;
  let idp: Awaited<ReturnType<typeof startIdp>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let admin = '';
  let portal = '';
  const pageErrors: string[] = [];

  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  const go = async (route: string) => {
    await page.goto(`${portal}${route}`);
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    ensureBuilt();
    mkdirSync(SHOTS, { recursive: true });
    [clock, weather, idp] = await Promise.all([startExample('clock-sse'), startExample('weather-http'), startIdp()]);
    gw = await startGateway({
      auth: { enabled: true, issuers: [{ issuer: idp.issuer }] },
      portal: { login: { issuer: idp.issuer, clientId: PORTAL_CLIENT, scopes: ['openid', 'mcp:tools'] } },
      upstreams: {
        everything: { ...everythingStdio(), title: 'Everything' },
        notes: { ...exampleStdioCommand('notes-stdio'), title: 'Notes' },
        clock: { url: clock.url, transport: 'sse', title: 'Clock' },
        mutable: { command: nodeBinary(), args: [MUTABLE] },
      },
      virtualServers: { desk: { title: 'Help desk', description: 'Notes and the clock, for the support team', include: [{ upstreams: ['notes', 'clock'] }] } },
    });
    admin = (await issueApiKey(gw.gateway.apiKeys!, { owner: 'ops', scopes: ['gatehouse:admin'] })).token;
    portal = `${gw.base}/portal`;
    await idp.ready(`${portal}/callback`);
    browser = await chromium.launch({ executablePath: CHROMIUM });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.base });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await Promise.all([clock?.close(), weather?.close(), idp?.close()]);
    if (!KEEP_SHOTS) rmSync(SHOTS, { recursive: true, force: true });
  });

  it('the gateway serves the built portal and its API', async () => {
    // What the front end needs from the backend, route by route, so a missing one is named here.
    const index = await fetch(`${portal}/`);
    assert.equal(index.status, 200, 'GET /portal/ serves web/dist/index.html');
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    const html = await index.text();
    assert.match(html, /<base href="\/portal\/"/);
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html);
    assert.ok(script, 'index.html loads its script from assets/');
    const asset = await fetch(`${portal}/${script[1]}`);
    assert.equal(asset.status, 200, 'GET /portal/assets/… serves the script');
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    const deep = await fetch(`${portal}/servers/_/tools/everything__echo`);
    assert.equal(deep.status, 200, 'an unknown path under /portal/ falls back to index.html');
    assert.equal(await deep.text(), html);
    const session = await json(fetch(`${portal}/api/session`));
    assert.equal(session.principal, null);
    assert.equal(session.auth.enabled, true);
    assert.equal(session.auth.login.issuer, idp.issuer);
    assert.equal(session.auth.login.authorizationEndpoint, `${idp.issuer}/auth`);
    assert.equal(session.auth.login.clientId, PORTAL_CLIENT);
    assert.equal(session.endpoints.mcp, '/mcp');
    assert.equal(session.publicUrl, gw.base);
    const auth = { authorization: `Bearer ${admin}` };
    assert.equal((await fetch(`${portal}/api/servers`)).status, 401, 'the catalog needs credentials');
    const servers = await json(fetch(`${portal}/api/servers`, { headers: auth }));
    assert.deepEqual(servers.servers.map((s: { name: string }) => s.name).sort(), ['', 'desk']);
    const detail = await json(fetch(`${portal}/api/servers/_`, { headers: auth }));
    assert.ok(detail.toolList.some((t: { name: string }) => t.name === 'everything__echo'));
    assert.ok(Array.isArray(detail.upstreamList[0].replicas));
    const usage = await json(fetch(`${portal}/api/usage?server=_&window=1h`, { headers: auth }));
    assert.ok(Array.isArray(usage.buckets) && usage.buckets.length > 0);
  });

  it('asks to sign in, refuses a wrong key, and lets an admin in; the first page stays under its JS budget', async () => {
    const scripts: Promise<number>[] = [];
    const onResponse = (res: PageResponse) => {
      if (res.request().resourceType() === 'script') scripts.push(res.body().then((b) => b.length));
    };
    page.on('response', onResponse);
    await go('/');
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    await page.getByRole('button', { name: /^Sign in with http/ }).waitFor();
    await page.getByLabel('API key or admin key').fill('gh_notakey_0000000000000000000000000000');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /not accept/ }).waitFor();
    await shot('login');
    await page.getByLabel('API key or admin key').fill(admin);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Servers', exact: true }).waitFor();
    page.off('response', onResponse);
    const firstPageJs = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
    assert.ok(firstPageJs > 10_000 && firstPageJs < JS_BUDGET, `the first page loaded ${firstPageJs} bytes of JS`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const link of ['Servers', 'Approvals', 'API keys', 'Upstreams']) assert.equal(await nav.getByRole('link', { name: link }).count(), 1, link);
    await page.getByRole('banner').getByText('admin', { exact: true }).waitFor();
  });

  it('lists the servers and filters them by search', async () => {
    const cards = page.getByRole('list', { name: 'Servers' }).getByRole('listitem');
    await page.getByRole('link', { name: 'Help desk' }).waitFor();
    assert.equal(await cards.count(), 2);
    await shot('catalog');
    await page.getByLabel('Search servers').fill('support');
    await page.getByText('1 server match “support”').waitFor();
    assert.equal(await cards.count(), 1);
    assert.equal(await page.getByRole('link', { name: 'Help desk' }).count(), 1);
    await page.getByLabel('Search servers').fill('nothing-like-this');
    await page.getByText('No server matches').waitFor();
    // Keyboard: on a fresh page the skip link comes first.
    await go('/');
    await page.getByRole('link', { name: 'Help desk' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
  });

  it('shows a server’s tools and a tool’s parameters from its schema, and runs it with "try it"', async () => {
    await page.getByRole('link', { name: 'All servers' }).click();
    await page.getByRole('heading', { name: 'All servers' }).waitFor();
    await page.getByRole('link', { name: 'everything__echo' }).waitFor();
    await shot('server-tools', false);
    await page.getByLabel('Search tools').fill('sum');
    await page.getByText('1 tool match “sum”').waitFor();
    await page.getByRole('link', { name: 'everything__get-sum' }).click();
    // Parameters rendered from the JSON Schema: names, types, required.
    const params = page.getByRole('region', { name: 'Parameters' });
    await params.locator('.prop-desc', { hasText: 'First number' }).waitFor();
    assert.equal(await params.getByText('required', { exact: true }).count(), 2);
    assert.equal(await params.getByText('number', { exact: true }).count(), 2);
    // Empty required fields are reported next to them, and the first one gets focus.
    const tryIt = page.getByRole('region', { name: 'Try it' });
    await tryIt.getByRole('button', { name: 'Run everything__get-sum' }).click();
    await tryIt.getByText('2 fields need attention.').waitFor();
    assert.equal(await tryIt.getByLabel(/^a/).getAttribute('aria-invalid'), 'true');
    await tryIt.getByLabel(/^a/).fill('2');
    await tryIt.getByLabel(/^b/).fill('40');
    await tryIt.getByRole('button', { name: 'Run everything__get-sum' }).click();
    await tryIt.locator('.result-text').filter({ hasText: /42/ }).waitFor();
    // Every form control has a label.
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).length`);
    assert.equal(unlabelled, 0);

    await go('/servers/_/tools/everything__echo');
    await page.getByRole('region', { name: 'Try it' }).getByLabel(/^message/).fill('hello from the portal');
    await page.getByRole('button', { name: 'Run everything__echo' }).click();
    await page.locator('.result-text').filter({ hasText: 'Echo: hello from the portal' }).waitFor();
    await shot('tool-try-it');
    // The JSON mode sends the same call from raw arguments.
    await page.getByRole('button', { name: 'JSON' }).click();
    await page.getByLabel('Arguments (JSON object)').fill('{"message": "as JSON"}');
    await page.getByRole('button', { name: 'Run everything__echo' }).click();
    await page.locator('.result-text').filter({ hasText: 'Echo: as JSON' }).waitFor();
  });

  it('shows live health per replica and usage charts', async () => {
    await go('/servers/_/health');
    const everything = page.locator('.upstream-health').filter({ has: page.getByRole('heading', { name: 'Everything' }) });
    await everything.getByRole('cell', { name: 'closed' }).waitFor();
    await page.locator('.upstream-health').filter({ has: page.getByRole('heading', { name: 'Clock' }) }).getByText('ready').waitFor();
    await page.getByText(/updated \ds ago/).waitFor();
    await shot('server-health');

    await go('/servers/_/usage');
    await page.getByRole('figure', { name: 'Calls and errors over time' }).locator('canvas').waitFor();
    assert.equal(await page.locator('figure canvas').count(), 4, 'four uPlot charts');
    const top = page.getByRole('figure', { name: 'Top tools' });
    await top.getByText('Show the numbers').click();
    await top.getByRole('cell', { name: 'everything__echo' }).waitFor();
    await page.getByRole('figure', { name: 'Top principals' }).getByRole('img', { name: /key:/ }).waitFor();
    await page.getByRole('button', { name: 'Last 24 hours' }).click();
    await page.getByText('one bar per 30 min').waitFor();
    await page.getByRole('button', { name: 'Last hour' }).click();
    await page.getByText('one bar per 1 min').waitFor();
    await shot('server-usage');
  });

  it('gives copy-ready client configs with the endpoint and the key filled in', async () => {
    await go('/servers/desk/connect');
    await page.getByRole('heading', { name: 'Connect a client' }).waitFor();
    const url = `${gw.base}/mcp/desk`;
    await page.getByText(url, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Copy Cursor config' }).click();
    await page.getByText('Copied').first().waitFor();
    const cursor = JSON.parse(await clipboard(page));
    assert.deepEqual(cursor, { mcpServers: { 'gatehouse-desk': { url, headers: { Authorization: `Bearer ${admin}` } } } });
    await page.getByRole('button', { name: 'Copy Claude Code config' }).click();
    assert.equal(await clipboard(page), `claude mcp add --transport http gatehouse-desk ${url} --header 'Authorization: Bearer ${admin}'\n`);
    await page.getByRole('button', { name: 'Copy VS Code config' }).click();
    assert.deepEqual(JSON.parse(await clipboard(page)).servers['gatehouse-desk'], { type: 'http', url, headers: { Authorization: `Bearer ${admin}` } });
    await page.getByRole('button', { name: 'Copy Claude Desktop config' }).click();
    const desktop = JSON.parse(await clipboard(page)).mcpServers['gatehouse-desk'];
    assert.deepEqual(desktop.args, ['-y', 'mcp-remote', url, '--header', 'Authorization:${AUTH_HEADER}']);
    assert.equal(desktop.env.AUTH_HEADER, `Bearer ${admin}`);
    // Another key typed in goes into every snippet.
    await page.getByLabel('API key', { exact: true }).fill('gh_other');
    await page.getByRole('button', { name: 'Copy mcp-remote config' }).click();
    assert.equal(await clipboard(page), `npx mcp-remote ${url} --header 'Authorization: Bearer gh_other'\n`);
    await page.getByLabel('API key', { exact: true }).fill(admin);
    await shot('server-connect');
  });

  it('approves a quarantined change with a side-by-side diff, and the tool comes back', async () => {
    // The rug pull, through "try it": mutable's lookup changes its description.
    await go('/servers/_/tools/mutable__rug_pull');
    await page.getByRole('region', { name: 'Try it' }).getByLabel(/^description/).fill('Looks up a word, now in two languages.');
    await page.getByRole('button', { name: 'Run mutable__rug_pull' }).click();
    await page.locator('.result-text').filter({ hasText: 'lookup changed' }).waitFor();
    await go('/admin/approvals');
    // The list refreshes by itself; the change shows up once the gateway has seen list_changed.
    await page.getByRole('link', { name: 'tool lookup' }).click();
    const diff = page.locator('table.diff');
    await diff.waitFor();
    const changed = diff.locator('tr.change');
    assert.equal(await changed.count(), 1, 'one line changed');
    assert.match(await changed.locator('td.diff-line.del').innerText(), /dictionary/);
    assert.match(await changed.locator('td.diff-line.add').innerText(), /two languages/);
    assert.ok((await changed.locator('mark').count()) === 2, 'the changed part is highlighted on both sides');
    await shot('approval-diff');
    // Quarantined meanwhile: not listed.
    const listed = async () => ((await json(fetch(`${portal}/api/servers/_`, { headers: { authorization: `Bearer ${admin}` } }))).toolList as { name: string }[]).some((t) => t.name === 'mutable__lookup');
    assert.equal(await listed(), false);
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Approved: lookup is listed and callable again.').waitFor();
    await go('/servers/_');
    await page.getByLabel('Search tools').fill('lookup');
    await page.getByRole('link', { name: 'mutable__lookup' }).click();
    await page.getByText('Looks up a word, now in two languages.').first().waitFor();
    await page.getByRole('region', { name: 'Try it' }).getByLabel(/^word/).fill('gate');
    await page.getByRole('button', { name: 'Run mutable__lookup' }).click();
    await page.locator('.result-text').filter({ hasText: 'gate: a word' }).waitFor();
  });

  let userKey = '';
  it('creates an API key shown once, and revokes one', async () => {
    await go('/admin/keys');
    await page.getByRole('heading', { name: 'Create a key' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#key-owner-err').waitFor();
    await page.getByLabel('Owner').fill('ci-bot');
    await page.getByLabel('Scopes').fill('mcp:tools');
    await page.getByLabel('Expires').fill('tomorrow');
    await page.getByRole('button', { name: 'Create key' }).click();
    // The gateway's 400 names the field; it is shown beside it.
    await page.locator('#key-expires-err').waitFor();
    assert.equal(await page.getByLabel('Expires').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Expires').fill('30d');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.locator('#created-key').innerText()).trim();
    assert.match(key, /^gh_/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await clipboard(page), key);
    const row = page.getByRole('row').filter({ hasText: 'ci-bot' });
    await row.getByText('active').waitFor();
    await shot('api-keys');
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    assert.equal(await page.locator('#created-key').count(), 0, 'shown once');
    userKey = key;

    // A second key, revoked through the list.
    await page.getByLabel('Owner').fill('temp');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#created-key').waitFor();
    const temp = page.getByRole('row').filter({ hasText: 'temp' });
    await temp.getByRole('button', { name: /^Revoke key/ }).click();
    await temp.getByRole('button', { name: 'Yes, revoke' }).click();
    await temp.getByText('revoked').waitFor();
  });

  it('registers an upstream through the form, showing a 400 next to its field, and its tools appear', async () => {
    await go('/admin/upstreams');
    await page.getByRole('heading', { name: 'Register an upstream' }).waitFor();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('meta');
    await page.getByRole('textbox', { name: 'URL', exact: true }).fill('http://169.254.169.254/latest/meta-data');
    await page.getByRole('button', { name: 'Register' }).click();
    const err = page.locator('#up-url-err');
    await err.waitFor();
    assert.match(await err.innerText(), /allowlist|metadata|link-local/i);
    assert.equal(await page.getByRole('textbox', { name: 'URL', exact: true }).getAttribute('aria-invalid'), 'true');
    await shot('upstreams-error');

    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('weather');
    await page.getByRole('textbox', { name: 'URL', exact: true }).fill(weather.url);
    await page.getByLabel('Title').fill('Weather');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByText(/weather registered: ready, \d+ tools/).waitFor({ timeout: 30_000 });
    await page.getByRole('row').filter({ hasText: weather.url }).getByText('admin API').waitFor();
    await shot('upstreams');
    await page.getByRole('link', { name: 'See its tools in the catalog' }).click();
    await page.getByLabel('Search tools').fill('weather');
    await page.getByRole('link', { name: 'weather__get_forecast' }).waitFor();

    // A stdio one by command, then deleted from the list.
    await go('/admin/upstreams');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('notes2');
    await page.getByLabel('Command (stdio)').check();
    const notes = exampleStdioCommand('notes-stdio');
    await page.getByRole('textbox', { name: 'Command', exact: true }).fill(notes.command);
    await page.getByLabel('Arguments').fill(notes.args.join('\n'));
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByText(/notes2 registered: ready/).waitFor({ timeout: 30_000 });
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'notes2' }) });
    await row.getByRole('button', { name: 'Delete upstream notes2' }).click();
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal(gw.gateway.currentConfig.upstreams.notes2, undefined);
  });

  it('signs in with the identity provider (authorization code + PKCE) and calls a tool with that token', async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const tab = await other.newPage();
    tab.on('pageerror', (e) => pageErrors.push(e.message));
    const authorize: URL[] = [];
    tab.on('request', (r) => r.url().startsWith(`${idp.issuer}/auth`) && authorize.push(new URL(r.url())));
    // Start on a deep page: after signing in the user is back there.
    await tab.goto(`${portal}/servers/_/tools/everything__echo`);
    await tab.getByRole('button', { name: `Sign in with ${idp.issuer}` }).click();
    await tab.getByRole('heading', { name: 'everything__echo' }).waitFor();
    assert.equal(new URL(tab.url()).pathname, '/portal/servers/_/tools/everything__echo');
    const q = authorize[0].searchParams;
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('redirect_uri'), `${portal}/callback`);
    assert.equal(q.get('resource'), `${gw.base}/mcp`);
    await tab.getByRole('banner').getByText(ACCOUNT).waitFor();
    const stored = JSON.parse((await tab.evaluate(`sessionStorage.getItem('gatehouse.credential')`)) as string);
    assert.equal(stored.method, 'oauth');
    assert.equal(stored.token.split('.').length, 3, 'a JWT access token');
    await tab.getByRole('region', { name: 'Try it' }).getByLabel(/^message/).fill('signed in with the IdP');
    await tab.getByRole('button', { name: 'Run everything__echo' }).click();
    await tab.locator('.result-text').filter({ hasText: 'Echo: signed in with the IdP' }).waitFor();
    await other.close();
  });

  it('shows a non-admin no admin pages, and signs out', async () => {
    const other = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const phone = await other.newPage();
    phone.on('pageerror', (e) => pageErrors.push(e.message));
    await phone.goto(`${portal}/`);
    await phone.getByLabel('API key or admin key').fill(userKey);
    await phone.getByRole('button', { name: 'Sign in', exact: true }).click();
    await phone.getByRole('heading', { name: 'Servers', exact: true }).waitFor();
    assert.equal(await phone.getByRole('link', { name: 'Approvals' }).count(), 0);
    await phone.getByText('key:').first().waitFor();
    await phone.screenshot({ path: join(SHOTS, 'catalog-mobile.png'), fullPage: true });
    await phone.goto(`${portal}/admin/keys`);
    await phone.getByRole('heading', { name: 'Admins only' }).waitFor();
    await phone.getByRole('button', { name: 'Sign out' }).click();
    await phone.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    assert.equal(await phone.evaluate('sessionStorage.length'), 0, 'nothing left in the tab');
    await other.close();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  });
});
