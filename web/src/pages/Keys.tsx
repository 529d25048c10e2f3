/** API keys (admin): the list, a form that creates one and shows it once, and revoke. */
import { useRef, useState } from 'preact/hooks';
import type { FieldError } from '../lib/api.ts';
import { adminApi, ApiError, errorText } from '../lib/api.ts';
import { ago, dateTime } from '../lib/format.ts';
import type { ApiKey } from '../lib/types.ts';
import { Badge, CopyButton, ErrorBox, Loading, PageHeader, useLoad } from '../components/ui.tsx';

function words(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function fieldErrors(fields: FieldError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) out[f.path.split('.')[0]] ??= f.message;
  return out;
}

export function Keys() {
  const keys = useLoad(() => adminApi<{ keys: ApiKey[] }>('GET', '/keys'), []);
  const [form, setForm] = useState({ owner: '', name: '', scopes: '', groups: '', expires: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [created, setCreated] = useState<(ApiKey & { key: string }) | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const createdRef = useRef<HTMLDivElement>(null);

  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });

  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFailure(null);
    if (form.owner.trim() === '') {
      setErrors({ owner: 'who the key is for, e.g. ci-bot' });
      document.getElementById('key-owner')?.focus();
      return;
    }
    setBusy(true);
    try {
      const body = { owner: form.owner.trim(), ...(form.name.trim() && { name: form.name.trim() }), scopes: words(form.scopes), groups: words(form.groups), ...(form.expires.trim() && { expires: form.expires.trim() }) };
      const key = await adminApi<ApiKey & { key: string }>('POST', '/keys', body);
      setCreated(key);
      setForm({ owner: '', name: '', scopes: '', groups: '', expires: '' });
      keys.reload();
      requestAnimationFrame(() => createdRef.current?.focus());
    } catch (err) {
      if (err instanceof ApiError && err.fields.length > 0) setErrors(fieldErrors(err.fields));
      else setFailure(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string) => {
    setConfirming(null);
    try {
      await adminApi('DELETE', `/keys/${encodeURIComponent(id)}`);
      keys.reload();
    } catch (err) {
      setFailure(errorText(err));
    }
  };

  const field = (k: keyof typeof form, label: string, hint: string, extra: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`key-${k}`}>{label}</label>
      <input id={`key-${k}`} value={form[k]} onInput={set(k)} aria-describedby={`key-${k}-hint${errors[k] ? ` key-${k}-err` : ''}`} aria-invalid={errors[k] ? true : undefined} {...extra} />
      <span id={`key-${k}-hint`} class="hint">
        {hint}
      </span>
      {errors[k] && (
        <span id={`key-${k}-err`} class="field-error">
          {errors[k]}
        </span>
      )}
    </div>
  );

  return (
    <>
      <PageHeader title="API keys" sub="For services and CI. A key is shown once, when it is created; the gateway keeps only its hash." />
      <section class="card" aria-labelledby="new-key-h">
        <h2 id="new-key-h">Create a key</h2>
        <form onSubmit={create} noValidate class="form-grid">
          {field('owner', 'Owner', 'Who or what the key is for: the principal id is key:<owner>.', { required: true, 'aria-required': true, autocomplete: 'off' })}
          {field('name', 'Name', 'Optional label, e.g. deploy.', { autocomplete: 'off' })}
          {field('scopes', 'Scopes', 'Space-separated, e.g. mcp:tools (gatehouse:admin makes an admin).', { autocomplete: 'off' })}
          {field('groups', 'Groups', 'Space-separated, for policy rules.', { autocomplete: 'off' })}
          {field('expires', 'Expires', 'A duration (30d, 12h) or a date (2027-01-31); empty for never.', { autocomplete: 'off' })}
          <div class="form-actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Creating…' : 'Create key'}
            </button>
          </div>
        </form>
        {failure !== null && (
          <div class="notice error" role="alert">
            {failure}
          </div>
        )}
      </section>
      {created !== null && (
        <div class="notice ok created-key" role="status" tabIndex={-1} ref={createdRef}>
          <p>
            <strong>Key created for {created.owner}.</strong> Copy it now: it will not be shown again.
          </p>
          <p class="secret">
            <code id="created-key">{created.key}</code> <CopyButton text={created.key} label="Copy key" />
          </p>
          <button type="button" class="link" onClick={() => setCreated(null)}>
            Done, hide it
          </button>
        </div>
      )}
      <section aria-labelledby="keys-h">
        <h2 id="keys-h">Keys</h2>
        <ErrorBox error={keys.data === undefined ? keys.error : null} title="Could not load the keys" />
        {keys.data === undefined && keys.error === null && <Loading />}
        {keys.data !== undefined && keys.data.keys.length === 0 && <p class="empty">No keys yet.</p>}
        {keys.data !== undefined && keys.data.keys.length > 0 && (
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th scope="col">id</th>
                  <th scope="col">owner</th>
                  <th scope="col">name</th>
                  <th scope="col">scopes</th>
                  <th scope="col">groups</th>
                  <th scope="col">status</th>
                  <th scope="col">created</th>
                  <th scope="col">expires</th>
                  <th scope="col">last used</th>
                  <th scope="col">
                    <span class="visually-hidden">actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.keys.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">
                      <code>{k.id}</code>
                    </th>
                    <td>{k.owner}</td>
                    <td>{k.name ?? '—'}</td>
                    <td>{k.scopes.join(' ') || '—'}</td>
                    <td>{k.groups.join(' ') || '—'}</td>
                    <td>
                      <Badge tone={k.status === 'active' ? 'ok' : 'neutral'}>{k.status}</Badge>
                    </td>
                    <td title={dateTime(k.createdAt)}>{ago(k.createdAt)}</td>
                    <td title={dateTime(k.expiresAt)}>{k.expiresAt === null ? 'never' : ago(k.expiresAt)}</td>
                    <td title={dateTime(k.lastUsedAt)}>{ago(k.lastUsedAt)}</td>
                    <td class="row-actions">
                      {k.status === 'active' &&
                        (confirming === k.id ? (
                          <span role="group" aria-label={`Revoke ${k.id}?`}>
                            <button type="button" class="danger small-btn" onClick={() => revoke(k.id)}>
                              Yes, revoke
                            </button>{' '}
                            <button type="button" class="secondary small-btn" onClick={() => setConfirming(null)}>
                              Keep
                            </button>
                          </span>
                        ) : (
                          <button type="button" class="secondary small-btn" onClick={() => setConfirming(k.id)} aria-label={`Revoke key ${k.id} of ${k.owner}`}>
                            Revoke
                          </button>
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
