/**
 * Upstreams (admin): the list with status and tool count, delete, and a form that registers one (a URL, or a
 * command with arguments) through PUT /admin/upstreams/{name}. The gateway validates it like the config file; its
 * 400 names the fields at fault, shown next to them.
 */
import { useState } from 'preact/hooks';
import type { FieldError } from '../lib/api.ts';
import { adminApi, ApiError, errorText } from '../lib/api.ts';
import { plural } from '../lib/format.ts';
import { href } from '../lib/router.ts';
import type { AdminUpstream } from '../lib/types.ts';
import { Badge, ErrorBox, Freshness, HealthBadge, Loading, PageHeader, useLoad } from '../components/ui.tsx';

type Form = { name: string; transport: 'url' | 'sse' | 'command'; url: string; command: string; args: string; env: string; title: string; description: string };
const EMPTY: Form = { name: '', transport: 'url', url: '', command: '', args: '', env: '', title: '', description: '' };

/** Which form field a server-side field path belongs to; the rest are shown above the form. */
function fieldOf(path: string): keyof Form | null {
  const head = path.split('.')[0];
  if (head === '(name)') return 'name';
  if (head === 'url' || head === 'replicas') return 'url';
  if (head === 'command' || head === 'args' || head === 'env' || head === 'title' || head === 'description') return head;
  return null;
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

function summary(u: AdminUpstream): string {
  const d = u.definition;
  if (typeof d.url === 'string') return d.url;
  if (Array.isArray(d.replicas)) return (d.replicas as { url?: string }[]).map((r) => r.url ?? '').join(', ');
  if (typeof d.command === 'string') return [d.command, ...((d.args as string[] | undefined) ?? [])].join(' ');
  return String(d.transport ?? '');
}

export function Upstreams() {
  const list = useLoad(() => adminApi<{ upstreams: AdminUpstream[] }>('GET', '/upstreams'), [], 5000);
  const [form, setForm] = useState<Form>(EMPTY);
  const [errors, setErrors] = useState<Partial<Record<keyof Form, string>>>({});
  const [general, setGeneral] = useState<FieldError[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState<AdminUpstream | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<string | null>(null);

  const set = (k: keyof Form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setGeneral([]);
    setFailure(null);
    setDone(null);
    const local: Partial<Record<keyof Form, string>> = {};
    if (form.name.trim() === '') local.name = 'a name for the upstream, e.g. tickets';
    if (form.transport !== 'command' && form.url.trim() === '') local.url = 'the MCP URL, e.g. https://tickets.internal/mcp';
    if (form.transport === 'command' && form.command.trim() === '') local.command = 'the program to run, e.g. npx';
    const env: Record<string, string> = {};
    for (const line of lines(form.env)) {
      const eq = line.indexOf('=');
      if (eq <= 0) local.env = `"${line}" is not NAME=value`;
      else env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (Object.keys(local).length > 0) {
      setErrors(local);
      document.getElementById(`up-${Object.keys(local)[0]}`)?.focus();
      return;
    }
    const body: Record<string, unknown> =
      form.transport === 'command' ? { command: form.command.trim(), args: lines(form.args) } : { url: form.url.trim(), ...(form.transport === 'sse' && { transport: 'sse' }) };
    if (Object.keys(env).length > 0) body.env = env;
    if (form.title.trim() !== '') body.title = form.title.trim();
    if (form.description.trim() !== '') body.description = form.description.trim();
    setBusy(true);
    try {
      const created = await adminApi<AdminUpstream>('PUT', `/upstreams/${encodeURIComponent(form.name.trim())}`, body);
      setDone(created);
      setForm(EMPTY);
      list.reload();
    } catch (err) {
      if (err instanceof ApiError && err.fields.length > 0) {
        const mine: Partial<Record<keyof Form, string>> = {};
        const rest: FieldError[] = [];
        for (const f of err.fields) {
          const k = fieldOf(f.path);
          if (k !== null && mine[k] === undefined) mine[k] = f.path.includes('.') ? `${f.path}: ${f.message}` : f.message;
          else if (k === null) rest.push(f);
        }
        setErrors(mine);
        setGeneral(rest);
        if (rest.length === 0 && Object.keys(mine).length === 0) setFailure(err.message);
        const first = Object.keys(mine)[0];
        if (first !== undefined) document.getElementById(`up-${first}`)?.focus();
      } else {
        setFailure(errorText(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const remove = async (name: string) => {
    setConfirming(null);
    try {
      await adminApi('DELETE', `/upstreams/${encodeURIComponent(name)}`);
      list.reload();
    } catch (err) {
      setFailure(errorText(err));
    }
  };

  const input = (k: keyof Form, label: string, hint: string, opts: { textarea?: boolean; required?: boolean; placeholder?: string } = {}) => {
    const describedBy = `up-${k}-hint${errors[k] ? ` up-${k}-err` : ''}`;
    const common = { id: `up-${k}`, value: form[k], onInput: set(k), 'aria-describedby': describedBy, 'aria-invalid': errors[k] ? true : undefined, 'aria-required': opts.required || undefined, placeholder: opts.placeholder, spellcheck: false, autocomplete: 'off' };
    return (
      <div class="field">
        <label for={`up-${k}`}>
          {label}
          {opts.required && <span class="req" aria-hidden="true"> *</span>}
        </label>
        {opts.textarea ? <textarea rows={3} {...common} /> : <input {...common} />}
        <span id={`up-${k}-hint`} class="hint">
          {hint}
        </span>
        {errors[k] && (
          <span id={`up-${k}-err`} class="field-error">
            {errors[k]}
          </span>
        )}
      </div>
    );
  };

  const ups = list.data?.upstreams ?? [];
  return (
    <>
      <PageHeader title="Upstreams" sub="The MCP servers behind the gateway. Changes made here apply live and are kept beside the config file.">
        <Freshness at={list.at} error={list.error} />
      </PageHeader>
      <section class="card" aria-labelledby="reg-h">
        <h2 id="reg-h">Register an upstream</h2>
        <form onSubmit={submit} noValidate>
          {general.length > 0 && (
            <div class="notice error" role="alert">
              <p>The gateway did not accept it:</p>
              <ul>
                {general.map((f, i) => (
                  <li key={i}>
                    <code>{f.path}</code>: {f.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <div class="form-grid">
            {input('name', 'Name', 'Letters, digits, "_", "-" and "."; tools are listed as <name>__<tool>.', { required: true, placeholder: 'tickets' })}
            <fieldset class="field">
              <legend>Transport</legend>
              <div class="field checkbox">
                <input type="radio" id="up-t-url" name="transport" checked={form.transport === 'url'} onChange={() => setForm({ ...form, transport: 'url' })} />
                <label for="up-t-url">Streamable HTTP URL</label>
              </div>
              <div class="field checkbox">
                <input type="radio" id="up-t-sse" name="transport" checked={form.transport === 'sse'} onChange={() => setForm({ ...form, transport: 'sse' })} />
                <label for="up-t-sse">Legacy SSE URL (2024-11-05)</label>
              </div>
              <div class="field checkbox">
                <input type="radio" id="up-t-command" name="transport" checked={form.transport === 'command'} onChange={() => setForm({ ...form, transport: 'command' })} />
                <label for="up-t-command">Command (stdio)</label>
              </div>
            </fieldset>
            {form.transport !== 'command' ? (
              input('url', 'URL', 'Checked against the allowlist and SSRF rules.', { required: true, placeholder: form.transport === 'sse' ? 'https://legacy.internal/sse' : 'https://tickets.internal/mcp' })
            ) : (
              <>
                {input('command', 'Command', 'The program, e.g. npx or node.', { required: true, placeholder: 'npx' })}
                {input('args', 'Arguments', 'One per line.', { textarea: true, placeholder: '-y\n@modelcontextprotocol/server-everything' })}
                {input('env', 'Environment', 'NAME=value, one per line; shown masked afterwards.', { textarea: true })}
              </>
            )}
            {input('title', 'Title', 'Optional, shown in the catalog.')}
            {input('description', 'Description', 'Optional.')}
          </div>
          <div class="form-actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Starting it…' : 'Register'}
            </button>
            {busy && <span class="muted small">The answer comes once it has started and listed its tools.</span>}
          </div>
        </form>
        <div aria-live="polite">
          {done !== null && (
            <div class={`notice ${done.status === 'ready' ? 'ok' : 'warn'}`} role="status">
              <strong>{done.name}</strong> registered: {done.status}, {plural(done.tools, 'tool')}
              {done.error !== undefined && <> — {done.error}</>}. <a href={href('/servers/_')}>See its tools in the catalog</a>.
            </div>
          )}
          {failure !== null && (
            <div class="notice error" role="alert">
              {failure}
            </div>
          )}
        </div>
      </section>
      <section aria-labelledby="ups-h">
        <h2 id="ups-h">Registered upstreams</h2>
        <ErrorBox error={list.data === undefined ? list.error : null} title="Could not load the upstreams" />
        {list.data === undefined && list.error === null && <Loading />}
        {list.data !== undefined && ups.length === 0 && <p class="empty">No upstreams.</p>}
        {ups.length > 0 && (
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th scope="col">name</th>
                  <th scope="col">status</th>
                  <th scope="col">tools</th>
                  <th scope="col">where</th>
                  <th scope="col">source</th>
                  <th scope="col">
                    <span class="visually-hidden">actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {ups.map((u) => (
                  <tr key={u.name}>
                    <th scope="row">{u.name}</th>
                    <td>
                      <HealthBadge health={u.status} />
                      {u.error !== undefined && <span class="small wrap"> {u.error}</span>}
                    </td>
                    <td>{u.tools}</td>
                    <td class="wrap">
                      <code>{summary(u)}</code>
                    </td>
                    <td>
                      <Badge tone={u.source === 'admin' ? 'info' : 'neutral'} title={u.source === 'admin' ? `managed here${u.updatedBy ? `, last by ${u.updatedBy}` : ''}` : 'from the config file'}>
                        {u.source === 'admin' ? 'admin API' : 'config file'}
                      </Badge>
                    </td>
                    <td class="row-actions">
                      {confirming === u.name ? (
                        <span role="group" aria-label={`Delete ${u.name}?`}>
                          <button type="button" class="danger small-btn" onClick={() => remove(u.name)}>
                            Yes, delete
                          </button>{' '}
                          <button type="button" class="secondary small-btn" onClick={() => setConfirming(null)}>
                            Keep
                          </button>
                        </span>
                      ) : (
                        <button type="button" class="secondary small-btn" onClick={() => setConfirming(u.name)} aria-label={`Delete upstream ${u.name}`}>
                          Delete
                        </button>
                      )}
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
