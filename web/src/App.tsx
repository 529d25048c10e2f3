/**
 * The portal's shell: who is signed in (GET /portal/api/session), the header with navigation (admin pages only for
 * admins), sign-in when the gateway needs credentials, and the page for the current route.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adminApi, currentCredential, errorText, onUnauthorized, portalApi, setCredential } from './lib/api.ts';
import { href, navigate, segments, useRoute } from './lib/router.ts';
import type { Approval, Session } from './lib/types.ts';
import { useLoad } from './components/ui.tsx';
import { Approvals } from './pages/Approvals.tsx';
import { Catalog } from './pages/Catalog.tsx';
import { Keys } from './pages/Keys.tsx';
import { Callback, Login } from './pages/Login.tsx';
import { ServerPage } from './pages/ServerPage.tsx';
import { Upstreams } from './pages/Upstreams.tsx';

function NavLink({ route, current, children, exact = false }: { route: string; current: string; children: ComponentChildren; exact?: boolean }) {
  const active = exact ? current === route : current === route || current.startsWith(`${route}/`);
  return (
    <a href={href(route)} aria-current={active ? 'page' : undefined}>
      {children}
    </a>
  );
}

function PendingCount() {
  const pending = useLoad(() => adminApi<{ approvals: Approval[] }>('GET', '/approvals'), [], 15_000);
  const n = pending.data?.approvals.length ?? 0;
  if (n === 0) return null;
  return (
    <span class="count" aria-label={`${n} waiting`}>
      {n}
    </span>
  );
}

function Header({ session, route, onSignOut }: { session: Session; route: string; onSignOut: () => void }) {
  const principal = session.principal;
  const signedIn = principal !== null && principal.kind !== 'anonymous';
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <a class="brand" href={href('/')}>
        <img src="favicon.svg" alt="" width="24" height="24" /> Gatehouse
      </a>
      <nav aria-label="Main">
        <NavLink route="/servers" current={route === '/' ? '/servers' : route}>
          Servers
        </NavLink>
        {session.admin && (
          <>
            <NavLink route="/admin/approvals" current={route}>
              Approvals <PendingCount />
            </NavLink>
            <NavLink route="/admin/keys" current={route}>
              API keys
            </NavLink>
            <NavLink route="/admin/upstreams" current={route}>
              Upstreams
            </NavLink>
          </>
        )}
      </nav>
      <div class="who">
        {signedIn ? (
          <>
            <span class="principal" title={`${principal.kind}${principal.scopes.length ? ` · scopes: ${principal.scopes.join(' ')}` : ''}`}>
              {principal.id}
              {session.admin && <span class="badge info">admin</span>}
            </span>
            <button type="button" class="secondary" onClick={onSignOut}>
              Sign out
            </button>
          </>
        ) : (
          <span class="muted small">{session.auth.enabled ? 'not signed in' : 'auth off'}</span>
        )}
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no such page in the portal. <a href={href('/')}>See the servers</a>.
      </p>
    </div>
  );
}

function Forbidden() {
  return (
    <div class="notice warn" role="alert">
      <h1>Admins only</h1>
      <p>This page needs an admin: a token or API key with the gateway's admin scope or group (admin.scopes, admin.groups).</p>
    </div>
  );
}

function Page({ session, route }: { session: Session; route: string }) {
  const [first, second, ...rest] = segments(route);
  if (first === undefined || (first === 'servers' && second === undefined)) return <Catalog session={session} />;
  if (first === 'servers') return <ServerPage key={second} session={session} slug={second} rest={rest} />;
  if (first === 'admin') {
    if (!session.admin) return <Forbidden />;
    if (second === 'approvals') return <Approvals id={rest[0]} />;
    if (second === 'keys') return <Keys />;
    if (second === 'upstreams') return <Upstreams />;
  }
  return <NotFound />;
}

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [reason, setReason] = useState<string | undefined>(undefined);

  const load = () =>
    portalApi<Session>('session').then(
      (s) => {
        setSession(s);
        setFailure(null);
      },
      (err: unknown) => setFailure(errorText(err)),
    );

  useEffect(() => {
    void load();
    // A credential that stops working (expired, revoked) sends the user back to sign-in.
    onUnauthorized(() => {
      if (currentCredential() !== null) setReason('Your sign-in is no longer accepted (expired or revoked). Sign in again.');
      setCredential(null);
      void load();
    });
  }, []);

  useEffect(() => {
    const title = segments(route);
    document.title = title.length === 0 ? 'Servers · Gatehouse' : `${title.slice(-1)[0]} · Gatehouse`;
  }, [route]);

  const signOut = () => {
    setCredential(null);
    setReason(undefined);
    navigate('/');
    void load();
  };

  if (session === null) {
    return (
      <main id="main" tabIndex={-1} class="boot">
        {failure === null ? (
          <p role="status">Loading…</p>
        ) : (
          <div class="notice error" role="alert">
            <p>The portal could not reach the gateway: {failure}</p>
            <button type="button" onClick={() => void load()}>
              Try again
            </button>
          </div>
        )}
      </main>
    );
  }
  const onSignedIn = (s: Session) => {
    setReason(undefined);
    setSession(s);
  };
  const isCallback = segments(route)[0] === 'callback';
  const needsLogin = session.auth.enabled && session.principal === null;
  return (
    <>
      <Header session={session} route={route} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {isCallback ? <Callback onSignedIn={onSignedIn} /> : needsLogin ? <Login session={session} onSignedIn={onSignedIn} reason={reason} /> : <Page session={session} route={route} />}
      </main>
      <footer class="footer">
        <span>
          MCP endpoint <code>{session.publicUrl + session.endpoints.mcp}</code>
        </span>
        <a href="/admin/openapi.json">Admin API (OpenAPI)</a>
      </footer>
    </>
  );
}
