/** Sign in: with the IdP (authorization code + PKCE in the browser) when the gateway names one, or with a pasted API key. */
import { useEffect, useState } from 'preact/hooks';
import { errorText, portalApi, setCredential } from '../lib/api.ts';
import { finishLogin, startLogin } from '../lib/auth.ts';
import { href, navigate } from '../lib/router.ts';
import type { Session } from '../lib/types.ts';

export function Login({ session, onSignedIn, reason }: { session: Session; onSignedIn: (s: Session) => void; reason?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const login = session.auth.login;

  const withIdp = async () => {
    if (login === null) return;
    setBusy(true);
    try {
      const returnTo = `${location.pathname.slice(href('/').length - 1)}${location.search}`;
      const url = await startLogin(sessionStorage, login, {
        redirectUri: new URL(href('/callback'), location.origin).toString(),
        resource: `${session.publicUrl}${session.endpoints.mcp}`,
        returnTo: returnTo.startsWith('/callback') ? '/' : returnTo,
      });
      location.assign(url.toString());
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  const withKey = async (e: Event) => {
    e.preventDefault();
    const token = key.trim();
    if (token === '') {
      setError('Paste an API key (gh_…) or an access token.');
      document.getElementById('login-key')?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    setCredential({ token, method: 'key' });
    try {
      const next = await portalApi<Session>('session');
      if (next.principal === null) throw new Error('The gateway did not accept that key (unknown, expired or revoked).');
      onSignedIn(next);
    } catch (err) {
      setCredential(null);
      setError(errorText(err));
      setBusy(false);
      document.getElementById('login-key')?.focus();
    }
  };

  return (
    <div class="login">
      <h1>Sign in to Gatehouse</h1>
      {reason !== undefined && (
        <p class="notice warn" role="status">
          {reason}
        </p>
      )}
      {login !== null && (
        <section class="card" aria-labelledby="idp-h">
          <h2 id="idp-h">With your organisation's account</h2>
          <button type="button" class="wide" onClick={withIdp} disabled={busy}>
            Sign in with {login.issuer}
          </button>
        </section>
      )}
      <section class="card" aria-labelledby="key-h">
        <h2 id="key-h">{login !== null ? 'Or with an API key' : 'With an API key'}</h2>
        <form onSubmit={withKey} noValidate>
          <div class="field">
            <label for="login-key">API key or admin key</label>
            <input id="login-key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} aria-describedby="login-key-hint" aria-invalid={error !== null || undefined} placeholder="gh_…" />
            <span id="login-key-hint" class="hint">
              Kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>. Create one with <code>gatehouse keys create</code>.
            </span>
          </div>
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      </section>
      {error !== null && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** /callback: the IdP sent the browser back with a code; trade it for a token, then go where the user was. */
export function Callback({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    finishLogin(sessionStorage, new URLSearchParams(location.search))
      .then(async ({ credential, returnTo }) => {
        setCredential(credential);
        const next = await portalApi<Session>('session');
        if (next.principal === null) throw new Error('The gateway did not accept the token the identity provider issued (check its audience and scopes).');
        if (!live) return;
        onSignedIn(next);
        navigate(returnTo, { replace: true });
      })
      .catch((err: unknown) => {
        setCredential(null);
        if (live) setError(errorText(err));
      });
    return () => {
      live = false;
    };
  }, []);
  return (
    <div class="login">
      <h1>Signing in…</h1>
      {error === null ? (
        <p role="status">Finishing the sign-in with your identity provider.</p>
      ) : (
        <>
          <p class="notice error" role="alert">
            {error}
          </p>
          <a href={href('/')}>Back to the portal</a>
        </>
      )}
    </div>
  );
}
