/**
 * "Try it": a form generated from a tool's input schema (or its arguments as JSON) that calls the tool through the
 * gateway — the same endpoint, policy and guards as any client — with the user's own credential, and shows the result.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText } from '../lib/api.ts';
import type { CallOutcome } from '../lib/mcp.ts';
import { McpClient } from '../lib/mcp.ts';
import type { FormValue, JsonSchema } from '../lib/schema.ts';
import { choices, collect, fieldKind, initialValue, itemsOf, propertiesOf, resolve, unwrapNullable } from '../lib/schema.ts';
import type { Tool } from '../lib/types.ts';

interface FieldProps {
  schema: JsonSchema;
  root: JsonSchema;
  name: string;
  path: string;
  idPrefix: string;
  required: boolean;
  value: FormValue;
  onChange: (v: FormValue) => void;
  errors: Record<string, string>;
}

function fieldId(prefix: string, path: string): string {
  return `${prefix}-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function Field(props: FieldProps) {
  const { root, name, path, idPrefix, required, value, onChange, errors } = props;
  const schema = unwrapNullable(resolve(props.schema, root), root);
  const kind = fieldKind(schema, root);
  const id = fieldId(idPrefix, path);
  const error = errors[path];
  const descId = schema.description !== undefined ? `${id}-desc` : undefined;
  const errId = error !== undefined ? `${id}-err` : undefined;
  const describedBy = [descId, errId].filter(Boolean).join(' ') || undefined;
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': error !== undefined ? true : undefined, 'aria-required': required || undefined };
  const label = (
    <label for={id}>
      {name}
      {required && <span class="req" aria-hidden="true"> *</span>}
      <span class="muted small"> {kind === 'json' ? '(JSON)' : kind === 'enum' ? '' : kind}</span>
    </label>
  );
  const help = (
    <>
      {schema.description !== undefined && (
        <span id={descId} class="hint">
          {schema.description}
        </span>
      )}
      {error !== undefined && (
        <span id={errId} class="field-error">
          {error}
        </span>
      )}
    </>
  );

  if (kind === 'object') {
    const obj = (value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {}) as Record<string, FormValue>;
    return (
      <fieldset class="field nested" aria-describedby={describedBy}>
        <legend>
          {name}
          {required && <span class="req" aria-hidden="true"> *</span>}
        </legend>
        {help}
        {propertiesOf(schema, root).map((p) => (
          <Field key={p.name} schema={p.schema} root={root} name={p.name} path={`${path}.${p.name}`} idPrefix={idPrefix} required={p.required} value={obj[p.name]} onChange={(v) => onChange({ ...obj, [p.name]: v })} errors={errors} />
        ))}
      </fieldset>
    );
  }
  if (kind === 'array') {
    const list = Array.isArray(value) ? value : [];
    const items = itemsOf(schema, root)!;
    return (
      <fieldset class="field nested" aria-describedby={describedBy}>
        <legend>
          {name}
          {required && <span class="req" aria-hidden="true"> *</span>} <span class="muted small">list</span>
        </legend>
        {help}
        {list.length === 0 && <p class="muted small">No items.</p>}
        {list.map((item, i) => (
          <div class="array-item" key={i}>
            <Field schema={items} root={root} name={`${name} ${i + 1}`} path={`${path}.${i}`} idPrefix={idPrefix} required value={item} onChange={(v) => onChange(list.map((x, j) => (j === i ? v : x)))} errors={errors} />
            <button type="button" class="secondary small-btn" onClick={() => onChange(list.filter((_, j) => j !== i))} aria-label={`Remove ${name} ${i + 1}`}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" class="secondary small-btn" onClick={() => onChange([...list, initialValue(items, root)])}>
          Add {name} item
        </button>
      </fieldset>
    );
  }
  if (kind === 'enum') {
    const options = choices(schema, root);
    return (
      <div class="field">
        {label}
        <select {...common} value={typeof value === 'string' ? value : ''} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
          <option value="" disabled={required}>
            {required ? 'Choose…' : '— not set —'}
          </option>
          {options.map((o) => (
            <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
              {typeof o === 'string' ? o : JSON.stringify(o)}
            </option>
          ))}
        </select>
        {help}
      </div>
    );
  }
  if (kind === 'boolean') {
    if (required || schema.default !== undefined) {
      return (
        <div class="field checkbox">
          <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
          {label}
          {help}
        </div>
      );
    }
    return (
      <div class="field">
        {label}
        <select {...common} value={value === true ? 'true' : value === false ? 'false' : ''} onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          onChange(v === '' ? undefined : v === 'true');
        }}>
          <option value="">— not set —</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
        {help}
      </div>
    );
  }
  if (kind === 'json') {
    return (
      <div class="field">
        {label}
        <textarea {...common} rows={3} spellcheck={false} value={typeof value === 'string' ? value : ''} onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)} />
        {help}
      </div>
    );
  }
  const placeholder = schema.examples?.[0] !== undefined ? String(schema.examples[0]) : schema.default !== undefined ? String(schema.default) : undefined;
  const long = kind === 'string' && (schema.maxLength === undefined || schema.maxLength > 200) && /text|content|body|query|prompt|message|markdown/i.test(name);
  return (
    <div class="field">
      {label}
      {long ? (
        <textarea {...common} rows={3} placeholder={placeholder} value={typeof value === 'string' ? value : ''} onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)} />
      ) : kind === 'string' ? (
        <input {...common} type="text" placeholder={placeholder} value={typeof value === 'string' ? value : ''} onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value)} />
      ) : (
        <input
          {...common}
          type="number"
          step={kind === 'integer' ? 1 : 'any'}
          inputMode={kind === 'integer' ? 'numeric' : 'decimal'}
          min={schema.minimum}
          max={schema.maximum}
          placeholder={placeholder}
          value={typeof value === 'string' ? value : ''}
          onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value)}
        />
      )}
      {help}
    </div>
  );
}

type Content = { type: string; text?: string; data?: string; mimeType?: string; resource?: unknown; uri?: string; name?: string };

function ResultView({ outcome }: { outcome: CallOutcome }) {
  const { response, notifications, ms } = outcome;
  if (response.error !== undefined) {
    return (
      <div class="result error" role="alert">
        <p>
          <strong>Error {response.error.code}:</strong> {response.error.message}
        </p>
        {response.error.data !== undefined && <pre>{JSON.stringify(response.error.data, null, 2)}</pre>}
      </div>
    );
  }
  const result = response.result ?? {};
  const content = (Array.isArray(result.content) ? result.content : []) as Content[];
  const isError = result.isError === true;
  return (
    <div class={`result${isError ? ' error' : ''}`}>
      <p class="small muted">
        {isError ? 'The tool reported an error' : 'Result'} in {ms} ms{notifications.length > 0 ? `, after ${notifications.length} notification${notifications.length === 1 ? '' : 's'}` : ''}
      </p>
      {content.map((c, i) => {
        if (c.type === 'text') return <pre key={i} class="result-text">{c.text}</pre>;
        if (c.type === 'image' && c.data !== undefined) return <img key={i} src={`data:${c.mimeType ?? 'image/png'};base64,${c.data}`} alt={`image ${i + 1} of the result`} class="result-image" />;
        if (c.type === 'audio' && c.data !== undefined) return <audio key={i} controls src={`data:${c.mimeType ?? 'audio/wav'};base64,${c.data}`} />;
        return <pre key={i}>{JSON.stringify(c, null, 2)}</pre>;
      })}
      {result.structuredContent !== undefined && (
        <>
          <h4>Structured content</h4>
          <pre>{JSON.stringify(result.structuredContent, null, 2)}</pre>
        </>
      )}
      <details>
        <summary>Raw response</summary>
        <pre>{JSON.stringify(response, null, 2)}</pre>
        {notifications.length > 0 && <pre>{notifications.map((n) => JSON.stringify(n)).join('\n')}</pre>}
      </details>
    </div>
  );
}

export function TryIt({ tool, endpoint, token }: { tool: Tool; endpoint: string; token: string | null }) {
  const schema = tool.inputSchema ?? { type: 'object' };
  const idPrefix = `try-${tool.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const [value, setValue] = useState<FormValue>(() => initialValue(schema, schema));
  const [mode, setMode] = useState<'form' | 'json'>(() => (fieldKind(schema, schema) === 'object' || propertiesOf(schema, schema).length === 0 ? 'form' : 'json'));
  const [jsonText, setJsonText] = useState('{}');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [running, setRunning] = useState(false);
  const [outcome, setOutcome] = useState<CallOutcome | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const client = useMemo(() => new McpClient(endpoint, token), [endpoint, token]);
  const formRef = useRef<HTMLFormElement>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => {
    abort.current?.abort();
    void client.close();
  }, [client]);

  const switchMode = (next: 'form' | 'json') => {
    if (next === 'json') {
      const c = collect(schema, value, schema);
      setJsonText(JSON.stringify(c.value ?? {}, null, 2));
    }
    setErrors({});
    setMode(next);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    let args: Record<string, unknown>;
    if (mode === 'json') {
      try {
        const parsed = JSON.parse(jsonText || '{}') as unknown;
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the arguments must be a JSON object');
        args = parsed as Record<string, unknown>;
        setErrors({});
      } catch (err) {
        setErrors({ '': errorText(err) });
        return;
      }
    } else {
      const c = collect(schema, value, schema);
      setErrors(c.errors);
      if (Object.keys(c.errors).length > 0) {
        // Focus the first field at fault, as the browser does for its own validation.
        const first = Object.keys(c.errors)[0];
        requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>(`#${fieldId(idPrefix, `.${first}`)}`)?.focus());
        return;
      }
      args = (c.value ?? {}) as Record<string, unknown>;
    }
    setRunning(true);
    setFailure(null);
    setOutcome(null);
    abort.current = new AbortController();
    try {
      setOutcome(await client.callTool(tool.name, args, abort.current.signal));
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setFailure(errorText(err));
    } finally {
      setRunning(false);
    }
  };

  const props = propertiesOf(schema, schema);
  const errorCount = Object.keys(errors).length;
  return (
    <section class="card try-it" aria-labelledby={`${idPrefix}-h`}>
      <div class="section-head">
        <h2 id={`${idPrefix}-h`}>Try it</h2>
        <div class="segmented" role="group" aria-label="Arguments as">
          <button type="button" aria-pressed={mode === 'form'} onClick={() => switchMode('form')}>
            Form
          </button>
          <button type="button" aria-pressed={mode === 'json'} onClick={() => switchMode('json')}>
            JSON
          </button>
        </div>
      </div>
      <p class="muted small">Calls {tool.name} through the gateway at {endpoint} as you: the same policy, limits and guards as any client.</p>
      <form ref={formRef} onSubmit={submit} noValidate>
        {mode === 'form' ? (
          props.length === 0 ? (
            <p class="muted">This tool takes no arguments.</p>
          ) : (
            props.map((p) => (
              <Field key={p.name} schema={p.schema} root={schema} name={p.name} path={`.${p.name}`} idPrefix={idPrefix} required={p.required} value={(value as Record<string, FormValue>)[p.name]} onChange={(v) => setValue({ ...(value as Record<string, FormValue>), [p.name]: v })} errors={Object.fromEntries(Object.entries(errors).map(([k, v]) => [`.${k}`, v]))} />
            ))
          )
        ) : (
          <div class="field">
            <label for={`${idPrefix}-json`}>Arguments (JSON object)</label>
            <textarea id={`${idPrefix}-json`} rows={8} spellcheck={false} value={jsonText} onInput={(e) => setJsonText((e.currentTarget as HTMLTextAreaElement).value)} aria-invalid={errors[''] !== undefined || undefined} aria-describedby={errors[''] !== undefined ? `${idPrefix}-json-err` : undefined} />
            {errors[''] !== undefined && (
              <span id={`${idPrefix}-json-err`} class="field-error">
                {errors['']}
              </span>
            )}
          </div>
        )}
        <div class="form-actions">
          <button type="submit" disabled={running}>
            {running ? 'Running…' : `Run ${tool.name}`}
          </button>
          {running && (
            <button type="button" class="secondary" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          )}
          {mode === 'form' && errorCount > 0 && (
            <span class="field-error" role="alert">
              {errorCount === 1 ? 'One field needs attention.' : `${errorCount} fields need attention.`}
            </span>
          )}
        </div>
      </form>
      <div aria-live="polite">
        {failure !== null && (
          <div class="notice error" role="alert">
            The call failed: {failure}
          </div>
        )}
        {outcome !== null && <ResultView outcome={outcome} />}
      </div>
    </section>
  );
}
