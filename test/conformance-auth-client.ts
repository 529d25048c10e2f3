/**
 * The client the conformance CLI runs for its client-side auth scenarios (`conformance client --suite auth
 * --command "<node> test/conformance-auth-client.ts"`): Gatehouse is the OAuth client of the scenario's server.
 * It starts a gateway in-process with the scenario URL (the CLI's last argument) as an HTTP upstream with
 * `auth: { type: oauth, approval: auto }`, connects an SDK client to the gateway, lists the tools and calls the
 * first one (scope step-up is only challenged on tools/call). Exit 0 on success, 1 otherwise.
 * With `--direct` (before the URL) there is no gateway: the SDK client talks to the scenario through
 * src/auth/upstream-oauth.ts under a fetch that does what the HTTP upstream transport does with it.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { UpstreamOAuth, upstreamOAuthSchema } from '../src/auth/upstream-oauth.ts';
import { startGateway } from './helpers/gateway.ts';

/** The client-id metadata document URL the suite's authorization server expects (auth/basic-cimd); it never fetches it. */
const CIMD_URL = 'https://conformance-test.local/client-metadata.json';

const serverUrl = process.argv[process.argv.length - 1];
// auth/pre-registration passes its pre-registered client in MCP_CONFORMANCE_CONTEXT.
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as { client_id?: string; client_secret?: string };

const config = {
  type: 'oauth',
  approval: 'auto',
  clientMetadataUrl: CIMD_URL,
  ...(context.client_id !== undefined && { clientId: context.client_id, clientSecret: context.client_secret }),
};

if (process.argv.includes('--direct')) {
  process.exitCode = await drive(serverUrl, directFetch(new UpstreamOAuth('up', serverUrl, upstreamOAuthSchema.parse(config))));
} else {
  const gateway = await startGateway({ upstreams: { up: { url: serverUrl, auth: config } } });
  process.exitCode = await drive(gateway.url, fetch);
  await gateway.close();
}

/** List the tools at `url` and call the first one. */
async function drive(url: string, fetchFn: typeof fetch): Promise<number> {
  const client = new Client({ name: 'gatehouse-conformance-auth', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFn }));
    const { tools } = await client.listTools();
    if (tools.length === 0) throw new Error(`no tools listed for ${serverUrl}`);
    const result = await client.callTool({ name: tools[0].name, arguments: {} });
    if (result.isError === true) throw new Error(`${tools[0].name} failed: ${JSON.stringify(result.content)}`);
    console.log(`called ${tools[0].name}`);
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    return 1;
  } finally {
    await client.close().catch(() => {});
  }
}

/** `--direct`: the provider under a fetch that plays the transport's part (headers in, one retry after a refusal). */
function directFetch(oauth: UpstreamOAuth): typeof fetch {
  return async function credentialFetch(input, init = {}) {
    for (let attempt = 0; ; attempt++) {
      const sent = await oauth.headers();
      const headers = new Headers(init.headers);
      for (let i = 0; i < sent.length; i += 2) headers.set(sent[i], sent[i + 1]);
      const res = await fetch(input, { ...init, headers });
      const challenge = res.headers.get('www-authenticate') ?? undefined;
      const refused = res.status === 401 || (res.status === 403 && challenge?.includes('insufficient_scope') === true);
      if (!refused || attempt > 0) return res;
      oauth.rejected(undefined, sent, challenge);
      await res.body?.cancel();
    }
  };
}
