/**
 * Multi round-trip requests (2026-07-28): a stateless client cannot receive a server->client request, so when an
 * upstream asks for sampling, elicitation or roots while serving its call, the gateway answers the call with an
 * `input_required` result carrying the request and an opaque `requestState`, and keeps the upstream call waiting.
 * The client retries with `inputResponses` and the same `requestState`; the gateway hands the answers upstream and
 * the retry's response stream takes over the original call. `requestState` is a random handle bound to the principal.
 */
import { randomBytes } from 'node:crypto';
import { GatehouseError, UpstreamRpcError } from '../core/errors.ts';
import type { JsonObject, JsonRpcRequest } from '../core/jsonrpc.ts';
import { RpcCode } from '../core/jsonrpc.ts';
import type { Exchange } from '../server/exchange.ts';
import type { CallContext, DownstreamSession } from '../session/session.ts';

interface Question {
  key: string;
  method: string;
  params: JsonObject | undefined;
  resolve(result: JsonObject): void;
  reject(error: Error): void;
}

interface Parked {
  ctx: CallContext;
  principal: string;
  /** Questions sent to the client, awaiting its retry. */
  asked: Question[];
  /** Questions raised while the client had not retried yet: they go out with the next answer. */
  queued: Question[];
  timer: NodeJS.Timeout;
}

export class InputRequests {
  private readonly byState = new Map<string, Parked>();
  private readonly byCall = new Map<CallContext, { state: string; parked: Parked }>();
  private next = 0;

  get size(): number {
    return this.byState.size;
  }

  /** An upstream asks the client something during `ctx`: answer the call with `input_required` and wait. */
  ask(ctx: CallContext, method: string, params: JsonObject | undefined, timeoutMs: number): Promise<JsonObject> {
    return new Promise<JsonObject>((resolve, reject) => {
      const question: Question = { key: `q${this.next++}`, method, params, resolve, reject };
      const current = this.byCall.get(ctx);
      if (current && current.parked.asked.length > 0) {
        current.parked.queued.push(question);
        return;
      }
      const parked: Parked = current?.parked ?? {
        ctx,
        principal: ctx.session.principal.id,
        asked: [],
        queued: [],
        timer: setTimeout(() => this.expire(state), timeoutMs),
      };
      parked.timer.unref();
      parked.queued.push(question);
      const state = current?.state ?? randomBytes(18).toString('base64url');
      if (!current) {
        this.byState.set(state, parked);
        this.byCall.set(ctx, { state, parked });
        ctx.abort.signal.addEventListener('abort', () => this.drop(state, new GatehouseError('GH_ERR_REQUEST_CANCELLED')), { once: true });
      }
      this.send(state, parked);
    });
  }

  /** A retry carrying `requestState`: deliver its answers upstream and let it take over the call. */
  resume(session: DownstreamSession, request: JsonRpcRequest, exchange: Exchange): boolean {
    const state = request.params?.requestState;
    if (typeof state !== 'string') return false;
    const parked = this.byState.get(state);
    if (!parked || parked.principal !== session.principal.id || parked.ctx.method !== request.method) {
      exchange.respond({ jsonrpc: '2.0', id: request.id, error: { code: RpcCode.InvalidParams, message: 'Invalid params: requestState is unknown or expired; send the request again without it' } });
      return true;
    }
    const responses = (request.params?.inputResponses as JsonObject | undefined) ?? {};
    parked.ctx.requestId = request.id;
    parked.ctx.exchange = exchange;
    // Closing the retry's stream cancels the call, as closing the first one would have.
    session.inFlight.set(request.id, parked.ctx);
    const asked = parked.asked;
    parked.asked = [];
    for (const q of asked) {
      const answer = responses[q.key];
      if (answer !== null && typeof answer === 'object') q.resolve(answer as JsonObject);
      else q.reject(new UpstreamRpcError(RpcCode.InvalidParams, `the client did not answer ${q.method}`));
    }
    if (parked.queued.length > 0) this.send(state, parked);
    else {
      // Nothing else to ask now; a later question re-parks the call under the same state.
      this.byCall.delete(parked.ctx);
      this.byState.delete(state);
      clearTimeout(parked.timer);
    }
    return true;
  }

  private send(state: string, parked: Parked): void {
    const inputRequests: JsonObject = {};
    for (const q of parked.queued) inputRequests[q.key] = q.params === undefined ? { method: q.method } : { method: q.method, params: q.params };
    parked.asked.push(...parked.queued);
    parked.queued = [];
    const { ctx } = parked;
    ctx.exchange.respond({ jsonrpc: '2.0', id: ctx.requestId, result: { resultType: 'input_required', inputRequests, requestState: state } });
  }

  private expire(state: string): void {
    this.drop(state, new GatehouseError('GH_ERR_UPSTREAM_TIMEOUT', ['client', 'the input_required deadline']));
  }

  private drop(state: string, error: Error): void {
    const parked = this.byState.get(state);
    if (!parked) return;
    this.byState.delete(state);
    this.byCall.delete(parked.ctx);
    clearTimeout(parked.timer);
    for (const q of [...parked.asked, ...parked.queued]) q.reject(error);
  }
}
