/** Small shared pieces: data loading hooks, badges, the copy button, error and empty states. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../lib/api.ts';
import type { Health, Tool, ToolAnnotations } from '../lib/types.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** When the data last arrived. */
  at: number | null;
}

/**
 * Load with `load` whenever `deps` change, and again every `everyMs` (0 = once) while the page is visible. A failed
 * refresh keeps the last data and shows the error beside it.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs = 0): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean; at: number | null }>({ data: undefined, error: null, loading: true, at: null });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      loadRef.current().then(
        (data) => live && setState({ data, error: null, loading: false, at: Date.now() }),
        (error: unknown) => live && setState((s) => ({ ...s, error, loading: false })),
      ).finally(() => {
        if (live && everyMs > 0) timer = setTimeout(run, document.hidden ? everyMs * 4 : everyMs);
      });
    };
    setState((s) => ({ ...s, loading: true }));
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // The caller names what the load depends on (`deps`); `load` itself is read through a ref.
  }, [...deps, tick, everyMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function ErrorBox({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div class="notice error" role="alert">
      <strong>{title}:</strong> {errorText(error)}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status">
      {what}…
    </p>
  );
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'ok' | 'warn' | 'bad' | 'info' | 'neutral'; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

const HEALTH_TONE: Record<string, 'ok' | 'warn' | 'bad' | 'neutral'> = { ready: 'ok', degraded: 'warn', down: 'bad', starting: 'warn', failed: 'bad', closed: 'ok', 'half-open': 'warn', open: 'bad', disabled: 'neutral' };

export function HealthBadge({ health, label }: { health: Health | string; label?: string }) {
  return <Badge tone={HEALTH_TONE[health] ?? 'neutral'}>{label ?? health}</Badge>;
}

export function VerdictBadge({ tool }: { tool: Pick<Tool, 'verdict' | 'findings'> }) {
  if (tool.verdict === null) return null;
  const tone = tool.verdict === 'allow' ? 'ok' : tool.verdict === 'warn' ? 'warn' : 'bad';
  const text = tool.verdict === 'allow' ? 'scan: clean' : tool.verdict === 'warn' ? 'scan: warning' : 'scan: quarantine';
  const title = tool.findings.length === 0 ? 'The definition scanner found nothing' : tool.findings.map((f) => `${f.rule}: ${f.explanation}`).join('\n');
  return (
    <Badge tone={tone} title={title}>
      {text}
    </Badge>
  );
}

/** The hints of MCP tool annotations (they are hints from the upstream, not guarantees). */
export function AnnotationBadges({ annotations }: { annotations: ToolAnnotations | undefined }) {
  if (annotations === undefined) return null;
  const out = [];
  if (annotations.readOnlyHint === true) out.push(<Badge tone="info" title="readOnlyHint: does not change its environment">read-only</Badge>);
  if (annotations.destructiveHint === true && annotations.readOnlyHint !== true) out.push(<Badge tone="warn" title="destructiveHint: may delete or overwrite">destructive</Badge>);
  if (annotations.idempotentHint === true) out.push(<Badge tone="info" title="idempotentHint: calling again with the same arguments has no further effect">idempotent</Badge>);
  if (annotations.openWorldHint === true) out.push(<Badge tone="neutral" title="openWorldHint: talks to the outside world">open world</Badge>);
  if (annotations.openWorldHint === false) out.push(<Badge tone="neutral" title="openWorldHint false: a closed domain">closed world</Badge>);
  return <>{out}</>;
}

/** Copies `text` to the clipboard and says so (to screen readers too). */
export function CopyButton({ text, label = 'Copy', describedBy }: { text: string; label?: string; describedBy?: string }) {
  const [status, setStatus] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setStatus('Copied');
    } catch (err) {
      setStatus(`Copy failed: ${errorText(err)}`);
    }
    setTimeout(() => setStatus(''), 2500);
  };
  return (
    <span class="copy">
      <button type="button" class="secondary" onClick={copy} aria-describedby={describedBy}>
        {label}
      </button>
      <span class="copy-status" role="status" aria-live="polite">
        {status}
      </span>
    </span>
  );
}

/** A page heading with optional actions beside it. */
export function PageHeader({ title, children, sub }: { title: ComponentChildren; sub?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {sub !== undefined && <p class="muted sub">{sub}</p>}
      </div>
      {children !== undefined && <div class="actions">{children}</div>}
    </div>
  );
}

/** "updated 3s ago", re-rendered every second. */
export function Freshness({ at, error }: { at: number | null; error?: unknown }) {
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (at === null) return null;
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  return (
    <span class={`muted small${error ? ' stale' : ''}`}>
      {error ? 'refresh failed; ' : ''}updated {s}s ago
    </span>
  );
}
