/**
 * The guard pipeline's contract. A stage is a small object with a stable `name` and up to three phases:
 * `onRequest` (in configured order, before routing), `onResponse` (in reverse order, after the upstream
 * answered) and `onList` (filters/rewrites list results). Each phase returns a verdict: continue, continue with
 * a changed message, or reject with a GatehouseError that ends the chain with a local reply (Envoy's
 * continue/stop, agentgateway's Pass/Mutated/Reject).
 */
import type { GatehouseError } from './errors.ts';
import type { JsonObject } from './jsonrpc.ts';
import type { Principal } from '../auth/principal.ts';

export interface StageContext {
  readonly method: string;
  readonly sessionId: string;
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
}

export type Verdict<T> = { action: 'continue' } | { action: 'mutate'; value: T } | { action: 'reject'; error: GatehouseError };

export const CONTINUE: Verdict<never> = Object.freeze({ action: 'continue' });

export interface Stage {
  readonly name: string;
  onRequest?(ctx: StageContext, params: JsonObject | undefined): Verdict<JsonObject | undefined> | Promise<Verdict<JsonObject | undefined>>;
  onResponse?(ctx: StageContext, result: JsonObject): Verdict<JsonObject> | Promise<Verdict<JsonObject>>;
  onList?(ctx: StageContext, kind: string, items: readonly JsonObject[]): readonly JsonObject[];
}

/** A pipeline compiled once per virtual server: phases no stage uses are null and cost nothing. */
export interface Pipeline {
  readonly stages: readonly Stage[];
  readonly onRequest: ((ctx: StageContext, params: JsonObject | undefined) => Promise<JsonObject | undefined>) | null;
  readonly onResponse: ((ctx: StageContext, result: JsonObject) => Promise<JsonObject>) | null;
  readonly onList: ((ctx: StageContext, kind: string, items: readonly JsonObject[]) => readonly JsonObject[]) | null;
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
        const v = await s.onRequest!(ctx, current);
        if (v.action === 'reject') throw v.error;
        if (v.action === 'mutate') current = v.value;
      }
      return current;
    },
    onResponse: res.length === 0 ? null : async function runResponsePhase(ctx, result) {
      let current = result;
      for (const s of res) {
        const v = await s.onResponse!(ctx, current);
        if (v.action === 'reject') throw v.error;
        if (v.action === 'mutate') current = v.value;
      }
      return current;
    },
    onList: list.length === 0 ? null : function runListPhase(ctx, kind, items) {
      let current = items;
      for (const s of list) current = s.onList!(ctx, kind, current);
      return current;
    },
  };
}
