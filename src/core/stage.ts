/**
 * The guard pipeline's contract. A stage is a small object with a stable `name` and up to three phases:
 * `onRequest` (in configured order, before routing), `onResponse` (in reverse order, after the upstream
 * answered) and `onList` (filters/rewrites list results). Each phase returns a verdict: continue, continue with
 * a changed message, reject with a GatehouseError, or (request phase) respond with a local result — the last two end
 * the chain (Envoy's continue/stop and local reply, agentgateway's Pass/Mutated/Reject).
 */
import type { GatehouseError } from './errors.ts';
import type { JsonObject } from './jsonrpc.ts';
import type { Principal } from '../auth/principal.ts';

export interface StageContext {
  readonly method: string;
  readonly sessionId: string;
  /** The client's JSON-RPC id of the call (absent for contexts made outside the router): for log lines. */
  readonly requestId?: string | number;
  readonly principal: Principal;
  readonly virtualServer: string;
  /**
   * What the request addresses, resolved before the request phase runs: for tools/call and prompts/get the name as
   * the virtual server lists it, for resources/read and (un)subscribe the URI; null for other methods.
   */
  readonly target: string | null;
  /** The upstream that serves `target`, and the name the upstream knows it by. */
  readonly upstream: string | null;
  readonly original: string | null;
  /** The upstream behind a listed item (onList): `kind` is tools | prompts | resources | resourceTemplates. */
  upstreamOf(kind: string, item: JsonObject): string | null;
  /** The virtual server's list of `kind` as the stages before `stage` leave it (e.g. policy-filtered tools). */
  listBefore(stage: string, kind: string): readonly JsonObject[];
  /** Serve another request for the same session through the whole pipeline (a meta-tool calling a real tool). */
  dispatch(method: string, params: JsonObject | undefined): Promise<JsonObject>;
  /** Send a notification to the session (e.g. notifications/tools/list_changed after its list changed). */
  notify(method: string, params?: JsonObject): void;
  /** Record a finding with the call in the audit log (optional: contexts made outside the router may lack it). */
  addFinding?(finding: StageFinding): void;
  /** Set when the call is traced: the pipeline opens a span per stage it runs (src/observe/tracing.ts). */
  readonly tracer?: StageTracer;
}

/** The ids a stage's log line carries, so it can be matched with the call's audit record, trace and other lines. */
export function callIds(ctx: StageContext): { session: string; request: string | number | undefined } {
  return { session: ctx.sessionId, request: ctx.requestId };
}

/** Spans of the stages a traced call runs through; `end` is told the verdict, or the error a stage threw. */
export interface StageTracer {
  start(stage: string, phase: 'request' | 'response'): { end(verdict: string, err?: unknown): void };
}

export type Verdict<T> = { action: 'continue' } | { action: 'mutate'; value: T } | { action: 'reject'; error: GatehouseError };

/** A request-phase verdict may also answer the request itself. */
export type RequestVerdict = Verdict<JsonObject | undefined> | { action: 'respond'; value: JsonObject };

/** The request phase's answer when a stage responded locally: the router returns `result` without routing. */
export class LocalReply {
  readonly result: JsonObject;
  constructor(result: JsonObject) {
    this.result = result;
  }
}

export const CONTINUE: Verdict<never> = Object.freeze({ action: 'continue' });

/** Which stage refused a request (and by which rule, when the stage names one): for the audit log, never the wire. */
export interface Rejection {
  readonly stage: string;
  readonly phase: 'request' | 'response';
  readonly rule: string | null;
}

/** Something a stage noticed about a call (a redacted secret, a verdict), recorded with it in the audit log. */
export interface StageFinding {
  readonly stage: string;
  readonly kind: string;
  readonly detail?: string;
}

const REJECTION = Symbol.for('gatehouse.rejection');

/** The stage that refused, when `err` came out of a pipeline's reject verdict; null otherwise. */
export function rejectionOf(err: unknown): Rejection | null {
  return typeof err === 'object' && err !== null ? ((err as { [REJECTION]?: Rejection })[REJECTION] ?? null) : null;
}

/** A stage names the rule behind the error it rejects with (the pipeline adds stage and phase). Returns `err`. */
export function withRule<E extends object>(err: E, rule: string | null): E {
  (err as { [REJECTION]?: Rejection })[REJECTION] = { stage: '', phase: 'request', rule };
  return err;
}

function rejected(err: GatehouseError, stage: string, phase: 'request' | 'response'): GatehouseError {
  const rule = rejectionOf(err)?.rule ?? null;
  (err as { [REJECTION]?: Rejection })[REJECTION] = { stage, phase, rule };
  return err;
}

export interface Stage {
  readonly name: string;
  onRequest?(ctx: StageContext, params: JsonObject | undefined): RequestVerdict | Promise<RequestVerdict>;
  onResponse?(ctx: StageContext, result: JsonObject): Verdict<JsonObject> | Promise<Verdict<JsonObject>>;
  onList?(ctx: StageContext, kind: string, items: readonly JsonObject[]): readonly JsonObject[];
  /** A session ended: drop what the stage kept for it. */
  onSessionEnd?(sessionId: string): void;
}

/** A pipeline compiled once per virtual server: phases no stage uses are null and cost nothing. */
export interface Pipeline {
  readonly stages: readonly Stage[];
  readonly onRequest: ((ctx: StageContext, params: JsonObject | undefined) => Promise<JsonObject | undefined | LocalReply>) | null;
  readonly onResponse: ((ctx: StageContext, result: JsonObject) => Promise<JsonObject>) | null;
  readonly onList: ((ctx: StageContext, kind: string, items: readonly JsonObject[]) => readonly JsonObject[]) | null;
  /** The list phase of the stages that come before the named one. */
  listBefore(stage: string, ctx: StageContext, kind: string, items: readonly JsonObject[]): readonly JsonObject[];
  readonly onSessionEnd: ((sessionId: string) => void) | null;
}

export function compilePipeline(stages: readonly Stage[]): Pipeline {
  const req = stages.filter((s) => s.onRequest);
  const res = stages.filter((s) => s.onResponse).reverse();
  const list = stages.filter((s) => s.onList);
  return {
    stages,
    onRequest: req.length === 0 ? null : async function runRequestPhase(ctx, params) {
      let current = params;
      for (const s of req) {
        const v = ctx.tracer === undefined ? await s.onRequest!(ctx, current) : await traced(ctx.tracer, s.name, 'request', () => s.onRequest!(ctx, current));
        if (v.action === 'reject') throw rejected(v.error, s.name, 'request');
        if (v.action === 'respond') return new LocalReply(v.value);
        if (v.action === 'mutate') current = v.value;
      }
      return current;
    },
    onResponse: res.length === 0 ? null : async function runResponsePhase(ctx, result) {
      let current = result;
      for (const s of res) {
        const v = ctx.tracer === undefined ? await s.onResponse!(ctx, current) : await traced(ctx.tracer, s.name, 'response', () => s.onResponse!(ctx, current));
        if (v.action === 'reject') throw rejected(v.error, s.name, 'response');
        if (v.action === 'mutate') current = v.value;
      }
      return current;
    },
    onList: list.length === 0 ? null : function runListPhase(ctx, kind, items) {
      let current = items;
      for (const s of list) current = s.onList!(ctx, kind, current);
      return current;
    },
    listBefore(stage, ctx, kind, items) {
      let current = items;
      for (const s of list) {
        if (s.name === stage) break;
        current = s.onList!(ctx, kind, current);
      }
      return current;
    },
    onSessionEnd: stages.some((s) => s.onSessionEnd) ? function endSession(id) {
      for (const s of stages) s.onSessionEnd?.(id);
    } : null,
  };
}

/** Run one stage phase inside its span. */
async function traced<V extends { action: string }>(tracer: StageTracer, stage: string, phase: 'request' | 'response', run: () => V | Promise<V>): Promise<V> {
  const span = tracer.start(stage, phase);
  try {
    const v = await run();
    span.end(v.action, v.action === 'reject' ? (v as { error?: unknown }).error : undefined);
    return v;
  } catch (err) {
    span.end('error', err);
    throw err;
  }
}
