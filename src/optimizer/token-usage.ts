/**
 * Token accounting wired to the gateway (issue 6): every tools/list page served is counted (src/optimizer/
 * token-count.ts) into the session's totals and the metrics, beside what the virtual server's full list would cost.
 */
import type { JsonObject } from '../core/jsonrpc.ts';
import type { GatewayMetrics } from '../observe/metrics.ts';
import type { DownstreamSession } from '../session/session.ts';
import { ToolTokenCounter } from './token-count.ts';

export class TokenUsage {
  readonly #metrics: GatewayMetrics;
  readonly #counter: ToolTokenCounter;
  /** Counts still running off the request path. */
  readonly #pending = new Set<Promise<void>>();

  constructor(metrics: GatewayMetrics, counter = new ToolTokenCounter()) {
    this.#metrics = metrics;
    this.#counter = counter;
  }

  /** A tools/list page went to `session`; `all` is its virtual server's whole list. Never delays the answer. */
  listed(session: DownstreamSession, served: readonly JsonObject[], all: readonly JsonObject[]): void {
    const labels = { virtual_server: session.virtualServer };
    const record = (tokens: number) => {
      session.toolsLists++;
      session.toolsListTokens += tokens;
      this.#metrics.toolsListTokens.observe(labels, tokens);
    };
    const setCatalog = (tokens: number) => this.#metrics.catalogToolsTokens.set(labels, tokens);
    this.#settle(this.#counter.count(served), record);
    this.#settle(this.#counter.count(all), setCatalog);
  }

  /** Resolves once every count started so far is recorded. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  #settle(value: number | Promise<number>, use: (n: number) => void): void {
    if (typeof value === 'number') return use(value);
    const done = value.then(use, () => {}).finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  /** A session ended: its total goes into the per-session histogram (2026-07-28 request contexts are not sessions). */
  ended(session: DownstreamSession): void {
    if (!session.stateful) return;
    // After the counts of its last lists are in.
    const observe = () => {
      if (session.toolsLists > 0) this.#metrics.sessionToolsListTokens.observe({ virtual_server: session.virtualServer }, session.toolsListTokens);
    };
    if (this.#pending.size === 0) observe();
    else this.#settle(this.idle().then(() => 0), observe);
  }

  /** Tokens of a list as a client would receive it (for tests and the portal). */
  count(tools: readonly JsonObject[]): number | Promise<number> {
    return this.#counter.count(tools);
  }
}
