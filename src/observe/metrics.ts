/**
 * Prometheus metrics (prom-client), one registry per gateway so that several gateways in one process (tests) never
 * share counters. Names follow `gatehouse_<area>_<thing>_<unit>`. This file declares the metrics; the code that
 * observes them gets the one instance it needs (no module globals).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets for tools/list sizes in tokens: from a few meta-tools to a catalog of thousands of tools. */
const TOKEN_BUCKETS = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000];
/** Buckets for in-gateway work measured in seconds (a search, a stage). */
const FAST_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Buckets for upstream round trips in seconds: a local stdio call to a slow remote tool. */
const UPSTREAM_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** How a client request ended: a stage refused it (denied), the tool said isError (tool_error), the client cancelled it. */
export type RequestOutcome = 'ok' | 'error' | 'denied' | 'tool_error' | 'cancelled';

export class GatewayMetrics {
  readonly registry = new Registry();

  /** Tokens (o200k) of each tools/list answer, by virtual server ('' = the default endpoint). */
  readonly toolsListTokens = new Histogram({
    name: 'gatehouse_tools_list_tokens',
    help: 'Size in o200k tokens of each tools/list answer served, by virtual server',
    labelNames: ['virtual_server'],
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });

  /** Per session, observed when it ends: the tokens of every tools/list it was served, summed. */
  readonly sessionToolsListTokens = new Histogram({
    name: 'gatehouse_session_tools_list_tokens',
    help: 'Tokens (o200k) of all tools/list answers one session was served, observed when the session ends',
    labelNames: ['virtual_server'],
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });

  /** What listing every tool of a virtual server would cost (the `all` mode list): the baseline of the savings. */
  readonly catalogToolsTokens = new Gauge({
    name: 'gatehouse_catalog_tools_tokens',
    help: 'Size in o200k tokens of the full tool list of a virtual server (what mode all would serve)',
    labelNames: ['virtual_server'],
    registers: [this.registry],
  });

  /** search_tools calls answered, by virtual server and outcome (found | empty | invalid). */
  readonly toolSearches = new Counter({
    name: 'gatehouse_tool_search_total',
    help: 'search_tools calls answered, by virtual server and outcome',
    labelNames: ['virtual_server', 'outcome'],
    registers: [this.registry],
  });

  /** Time the gateway spends ranking one search_tools query. */
  readonly toolSearchSeconds = new Histogram({
    name: 'gatehouse_tool_search_duration_seconds',
    help: 'Time spent ranking one search_tools query in the gateway, by virtual server',
    labelNames: ['virtual_server'],
    buckets: FAST_SECONDS,
    registers: [this.registry],
  });

  /** Upstream tool lists waiting for their vectors (hybrid search ranks with BM25 alone until this is 0). */
  readonly toolSearchPendingEmbeddings = new Gauge({
    name: 'gatehouse_tool_search_pending_embeddings',
    help: 'Upstream tool lists waiting to be embedded for hybrid search, by virtual server',
    labelNames: ['virtual_server'],
    registers: [this.registry],
  });

  // ---- client requests (src/catalog/router.ts) -------------------------------------------------

  /**
   * Client requests answered. `tool` is a routed tool (tools/call) or prompt (prompts/get) name, or a gateway
   * meta-tool; '' otherwise — never a client's unrouted name or a resource URI, so the label stays bounded.
   */
  readonly requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Client requests answered, by method, virtual server, upstream, tool and outcome (ok | error | denied | tool_error | cancelled)',
    labelNames: ['method', 'virtual_server', 'upstream', 'tool', 'outcome'],
    registers: [this.registry],
  });

  /** From a request entering the router to its answer going out, upstream waits and the audit write included. */
  readonly requestSeconds = new Histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from a client request entering the gateway to its answer, by method and virtual server',
    labelNames: ['method', 'virtual_server'],
    buckets: UPSTREAM_SECONDS,
    registers: [this.registry],
  });

  /** The same time less what was spent waiting on upstreams (CallContext.upstreamMs): what the gateway adds. */
  readonly gatewayOverheadSeconds = new Histogram({
    name: 'gatehouse_gateway_overhead_seconds',
    help: 'Time a client request spent in the gateway itself, its upstream waits excluded, by method and virtual server',
    labelNames: ['method', 'virtual_server'],
    buckets: FAST_SECONDS,
    registers: [this.registry],
  });

  readonly requestsInFlight = new Gauge({
    name: 'gatehouse_requests_in_flight',
    help: 'Client requests being served, by virtual server',
    labelNames: ['virtual_server'],
    registers: [this.registry],
  });

  /** Counted from the session registry when scraped: nothing to keep in step on the request path. */
  readonly sessions = new Gauge({
    name: 'gatehouse_sessions',
    help: 'Live downstream sessions (stateful protocol revisions), by virtual server',
    labelNames: ['virtual_server'],
    registers: [this.registry],
    collect: () => this.#countSessions(),
  });

  /** Shared stores of several replicas (store.redis): 1 while reachable. Read when scraped. */
  readonly sharedStoreUp = new Gauge({
    name: 'gatehouse_shared_store_up',
    help: 'Whether a shared store of the replicas is reachable (1) or not (0, the gateway serves on, degraded), by store',
    labelNames: ['store'],
    registers: [this.registry],
    collect: () => {
      for (const [store, up] of this.#sharedStores()) this.sharedStoreUp.set({ store }, up ? 1 : 0);
    },
  });

  // ---- upstream replicas (src/upstream/replica-set.ts) ------------------------------------------

  /** Each request sent to an upstream replica, from admission to answer (the queue wait excluded). */
  readonly upstreamRequestSeconds = new Histogram({
    name: 'gatehouse_upstream_request_duration_seconds',
    help: 'Time an upstream replica took to answer one request, by upstream, replica, method and outcome (ok | error | failure | cancelled)',
    labelNames: ['upstream', 'replica', 'method', 'outcome'],
    buckets: UPSTREAM_SECONDS,
    registers: [this.registry],
  });

  readonly upstreamInFlight = new Gauge({
    name: 'gatehouse_upstream_in_flight',
    help: 'Requests in flight to an upstream replica',
    labelNames: ['upstream', 'replica'],
    registers: [this.registry],
  });

  readonly upstreamQueueDepth = new Gauge({
    name: 'gatehouse_upstream_queue_depth',
    help: 'Requests waiting for a free slot of an upstream replica (limits.concurrency)',
    labelNames: ['upstream', 'replica'],
    registers: [this.registry],
  });

  readonly upstreamBreakerState = new Gauge({
    name: 'gatehouse_upstream_breaker_state',
    help: 'Circuit breaker of an upstream replica: 0 closed, 1 half-open, 2 open',
    labelNames: ['upstream', 'replica'],
    registers: [this.registry],
  });

  readonly upstreamReplicaHealthy = new Gauge({
    name: 'gatehouse_upstream_replica_healthy',
    help: 'An upstream replica takes requests (1) or is out of rotation (0)',
    labelNames: ['upstream', 'replica'],
    registers: [this.registry],
  });

  readonly upstreamRetries = new Counter({
    name: 'gatehouse_upstream_retries_total',
    help: 'Requests sent again (to another replica when there is one) after a replica failed, by upstream and method',
    labelNames: ['upstream', 'method'],
    registers: [this.registry],
  });

  readonly upstreamFailovers = new Counter({
    name: 'gatehouse_upstream_failovers_total',
    help: 'Downstream sessions moved to another replica of an upstream because theirs was failing',
    labelNames: ['upstream'],
    registers: [this.registry],
  });

  readonly upstreamRejected = new Counter({
    name: 'gatehouse_upstream_rejected_total',
    help: 'Requests refused without being sent upstream, by upstream and reason (overloaded | circuit-open)',
    labelNames: ['upstream', 'reason'],
    registers: [this.registry],
  });

  readonly upstreamHealthChecks = new Counter({
    name: 'gatehouse_upstream_health_checks_total',
    help: 'Active health checks of upstream replicas, by outcome (pass | fail)',
    labelNames: ['upstream', 'replica', 'outcome'],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  // Labelled children per label tuple: label values are bounded (see `requests`), so these maps are too.
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #timeChildren = new Map<string, { total: (v: number) => void; overhead: (v: number) => void }>();
  readonly #inFlightChildren = new Map<string, { inc(): void; dec(): void }>();
  #sessionSource: (() => Iterable<{ readonly virtualServer: string }>) | null = null;
  #sharedStores: () => Iterable<[string, boolean]> = () => [];
  readonly #sessionLabels = new Set<string>();

  /** A client request entered the router. */
  requestStarted(virtualServer: string): void {
    this.#inFlight(virtualServer).inc();
  }

  /** A client request was answered. */
  requestEnded(virtualServer: string): void {
    this.#inFlight(virtualServer).dec();
  }

  /** Count one answered (or nested) request and time it: `seconds` in all, `upstreamSeconds` of it spent on upstreams. */
  observeRequest(method: string, virtualServer: string, upstream: string, tool: string, outcome: RequestOutcome, seconds: number, upstreamSeconds: number): void {
    const key = `${method}\u0001${virtualServer}\u0001${upstream}\u0001${tool}\u0001${outcome}`;
    let counter = this.#requestChildren.get(key);
    if (counter === undefined) this.#requestChildren.set(key, (counter = this.requests.labels(method, virtualServer, upstream, tool, outcome)));
    counter.inc();
    const timeKey = `${method}\u0001${virtualServer}`;
    let times = this.#timeChildren.get(timeKey);
    if (times === undefined) {
      times = { total: this.requestSeconds.labels(method, virtualServer).observe, overhead: this.gatewayOverheadSeconds.labels(method, virtualServer).observe };
      this.#timeChildren.set(timeKey, times);
    }
    times.total(seconds);
    times.overhead(Math.max(0, seconds - upstreamSeconds));
  }

  /** What `gatehouse_shared_store_up` reads (the gateway's Redis connection, when it has one). */
  watchSharedStores(source: () => Iterable<[store: string, up: boolean]>): void {
    this.#sharedStores = source;
  }

  /** Where `gatehouse_sessions` counts from (the gateway's session registry). */
  countSessionsOf(source: () => Iterable<{ readonly virtualServer: string }>): void {
    this.#sessionSource = source;
  }

  #inFlight(virtualServer: string): { inc(): void; dec(): void } {
    let child = this.#inFlightChildren.get(virtualServer);
    if (child === undefined) this.#inFlightChildren.set(virtualServer, (child = this.requestsInFlight.labels(virtualServer)));
    return child;
  }

  #countSessions(): void {
    if (this.#sessionSource === null) return;
    const counts = new Map<string, number>();
    for (const s of this.#sessionSource()) counts.set(s.virtualServer, (counts.get(s.virtualServer) ?? 0) + 1);
    // A virtual server whose last session ended reads 0 rather than vanishing from the scrape.
    for (const vs of counts.keys()) this.#sessionLabels.add(vs);
    for (const vs of this.#sessionLabels) this.sessions.set({ virtual_server: vs }, counts.get(vs) ?? 0);
  }

  /** The exposition text and its content type, for GET /metrics. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
