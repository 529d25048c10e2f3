/**
 * Quarantined definitions (admin): the list, and one with the approved and pending versions side by side, changed
 * lines highlighted, to approve (listed and callable again at once) or reject (stays quarantined).
 */
import { useState } from 'preact/hooks';
import { adminApi, errorText } from '../lib/api.ts';
import type { Row } from '../lib/diff.ts';
import { sideBySide } from '../lib/diff.ts';
import { ago, dateTime, plural } from '../lib/format.ts';
import { href, navigate, seg } from '../lib/router.ts';
import type { Approval, ApprovalDetail } from '../lib/types.ts';
import { Badge, ErrorBox, Freshness, Loading, PageHeader, useLoad } from '../components/ui.tsx';

/** The store names kinds by their list (tools, prompts, …); one of them is a tool, a prompt, … */
const KIND: Record<string, string> = { tools: 'tool', prompts: 'prompt', resources: 'resource', resourceTemplates: 'resource template' };
const kindOf = (kind: string) => KIND[kind] ?? kind;

const REASON: Record<string, string> = { changed: 'changed upstream', new: 'new (approve mode)', flagged: 'flagged by the scanner' };

export function Approvals({ id }: { id: string | undefined }) {
  return id === undefined ? <ApprovalList /> : <ApprovalView id={id} />;
}

function ApprovalList() {
  const [all, setAll] = useState(false);
  const list = useLoad(() => adminApi<{ approvals: Approval[] }>('GET', `/approvals${all ? '?all=true' : ''}`), [all], 5000);
  const items = list.data?.approvals ?? [];
  return (
    <>
      <PageHeader title="Approvals" sub="Definitions held back until an admin decides: a tool, prompt or resource that changed since it was approved, or that the scanner flagged.">
        <Freshness at={list.at} error={list.error} />
      </PageHeader>
      <div class="field checkbox">
        <input type="checkbox" id="approvals-all" checked={all} onChange={(e) => setAll((e.currentTarget as HTMLInputElement).checked)} />
        <label for="approvals-all">Show rejected ones too</label>
      </div>
      <ErrorBox error={list.data === undefined ? list.error : null} title="Could not load approvals" />
      {list.data === undefined && list.error === null && <Loading />}
      {list.data !== undefined && items.length === 0 && <p class="empty">Nothing waits for approval.</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">{plural(items.length, 'approval')}</caption>
            <thead>
              <tr>
                <th scope="col">definition</th>
                <th scope="col">upstream</th>
                <th scope="col">why</th>
                <th scope="col">seen</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}>
                  <th scope="row">
                    <a href={href(`/admin/approvals/${seg(a.id)}`)}>
                      {kindOf(a.kind)} <code>{a.key}</code>
                    </a>
                  </th>
                  <td>{a.upstream}</td>
                  <td>{REASON[a.reason] ?? a.reason}</td>
                  <td title={dateTime(a.firstSeen)}>{ago(a.firstSeen)}</td>
                  <td>{a.status === 'pending' ? <Badge tone="warn">pending</Badge> : <Badge tone="bad">rejected</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Cell({ side, row, which }: { side: Row['left']; row: Row; which: 'left' | 'right' }) {
  if (side === null) return <td class="diff-empty" colSpan={2} />;
  const kind = row.kind === 'same' ? 'same' : which === 'left' ? 'del' : 'add';
  const span = row.spans?.[which];
  const text = span === undefined ? side.text : (
    <>
      {side.text.slice(0, span[0])}
      <mark>{side.text.slice(span[0], span[1])}</mark>
      {side.text.slice(span[1])}
    </>
  );
  return (
    <>
      <td class={`diff-n ${kind}`}>{side.n}</td>
      <td class={`diff-line ${kind}`}>
        {kind !== 'same' && <span class="visually-hidden">{kind === 'del' ? 'removed: ' : 'added: '}</span>}
        {text}
      </td>
    </>
  );
}

export function SideBySide({ before, after, leftTitle, rightTitle }: { before: string; after: string; leftTitle: string; rightTitle: string }) {
  const rows = sideBySide(before, after);
  const changed = rows.filter((r) => r.kind !== 'same').length;
  return (
    <div class="diff-wrap">
      <p class="muted small">{changed === 0 ? 'No line differs.' : `${plural(changed, 'line')} differ.`}</p>
      <table class="diff">
        <colgroup>
          <col class="diff-num" />
          <col />
          <col class="diff-num" />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th scope="col" colSpan={2}>
              {leftTitle}
            </th>
            <th scope="col" colSpan={2}>
              {rightTitle}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} class={r.kind}>
              <Cell side={r.left} row={r} which="left" />
              <Cell side={r.right} row={r} which="right" />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ApprovalView({ id }: { id: string }) {
  const detail = useLoad(() => adminApi<ApprovalDetail>('GET', `/approvals/${seg(id)}`), [id]);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const a = detail.data;
  const decide = async (approve: boolean) => {
    setBusy(true);
    setFailure(null);
    try {
      await adminApi('POST', `/approvals/${seg(id)}/${approve ? 'approve' : 'reject'}`);
      setResult(approve ? `Approved: ${a?.key} is listed and callable again.` : `Rejected: ${a?.key} stays quarantined.`);
      if (!approve) detail.reload();
    } catch (err) {
      setFailure(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <a href={href('/admin/approvals')}>Approvals</a> <span aria-hidden="true">/</span> <span aria-current="page">{id}</span>
      </nav>
      <ErrorBox error={a === undefined ? detail.error : null} title="Could not load this approval" />
      {a === undefined && detail.error === null && <Loading />}
      {a !== undefined && (
        <>
          <PageHeader
            title={
              <>
                {kindOf(a.kind)} <code>{a.key}</code>
              </>
            }
            sub={
              <>
                from {a.upstream} · {REASON[a.reason] ?? a.reason} · first seen {dateTime(a.firstSeen)}
                {a.status === 'rejected' && <> · rejected by {a.rejectedBy}</>}
              </>
            }
          >
            {result === null && (
              <>
                <button type="button" onClick={() => decide(true)} disabled={busy}>
                  Approve
                </button>
                {a.status === 'pending' && (
                  <button type="button" class="danger" onClick={() => decide(false)} disabled={busy}>
                    Reject
                  </button>
                )}
              </>
            )}
          </PageHeader>
          <div aria-live="polite">
            {result !== null && (
              <div class="notice ok" role="status">
                {result}{' '}
                <button type="button" class="link" onClick={() => navigate('/admin/approvals')}>
                  Back to the list
                </button>
              </div>
            )}
            {failure !== null && (
              <div class="notice error" role="alert">
                {failure}
              </div>
            )}
          </div>
          {a.findings !== undefined && a.findings.length > 0 && (
            <section class="card" aria-labelledby="af-h">
              <h2 id="af-h">Scanner findings</h2>
              <ul>
                {a.findings.map((f, i) => (
                  <li key={i}>
                    <Badge tone="warn">{f.severity}</Badge> <code>{f.rule}</code>: {f.explanation}
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section aria-labelledby="diff-h">
            <h2 id="diff-h">What changed</h2>
            <SideBySide
              before={a.before}
              after={a.after}
              leftTitle={a.approved === null ? 'Nothing approved yet' : `Approved ${a.approved.hash.slice(0, 12)} (by ${a.approved.approvedBy})`}
              rightTitle={`Pending ${a.hash.slice(0, 12)}`}
            />
          </section>
        </>
      )}
    </>
  );
}
