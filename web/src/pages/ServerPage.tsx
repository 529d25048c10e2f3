/**
 * One server (the default endpoint or a virtual server): its tools (with parameters, annotations and scan verdicts),
 * live health per upstream replica, usage charts, and copy-ready client setup. Each part has its own address:
 * /servers/<name>, …/tools/<tool>, …/health, …/usage, …/connect.
 */
import { useMemo, useState } from 'preact/hooks';
import { currentCredential, portalApi } from '../lib/api.ts';
import type { ClientAuth } from '../lib/client-config.ts';
import { clientConfigs, KEY_PLACEHOLDER } from '../lib/client-config.ts';
import { plural } from '../lib/format.ts';
import { href, seg } from '../lib/router.ts';
import type { ServerDetail, Session, Tool, Usage } from '../lib/types.ts';
import { CallsChart, LatencyChart, TopChart } from '../components/Charts.tsx';
import { SchemaView } from '../components/SchemaView.tsx';
import { TryIt } from '../components/TryIt.tsx';
import { AnnotationBadges, Badge, CopyButton, ErrorBox, Freshness, HealthBadge, Loading, PageHeader, useLoad, VerdictBadge } from '../components/ui.tsx';
import { serverSlug } from './Catalog.tsx';

type Tab = 'tools' | 'health' | 'usage' | 'connect';

const TABS: { id: Tab; label: string; path: string }[] = [
  { id: 'tools', label: 'Tools', path: '' },
  { id: 'health', label: 'Health', path: '/health' },
  { id: 'usage', label: 'Usage', path: '/usage' },
  { id: 'connect', label: 'Connect', path: '/connect' },
];

export function ServerPage({ session, slug, rest }: { session: Session; slug: string; rest: string[] }) {
  const tab: Tab = rest[0] === 'health' || rest[0] === 'usage' || rest[0] === 'connect' ? rest[0] : 'tools';
  const toolName = rest[0] === 'tools' && rest[1] !== undefined ? rest[1] : null;
  const detail = useLoad(() => portalApi<ServerDetail>(`servers/${seg(slug)}`), [slug], tab === 'health' ? 3000 : 15_000);
  const s = detail.data;
  const base = `/servers/${seg(slug)}`;
  if (s === undefined) {
    return (
      <>
        <ErrorBox error={detail.error} title="Could not load this server" />
        {detail.error === null && <Loading what="Loading the server" />}
      </>
    );
  }
  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <a href={href('/')}>Servers</a> <span aria-hidden="true">/</span>{' '}
        {toolName === null ? <span aria-current="page">{s.title}</span> : <a href={href(base)}>{s.title}</a>}
        {toolName !== null && (
          <>
            {' '}
            <span aria-hidden="true">/</span> <span aria-current="page">{toolName}</span>
          </>
        )}
      </nav>
      {toolName !== null ? (
        <ToolPage session={session} server={s} name={toolName} />
      ) : (
        <>
          <PageHeader
            title={s.title}
            sub={
              <>
                <code>{s.endpoint}</code> · {plural(s.tools, 'tool')} · <HealthBadge health={s.health} />
              </>
            }
          >
            <Freshness at={detail.at} error={detail.error} />
          </PageHeader>
          <p>{s.description}</p>
          <nav class="tabs" aria-label="Server sections">
            {TABS.map((t) => (
              <a key={t.id} href={href(base + t.path)} aria-current={t.id === tab ? 'page' : undefined}>
                {t.label}
              </a>
            ))}
          </nav>
          {tab === 'tools' && <ToolList server={s} base={base} />}
          {tab === 'health' && <HealthView server={s} />}
          {tab === 'usage' && <UsageView server={s} />}
          {tab === 'connect' && <Connect session={session} server={s} />}
        </>
      )}
    </>
  );
}

function ToolList({ server, base }: { server: ServerDetail; base: string }) {
  const [query, setQuery] = useState('');
  const q = query.toLowerCase();
  const tools = server.toolList.filter((t) => q === '' || `${t.name} ${t.title ?? ''} ${t.description ?? ''} ${t.upstream ?? ''}`.toLowerCase().includes(q));
  return (
    <section aria-labelledby="tools-h">
      <h2 id="tools-h" class="visually-hidden">
        Tools
      </h2>
      <div role="search" class="search-bar">
        <label for="tool-search">Search tools</label>
        <input id="tool-search" type="search" value={query} placeholder="name, description or upstream" onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <p class="muted small" role="status" aria-live="polite">
        {query === '' ? plural(server.toolList.length, 'tool') : `${plural(tools.length, 'tool')} match “${query}”`}
      </p>
      <ul class="tool-list">
        {tools.map((t) => (
          <li key={t.name} class="tool-row">
            <div class="tool-title">
              <a href={href(`${base}/tools/${seg(t.name)}`)}>
                <code>{t.name}</code>
              </a>
              {t.title !== undefined && <span>{t.title}</span>}
              <span class="badges">
                <VerdictBadge tool={t} />
                <AnnotationBadges annotations={t.annotations} />
              </span>
            </div>
            {t.description !== undefined && <p class="tool-desc">{t.description}</p>}
            <p class="muted small">from {t.upstream ?? 'the gateway'}</p>
          </li>
        ))}
      </ul>
      {tools.length === 0 && <p class="empty">{server.toolList.length === 0 ? 'This server lists no tools yet.' : 'No tool matches.'}</p>}
    </section>
  );
}

function ToolPage({ session, server, name }: { session: Session; server: ServerDetail; name: string }) {
  const tool: Tool | undefined = server.toolList.find((t) => t.name === name);
  if (tool === undefined) {
    return (
      <div class="notice warn" role="alert">
        <p>
          <strong>{name}</strong> is not listed by {server.title} now. It may have been removed or quarantined because its definition changed
          {session.admin ? (
            <>
              {' '}
              — see <a href={href('/admin/approvals')}>Approvals</a>.
            </>
          ) : (
            '.'
          )}
        </p>
      </div>
    );
  }
  const credential = currentCredential();
  return (
    <>
      <PageHeader
        title={<code>{tool.name}</code>}
        sub={
          <>
            {tool.title !== undefined && <>{tool.title} · </>}from {tool.upstream ?? 'the gateway'} · on <code>{server.endpoint}</code>
          </>
        }
      />
      <p class="badges">
        <VerdictBadge tool={tool} />
        <AnnotationBadges annotations={tool.annotations} />
      </p>
      {tool.description !== undefined && <p class="tool-description">{tool.description}</p>}
      {tool.findings.length > 0 && (
        <section class="card" aria-labelledby="findings-h">
          <h2 id="findings-h">Scanner findings</h2>
          <ul>
            {tool.findings.map((f, i) => (
              <li key={i}>
                <Badge tone={f.severity === 'high' || f.severity === 'critical' ? 'bad' : 'warn'}>{f.severity}</Badge> <code>{f.rule}</code>: {f.explanation}
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="two-col">
        <section class="card" aria-labelledby="params-h">
          <h2 id="params-h">Parameters</h2>
          <SchemaView schema={tool.inputSchema} />
          {tool.outputSchema !== undefined && (
            <>
              <h3>Output</h3>
              <SchemaView schema={tool.outputSchema} empty="An object." />
            </>
          )}
          {tool.annotations !== undefined && (
            <details>
              <summary>Annotations</summary>
              <pre>{JSON.stringify(tool.annotations, null, 2)}</pre>
            </details>
          )}
          <details>
            <summary>Input schema (JSON)</summary>
            <pre>{JSON.stringify(tool.inputSchema, null, 2)}</pre>
          </details>
        </section>
        <TryIt key={`${server.endpoint} ${tool.name}`} tool={tool} endpoint={server.endpoint} token={credential?.token ?? null} />
      </div>
    </>
  );
}

function HealthView({ server }: { server: ServerDetail }) {
  return (
    <section aria-labelledby="health-h">
      <h2 id="health-h">Upstreams and replicas</h2>
      <p class="muted small">Refreshed every 3 seconds. A replica's breaker is closed when it takes calls, open while it is kept out after failures, half-open while it is tried again.</p>
      {server.upstreamList.length === 0 && <p class="empty">No upstreams.</p>}
      {server.upstreamList.map((u) => (
        <div key={u.name} class="card upstream-health">
          <div class="card-head">
            <h3>{u.title ?? u.name}</h3>
            <HealthBadge health={u.status} />
          </div>
          {u.title !== undefined && <p class="muted small">{u.name}</p>}
          {u.error !== undefined && <p class="notice error">{u.error}</p>}
          {u.replicas.length > 0 && (
            <div class="table-wrap">
              <table class="data">
                <caption class="visually-hidden">Replicas of {u.name}</caption>
                <thead>
                  <tr>
                    <th scope="col">replica</th>
                    <th scope="col">breaker</th>
                    <th scope="col">in flight</th>
                    <th scope="col">queued</th>
                    <th scope="col">last error</th>
                  </tr>
                </thead>
                <tbody>
                  {u.replicas.map((r) => (
                    <tr key={String(r.replica)}>
                      <th scope="row">{String(r.replica)}</th>
                      <td>
                        <HealthBadge health={r.state} />
                      </td>
                      <td>{r.inFlight}</td>
                      <td>{r.queued}</td>
                      <td class="wrap">{r.lastError ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      ))}
    </section>
  );
}

const WINDOWS = ['1h', '24h', '7d'] as const;

function UsageView({ server }: { server: ServerDetail }) {
  const [win, setWin] = useState<(typeof WINDOWS)[number]>('1h');
  const usage = useLoad(() => portalApi<Usage>(`usage?server=${serverSlug(server.name)}&window=${win}`), [server.name, win], 15_000);
  const u = usage.data;
  return (
    <section aria-labelledby="usage-h">
      <div class="section-head">
        <h2 id="usage-h">Usage</h2>
        <div class="segmented" role="group" aria-label="Time window">
          {WINDOWS.map((w) => (
            <button key={w} type="button" aria-pressed={w === win} onClick={() => setWin(w)}>
              {w === '1h' ? 'Last hour' : w === '24h' ? 'Last 24 hours' : 'Last 7 days'}
            </button>
          ))}
        </div>
        <Freshness at={usage.at} error={usage.error} />
      </div>
      <ErrorBox error={u === undefined ? usage.error : null} title="Could not load usage" />
      {u === undefined && usage.error === null && <Loading what="Loading usage" />}
      {u !== undefined && (
        <>
          {u.audit === false && <p class="notice warn">The audit log is off (audit.enabled: false), and usage is read from it: nothing to show.</p>}
          <p class="muted small">
            {plural(u.buckets.reduce((n, b) => n + b.calls, 0), 'call')}, {plural(u.buckets.reduce((n, b) => n + b.errors, 0), 'error')} in the window; one bar per {u.bucketSeconds >= 3600 ? `${u.bucketSeconds / 3600} h` : `${u.bucketSeconds / 60} min`}.
          </p>
          <div class="chart-grid">
            <CallsChart buckets={u.buckets} bucketSeconds={u.bucketSeconds} />
            <LatencyChart buckets={u.buckets} bucketSeconds={u.bucketSeconds} />
            <TopChart id="top-tools" caption="Top tools" rows={u.topTools.map((t) => ({ name: t.tool, calls: t.calls, errors: t.errors }))} />
            <TopChart id="top-principals" caption="Top principals" rows={u.topPrincipals.map((p) => ({ name: p.principal, calls: p.calls }))} />
          </div>
        </>
      )}
    </section>
  );
}

function Connect({ session, server }: { session: Session; server: ServerDetail }) {
  const credential = currentCredential();
  const canOAuth = session.auth.enabled && session.auth.login !== null;
  const [method, setMethod] = useState<'oauth' | 'key'>(credential?.method === 'key' || !canOAuth ? 'key' : 'oauth');
  const [key, setKey] = useState(credential?.method === 'key' ? credential.token : '');
  const url = `${session.publicUrl}${server.endpoint}`;
  const auth: ClientAuth = !session.auth.enabled ? { kind: 'none' } : method === 'oauth' ? { kind: 'oauth' } : { kind: 'key', key };
  const configs = useMemo(() => clientConfigs(server.name, url, auth), [server.name, url, auth.kind, key]);
  return (
    <section aria-labelledby="connect-h">
      <h2 id="connect-h">Connect a client</h2>
      <p>
        Endpoint URL: <code class="url">{url}</code> <CopyButton text={url} label="Copy URL" />
      </p>
      {server.sseEndpoint !== null && (
        <p class="muted small">
          Clients that only speak the old HTTP+SSE transport (2024-11-05) use <code>{session.publicUrl + server.sseEndpoint}</code>.
        </p>
      )}
      {session.auth.enabled ? (
        <fieldset class="card auth-choice">
          <legend>How the client authenticates</legend>
          {canOAuth && (
            <div class="field checkbox">
              <input type="radio" id="auth-oauth" name="auth" checked={method === 'oauth'} onChange={() => setMethod('oauth')} />
              <label for="auth-oauth">Sign in with {session.auth.login!.issuer} (the client discovers it through OAuth)</label>
            </div>
          )}
          <div class="field checkbox">
            <input type="radio" id="auth-key" name="auth" checked={method === 'key'} onChange={() => setMethod('key')} />
            <label for="auth-key">An API key in the Authorization header</label>
          </div>
          {method === 'key' && (
            <div class="field">
              <label for="auth-key-value">API key</label>
              <input id="auth-key-value" type="password" autocomplete="off" spellcheck={false} value={key} placeholder={KEY_PLACEHOLDER} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} aria-describedby="auth-key-hint" />
              <span id="auth-key-hint" class="hint">
                {credential?.method === 'key' ? 'Filled in with the key you signed in with; the snippets below include it.' : `Paste a key, or keep ${KEY_PLACEHOLDER} and fill it in later.`}
                {session.admin && ' Give clients a key of their own rather than an admin key.'}
              </span>
            </div>
          )}
        </fieldset>
      ) : (
        <p class="muted">Auth is off on this gateway: clients connect without credentials.</p>
      )}
      <div class="config-list">
        {configs.map((c) => (
          <section key={c.id} class="card config" aria-labelledby={`cfg-${c.id}`}>
            <div class="section-head">
              <h3 id={`cfg-${c.id}`}>
                {c.label}
                {c.file !== undefined && (
                  <span class="muted small">
                    {' '}
                    <code>{c.file}</code>
                  </span>
                )}
              </h3>
              <CopyButton text={c.text} label={`Copy ${c.label} config`} />
            </div>
            <p id={`cfg-${c.id}-hint`} class="muted small">
              {c.hint}
            </p>
            <pre class="code" tabIndex={0} aria-labelledby={`cfg-${c.id}`}>
              <code>{c.text}</code>
            </pre>
          </section>
        ))}
      </div>
    </section>
  );
}
