/** The catalog: every server the gateway serves (the default endpoint and each virtual server), searchable. */
import { useState } from 'preact/hooks';
import { portalApi } from '../lib/api.ts';
import { plural } from '../lib/format.ts';
import { href, seg } from '../lib/router.ts';
import type { ServerSummary, Session } from '../lib/types.ts';
import { ErrorBox, Freshness, HealthBadge, Loading, PageHeader, useLoad } from '../components/ui.tsx';

export function serverSlug(name: string): string {
  return name === '' ? '_' : seg(name);
}

function matches(s: ServerSummary, q: string): boolean {
  if (q === '') return true;
  const hay = [s.name, s.title, s.description, s.endpoint, ...s.upstreams].join(' ').toLowerCase();
  return q.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

export function Catalog({ session }: { session: Session }) {
  const servers = useLoad(() => portalApi<{ servers: ServerSummary[] }>('servers'), [], 10_000);
  const [query, setQuery] = useState('');
  const list = servers.data?.servers.filter((s) => matches(s, query)) ?? [];
  return (
    <>
      <PageHeader title="Servers" sub={<>MCP endpoints of this gateway at {session.publicUrl}. Open one for its tools, health, usage and client setup.</>}>
        <Freshness at={servers.at} error={servers.error} />
      </PageHeader>
      <div role="search" class="search-bar">
        <label for="catalog-search">Search servers</label>
        <input id="catalog-search" type="search" placeholder="name, description or upstream" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <ErrorBox error={servers.data === undefined ? servers.error : null} title="Could not load the servers" />
      {servers.data === undefined && servers.error === null && <Loading what="Loading servers" />}
      {servers.data !== undefined && (
        <>
          <p class="muted small" role="status" aria-live="polite">
            {query === '' ? plural(servers.data.servers.length, 'server') : `${plural(list.length, 'server')} match “${query}”`}
          </p>
          <ul class="cards" aria-label="Servers">
            {list.map((s) => (
              <li key={s.name} class="card server-card">
                <div class="card-head">
                  <h2>
                    <a href={href(`/servers/${serverSlug(s.name)}`)}>{s.title}</a>
                  </h2>
                  <HealthBadge health={s.health} />
                </div>
                <p class="endpoint">
                  <code>{s.endpoint}</code>
                  {s.name === '' && <span class="badge neutral">default</span>}
                </p>
                <p>{s.description}</p>
                <p class="muted small">
                  {plural(s.tools, 'tool')} · {s.upstreams.length === 0 ? 'no upstreams' : s.upstreams.join(', ')}
                </p>
              </li>
            ))}
          </ul>
          {list.length === 0 && <p class="empty">No server matches. Clear the search to see them all.</p>}
        </>
      )}
    </>
  );
}
