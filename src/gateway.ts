/**
 * The gateway: wires config, upstream pools, the catalog, virtual-server views, the router and the HTTP
 * front door together, and applies config changes live (only what changed is restarted).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatehouseConfig, UpstreamConfig, VirtualServerConfig } from './config/schema.ts';
import type { JsonObject } from './core/jsonrpc.ts';
import { compilePipeline } from './core/stage.ts';
import type { Pipeline, StageContext } from './core/stage.ts';
import { buildStages } from './stages.ts';
import { MemoryCounterStore } from './store/memory/counters.ts';
import type { CounterStore } from './store/counters.ts';
import { FoundTools } from './optimizer/search-stage.ts';
import { TokenUsage } from './optimizer/token-usage.ts';
import { Embedders } from './optimizer/embedders.ts';
import { PinningGate } from './guard/pinning.ts';
import { createDefinitionGate } from './guard/gate.ts';
import { createDefinitionScanner, scanDefinitions, serverItem } from './guard/scanner/index.ts';
import { guardedLookup } from './guard/allowlist.ts';
import type { PinStore } from './store/pins.ts';
import { MemoryPinStore } from './store/memory/pins.ts';
import { openSqlitePinStore } from './store/sqlite/pins.ts';
import { GatewayMetrics } from './observe/metrics.ts';
import { AuditLog } from './observe/audit.ts';
import { compileRedaction, redactForLog } from './guard/redact.ts';
import { Catalog, LIST_KINDS } from './catalog/catalog.ts';
import type { ListKind } from './catalog/types.ts';
import { Router } from './catalog/router.ts';
import { buildView, DEFAULT_VIEW_CONFIG } from './catalog/view.ts';
import type { View } from './catalog/view.ts';
import { createHttpServer } from './server/http-server.ts';
import type { Front, FrontOptions, Listener, ListenFilter, Readiness } from './server/front.ts';
import { DownstreamSession, journalKey } from './session/session.ts';
import type { ClientInfo } from './session/session.ts';
import type { Principal } from './auth/principal.ts';
import { anonymousIdentity } from './auth/identity.ts';
import type { Identity } from './auth/identity.ts';
import type { GatehouseError } from './core/errors.ts';
import { createIdentity } from './auth/index.ts';
import { createApiKeyVerifier } from './auth/api-keys.ts';
import type { ApiKeyVerifier } from './auth/identity.ts';
import { openSqliteApiKeyStore } from './store/sqlite/api-keys.ts';
import type { ApiKeyStore } from './store/api-keys.ts';
import { UserOAuth } from './auth/user-oauth.ts';
import { openSqliteVaultStore } from './store/sqlite/vault.ts';
import { parseVaultKey } from './store/vault.ts';
import type { JsonRpcNotification, JsonRpcResponse } from './core/jsonrpc.ts';
import { isLoopbackHost } from './server/guards.ts';
import { SessionRegistry } from './session/registry.ts';
import { SUPPORTED_REVISIONS } from './session/revision.ts';
import { ReplicaSet } from './upstream/replica-set.ts';
import type { UpstreamConnection, UpstreamInfo } from './upstream/types.ts';
import { VERSION } from './version.ts';
import { Tracing } from './observe/tracing.ts';
import { routePortal } from './portal/index.ts';
import { overlay } from './portal/overlay.ts';
import { MemoryAdminChangeStore } from './store/admin-changes.ts';
import type { AdminChangeStore } from './store/admin-changes.ts';
import { openSqliteAdminChangeStore } from './store/sqlite/admin-changes.ts';
import { diffConfig } from './config/diff.ts';
import type { ConfigDiff } from './config/diff.ts';
import { SessionSealer } from './session/seal.ts';
import { RedisStore } from './store/redis/client.ts';
import { PostgresStore } from './store/postgres/database.ts';
import { createPostgresAuditStore } from './store/postgres/audit.ts';
import { createPostgresAdminChangeStore } from './store/postgres/admin-changes.ts';
import { lateBound } from './store/postgres/late.ts';
import { createPostgresPinStore } from './store/postgres/pins.ts';
import type { AuditStore } from './store/audit.ts';
import { RedisCounterStore } from './store/redis/counters.ts';
import { RedisRevokedSessions } from './store/redis/revoked.ts';
import { RedisEventJournal } from './store/redis/event-journal.ts';
import type { StreamJournal } from './server/event-stream.ts';
import { MemoryRevokedSessions } from './session/revoked.ts';
import type { RevokedSessions } from './session/revoked.ts';

/** What the gateway declares to upstreams: it relays these to the client that caused the request. */
const UPSTREAM_CLIENT_CAPABILITIES: JsonObject = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

const DEFAULT_VIEW = '';

interface ViewState {
  view: View;
  /** Serialised lists, to tell whether a rebuild changed what clients see. */
  signature: Record<ListKind, string>;
}

export class Gateway implements Front {
  readonly sessions: SessionRegistry;
  readonly router: Router;
  readonly catalog = new Catalog();
  options: FrontOptions;
  draining = false;
  private config: GatehouseConfig;
  private readonly logger: Logger;
  private readonly pools = new Map<string, ReplicaSet>();
  private readonly views = new Map<string, ViewState>();
  private readonly pipelines = new Map<string, Pipeline | null>();
  private server: Server | null = null;
  private readonly loading = new Map<string, Promise<void>>();
  private readonly listeners = new Set<Listener>();
  /** The identity stage: anonymous unless `auth` is configured. */
  identity: Identity = anonymousIdentity;
  /** Rate-limit buckets: one store per gateway, so they outlive config reloads and are shared by every virtual server. */
  readonly counters: CounterStore = {
    take: (key, rate, burst, now) => this.counterStore.take(key, rate, burst, now),
    refund: (key, rate, burst, now) => this.counterStore.refund(key, rate, burst, now),
  };
  /** Memory, or Redis (store.redis) once connected at start: the stages hold `counters`, which follows it. */
  private counterStore: CounterStore = new MemoryCounterStore();
  /** PostgreSQL (store.postgres), connected and migrated at start; the audit log and admin store bind to it then. */
  private postgres: PostgresStore | null = null;
  private readonly lateAudit = lateBound<AuditStore>('audit store');
  private readonly lateAdmin = lateBound<AdminChangeStore>('admin store');
  private readonly latePins = lateBound<PinStore>('pin store');
  /** Stream events shared with the other replicas (store.redis), for Last-Event-ID anywhere; null without Redis. */
  private journal: RedisEventJournal | null = null;
  /** The shared store of several replicas (store.redis); null without one. */
  private redis: RedisStore | null = null;
  /** Tools each session found in search mode; outlives the pipelines a config reload rebuilds. */
  private readonly foundTools = new FoundTools();
  private rebuildScheduled = false;
  /** Prometheus metrics of this gateway (GET /metrics). */
  readonly metrics = new GatewayMetrics();
  /** Tokens of every tools/list served (metrics, and each session's totals). */
  readonly tokenUsage = new TokenUsage(this.metrics);
  /** Embedding models of hybrid tool search: started on first use, kept across reloads. */
  private readonly embedders = new Embedders();
  /** Pins and approvals (null with pinning off); opened once, a reload that changes the mode needs a restart. */
  readonly pins: PinStore | null = null;
  private pinWatch: NodeJS.Timeout | null = null;
  private closed = false;
  /** The audit log (issue 4), null with audit.enabled false; opened once, a reload that changes `audit` needs a restart. */
  readonly audit: AuditLog | null = null;
  /** Spans of the request path, null with tracing off (no `tracing.endpoint`); set at start, like the audit log. */
  readonly tracing: Tracing | null;

  /** The config as the file (or the command line) gives it; `config` is this with the admin API's changes over it. */
  private fileConfig: GatehouseConfig;
  /** Seals session ids and opens those of other replicas (config `sessions`); set at start, a key change needs a restart. */
  private readonly sealer: SessionSealer;
  /** Ids ended with DELETE: their seals are still valid, so they are refused until they expire. */
  private revokedSessions: RevokedSessions = new MemoryRevokedSessions();
  /** Upstreams and virtual servers created, replaced or deleted through the admin API (src/portal/admin.ts). */
  readonly adminChanges: AdminChangeStore;

  /** `options.tracing` replaces the one `config.tracing` would make (tests export to memory). */
  constructor(config: GatehouseConfig, logger: Logger, options: { tracing?: Tracing } = {}) {
    this.config = config;
    this.fileConfig = config;
    this.sealer = config.sessions.keys.length === 0
      ? SessionSealer.ephemeral(config.sessions.maxAge)
      : new SessionSealer(config.sessions.keys.map((k) => ({ id: k.id, secret: Buffer.from(k.secret.trim(), 'base64') })), config.sessions.maxAge);
    this.adminChanges = config.admin.store === 'sqlite' ? openSqliteAdminChangeStore(config.store.path) : config.admin.store === 'postgres' ? this.lateAdmin.store : new MemoryAdminChangeStore();
    this.logger = logger;
    this.options = frontOptions(config);
    this.sessions = new SessionRegistry(config.server.sessionIdleTimeout);
    this.tracing = options.tracing ?? Tracing.create(config.tracing, logger);
    this.metrics.countSessionsOf(() => this.sessions.values());
    this.metrics.watchSharedStores(() => (this.redis === null ? [] : [['redis', this.redis.healthy]]));
    this.sessions.onEnd = (s) => {
      this.router.releaseSession(s);
      this.tokenUsage.ended(s);
    };
    if (config.audit.enabled) {
      // Opening repairs a torn last line and catches the SQLite index up from the JSONL (synchronous, at startup only).
      // Secrets are always redacted from what the log keeps of the arguments; PII per the result guard's config.
      const rules = compileRedaction({ secrets: true, pii: config.resultGuard.pii });
      const redact = (value: unknown) => redactForLog(value, rules);
      this.audit = config.audit.store === 'postgres'
        ? new AuditLog({ store: this.lateAudit.store, redact, methods: config.audit.methods, previewChars: config.audit.previewChars, hashKey: config.audit.hashKey })
        : AuditLog.open(config.audit, { storePath: config.store.path, redact, onWarn: (message, detail) => logger.warn({ detail }, message) });
      const { tornBytes, caughtUp } = this.audit.recovery;
      if (tornBytes > 0 || caughtUp > 0) logger.info({ tornBytes, caughtUp }, 'audit: recovered the log after an unclean stop');
    }
    const audit = this.audit;
    this.router = new Router({
      view: (name) => this.view(name),
      pipeline: (name) => this.pipelines.get(name) ?? null,
      pool: (name) => this.pools.get(name),
      sessions: () => this.sessions.values(),
      requestTimeout: (upstream, tool) => {
        const u = this.config.upstreams[upstream];
        return (tool !== undefined ? u?.toolTimeouts[tool] : undefined) ?? u?.timeouts.request ?? 60_000;
      },
      pageSize: config.server.pageSize,
      refreshCatalog: (upstream, conn, kind) => this.refresh(upstream, conn, kind),
      resourceUpdated: (uri, n) => {
        for (const l of this.listeners) if (l.filter.resourceSubscriptions?.includes(uri)) l.deliver(n);
      },
      toolsListed: (session, served, all) => this.tokenUsage.listed(session, served, all),
      // Decided at start: a reload that flips server.metrics turns the endpoint on or off at once, the recording on restart.
      ...(config.server.metrics && { metrics: this.metrics }),
      ...(this.tracing !== null && { tracing: this.tracing }),
      unclaimedResponse: (session, response) => {
        this.redis?.publish('events', { type: 'client-response', origin: this.instance, session: session.id, response }).catch(() => {});
      },
      logger,
      audit: audit === null ? undefined : {
        wants: (method) => audit.wants(method),
        append: (entry) => audit.append(entry).catch((err: unknown) => {
          logger.error({ err, method: entry.method, target: entry.target }, 'audit: could not record a call; its result is withheld');
          throw err;
        }),
      },
    });
    this.catalog.on('change', () => this.onCatalogChange());
    // Shadowing is judged against every other tool of the catalog as it is when a list arrives.
    // One array per catalog version, so the scanner indexes it once rather than once per upstream listing.
    let known: { version: number; tools: { upstream: string; name: string }[] } | null = null;
    const knownTools = () => {
      if (known?.version !== this.catalog.version) {
        known = { version: this.catalog.version, tools: [...this.catalog.entries.values()].flatMap((e) => e.tools.map((t) => ({ upstream: e.upstream, name: t.name }))) };
      }
      return known.tools;
    };
    const scan = config.scanner.enabled ? createDefinitionScanner(config.scanner, knownTools) : null;
    let pinning: PinningGate | null = null;
    if (config.pinning.mode !== 'off') {
      this.pins = config.pinning.store === 'sqlite' ? openSqlitePinStore(config.store.path) : config.pinning.store === 'postgres' ? this.latePins.store : new MemoryPinStore();
      pinning = new PinningGate(this.pins, { mode: config.pinning.mode, ...(scan && { scan }) });
    }
    this.catalog.gate = createDefinitionGate({
      hiddenTools: (upstream) => this.config.upstreams[upstream]?.hideTools ?? [],
      pinning,
      scan,
      ...(config.scanner.enabled && {
        scanInfo: async (upstream: string, info: UpstreamInfo) => {
          const [result] = await scanDefinitions([serverItem(upstream, info)], { config: config.scanner, knownTools: knownTools() });
          if (result.verdict !== 'allow') logger.warn({ upstream, verdict: result.verdict, rules: result.findings.map((f) => f.rule) }, 'scanner: findings in the server\'s instructions');
          return result.verdict;
        },
      }),
    });
    this.configureViews();
    this.identity = this.createIdentity(config);
    if (config.vault !== undefined) {
      // Opened once for the gateway's lifetime (a key or store path changed by a reload needs a restart).
      this.userOAuth = new UserOAuth({
        vault: openSqliteVaultStore(config.store.path, parseVaultKey(config.vault.key)),
        publicOrigin: () => this.config.auth.publicUrl ?? this.listenOrigin ?? `http://${this.config.server.host}:${this.config.server.port}`,
        logger,
      });
    }
  }

  /** The per-user credential vault and its routes (`/oauth/callback`, `/oauth/tokens/…`); null without `vault`. */
  userOAuth: UserOAuth | null = null;

  /** The origin the gateway listens on, once it does (the resource URI's origin when auth.publicUrl is not set). */
  private listenOrigin: string | undefined = undefined;

  /** API keys live in the SQLite store, opened once (on first use with auth enabled) for the gateway's lifetime. */
  private apiKeyStore: ApiKeyStore | null = null;
  private apiKeyVerifier: ApiKeyVerifier | null = null;

  private createIdentity(config: GatehouseConfig): Identity {
    if (config.auth.enabled && !this.apiKeyVerifier) {
      this.apiKeyStore = openSqliteApiKeyStore(config.store.path);
      this.apiKeyVerifier = createApiKeyVerifier(this.apiKeyStore, { onError: (err) => this.logger.warn({ err }, 'api-key store') });
    }
    return createIdentity(config, { listenOrigin: () => this.listenOrigin, apiKeys: this.apiKeyVerifier ?? undefined });
  }

  /** Listen, then start every upstream; resolves once each has either started or failed. */
  async start(): Promise<string> {
    // Before listening: an unreachable PostgreSQL or Redis is a startup error naming its URL, not a gateway that half works.
    const redisConfig = this.config.store.redis;
    const pgConfig = this.config.store.postgres;
    if (pgConfig !== undefined && (this.config.audit.store === 'postgres' || this.config.admin.store === 'postgres' || this.config.pinning.store === 'postgres')) {
      try {
        this.postgres = await PostgresStore.open(pgConfig);
      } catch (err) {
        await this.close();
        throw err;
      }
      this.lateAudit.bind(createPostgresAuditStore(this.postgres));
      this.lateAdmin.bind(createPostgresAdminChangeStore(this.postgres));
      this.latePins.bind(createPostgresPinStore(this.postgres));
    }
    if (redisConfig !== undefined) {
      try {
        this.redis = await RedisStore.connect(redisConfig, this.logger);
        this.counterStore = new RedisCounterStore(this.redis);
        const revoked = await RedisRevokedSessions.open(this.redis);
        revoked.onRemoteRevoke = (digest) => this.sessions.endByDigest(digest);
        this.revokedSessions = revoked;
        await this.redis.subscribe('events', (m) => this.onReplicaEvent(m));
        this.journal = new RedisEventJournal(this.redis, this.config.server.resumeBuffer);
      } catch (err) {
        await this.close();
        throw err;
      }
    }
    this.server = createHttpServer(this, (err) => this.logger.error({ err }, 'unhandled error on the request path'));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.server.port, this.config.server.host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    // Requests may arrive while upstreams start: the identity needs the real origin now.
    this.listenOrigin = `http://${host}:${address.port}`;
    // Port 0 picks a free port: the origin policy and URLs must use the real one.
    this.options = frontOptions(this.config);
    const { config: effective, skipped } = overlay(this.fileConfig, await this.adminChanges.list());
    for (const { change, message } of skipped) this.logger.error({ kind: change.kind, name: change.name, err: message }, 'admin: a stored change no longer validates against the config file; it is not applied');
    if (effective !== this.config) {
      this.config = effective;
      this.configureViews();
    }
    await Promise.all(Object.entries(this.config.upstreams).filter(([, u]) => u.enabled).map(([name, u]) => this.addUpstream(name, u)));
    this.watchApprovals();
    return `http://${host}:${address.port}${this.config.server.path}`;
  }

  /**
   * Approvals may be made by `gatehouse approvals` in another process: the store's change stamp (SQLite
   * data_version) moves, and the catalog is vetted again, so an approved tool comes back (with list_changed) within
   * `pinning.checkInterval`.
   */
  private watchApprovals(): void {
    const pins = this.pins;
    if (pins === null || this.config.pinning.store === 'memory') return;
    let stamp: number | null = null;
    let busy = false;
    this.pinWatch = setInterval(() => {
      if (busy) return;
      busy = true;
      pins.changeStamp()
        .then(async (now) => {
          if (stamp !== null && now !== stamp) await this.catalog.revet();
          stamp = now;
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'pinning: could not check the store for approvals'))
        .finally(() => (busy = false));
    }, this.config.pinning.checkInterval);
    this.pinWatch.unref();
  }

  /** Vet the catalog again now (after an approval made in this process, e.g. by the admin API or a test). */
  revet(): Promise<void> {
    return this.catalog.revet();
  }

  get currentConfig(): GatehouseConfig {
    return this.config;
  }

  /** The config file's own config (without the admin API's changes). */
  get baseConfig(): GatehouseConfig {
    return this.fileConfig;
  }

  /**
   * The tools of a virtual server that `principal` may see, as the authorization policy filters its lists (the portal
   * shows a user what they can call; search mode and compaction, which shape a session's list, do not apply here).
   */
  toolsFor(principal: Principal, virtualServer: string): readonly JsonObject[] {
    const view = this.view(virtualServer);
    if (view === undefined) return [];
    const policy = this.pipelines.get(virtualServer)?.stages.find((s) => s.name === 'policy');
    if (policy?.onList === undefined) return view.tools;
    const ctx: StageContext = {
      method: 'tools/list',
      sessionId: '',
      principal,
      virtualServer,
      target: null,
      upstream: null,
      original: null,
      upstreamOf: (kind, item) => (kind === 'tools' ? view.toolRoutes.get(item.name as string)?.upstream ?? null : null),
      listBefore: () => [],
      dispatch: () => Promise.reject(new Error('no dispatch outside a session')),
      notify: () => {},
    };
    return policy.onList(ctx, 'tools', view.tools);
  }

  get streamJournal(): StreamJournal | null {
    return this.journal;
  }

  resumeStream(session: DownstreamSession, streamId: string, afterSeq: number, res: ServerResponse): Promise<boolean> {
    return this.journal === null ? Promise.resolve(false) : this.journal.resume(journalKey(session.id, streamId), afterSeq, res);
  }

  endSession(id: string): void {
    this.revokedSessions.revoke(id, Date.now() + this.config.sessions.maxAge);
    this.sessions.end(id);
  }

  sealSession(fields: { principal: string; virtualServer: string; revision: string; clientInfo: ClientInfo; clientCapabilities: Record<string, unknown> }): string {
    return this.sealer.seal(fields);
  }

  /**
   * A session another replica (or this one before a restart) issued: made live here from what its id seals. Refused
   * (undefined, a 404 for the client) when the id is forged, tampered with or expired, or speaks for another principal
   * or virtual server. Its upstream sessions are opened here on first use.
   */
  reopenSession(id: string, virtualServer: string, principal: Principal): DownstreamSession | undefined {
    if (this.draining || this.revokedSessions.isRevoked(id)) return undefined;
    const state = this.sealer.open(id);
    if (state === null || state.principal !== principal.id || state.virtualServer !== virtualServer) return undefined;
    if (virtualServer !== DEFAULT_VIEW && !this.hasVirtualServer(virtualServer)) return undefined;
    const session = new DownstreamSession({
      id,
      revision: state.revision,
      virtualServer,
      principal,
      clientInfo: state.clientInfo,
      clientCapabilities: state.clientCapabilities,
      journal: this.journal,
      stateful: true,
      resumeCapacity: this.options.resumeBuffer,
    });
    this.sessions.add(session);
    return session;
  }

  /** The origin clients reach the gateway at: auth.publicUrl, else the address it listens on. */
  publicOrigin(): string {
    return (this.config.auth.publicUrl ?? this.listenOrigin ?? `http://${this.config.server.host}:${this.config.server.port}`).replace(/\/+$/, '');
  }

  /** The 401 for a request that came without credentials where they are required; null with auth off. */
  credentialsRequired(): GatehouseError | null {
    return this.identity.credentialsRequired?.({ virtualServer: '' }) ?? null;
  }

  /** The API-key store, once auth is enabled (null otherwise). */
  get apiKeys(): ApiKeyStore | null {
    return this.apiKeyStore;
  }

  /** Random per process: a replica ignores the events it announced itself. */
  private readonly instance = randomBytes(8).toString('hex');

  /**
   * Tell the other replicas (over store.redis) that this one changed what they share: `admin` (upstreams or virtual
   * servers, in the shared admin store: they lay the changes over their config again) or `approvals` (they vet
   * their catalogs again). A no-op without Redis.
   */
  announce(what: 'admin' | 'approvals'): void {
    this.redis?.publish('events', { type: `${what}-changed`, origin: this.instance }).catch((err: unknown) => this.logger.warn({ err }, 'redis: could not announce a change to the other replicas'));
  }

  private onReplicaEvent(m: Record<string, unknown>): void {
    if (m.origin === this.instance) return;
    if (m.type === 'admin-changed') {
      this.reload(this.fileConfig).catch((err: unknown) => this.logger.error({ err }, 'admin: applying another replica\'s change failed'));
    } else if (m.type === 'list-changed' && typeof m.upstream === 'string' && (m.kind === 'tools' || m.kind === 'resources' || m.kind === 'prompts')) {
      this.refreshFromReplica(m.upstream, m.kind);
    } else if (m.type === 'client-response' && typeof m.session === 'string') {
      // The client answered on another replica a request this one sent (sampling, elicitation, roots).
      this.sessions.get(m.session)?.resolveClientResponse(m.response as JsonRpcResponse);
    } else if (m.type === 'approvals-changed') {
      this.revet().catch((err: unknown) => this.logger.warn({ err }, 'pinning: vetting again after another replica\'s approval failed'));
    }
  }

  /** The config file changed: apply it with the admin API's changes laid over it again. */
  async reload(file: GatehouseConfig): Promise<ConfigDiff> {
    this.fileConfig = file;
    const { config, skipped } = overlay(file, await this.adminChanges.list());
    for (const { change, message } of skipped) this.logger.error({ kind: change.kind, name: change.name, err: message }, 'admin: a stored change no longer validates against the reloaded config file; it is not applied');
    return this.reconfigure(config);
  }

  /** Switch to `next` live, restarting only what differs; returns what changed. */
  async reconfigure(next: GatehouseConfig): Promise<ConfigDiff> {
    const changes = diffConfig(this.config, next);
    await this.applyConfig(next, changes);
    return changes;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  // ---- Front --------------------------------------------------------------------------------------

  hasVirtualServer(name: string): boolean {
    return Object.hasOwn(this.config.virtualServers, name);
  }

  authenticate(req: IncomingMessage, virtualServer: string): Promise<Principal> {
    return this.identity.authenticate(req, { virtualServer });
  }

  initializeResult(virtualServer: string, revision: string): JsonObject {
    const view = this.view(virtualServer)!;
    const vs = this.config.virtualServers[virtualServer];
    const result: JsonObject = {
      protocolVersion: revision,
      capabilities: view.capabilities,
      serverInfo: { name: 'gatehouse', title: vs?.title ?? 'Gatehouse', version: VERSION },
    };
    const instructions = vs?.description ?? view.instructions;
    if (instructions) result.instructions = instructions;
    return result;
  }

  discoverResult(virtualServer: string): JsonObject {
    const view = this.view(virtualServer)!;
    const vs = this.config.virtualServers[virtualServer];
    const serverInfo = { name: 'gatehouse', title: vs?.title ?? 'Gatehouse', version: VERSION };
    const { logging: _logging, ...capabilities } = view.capabilities;
    const result: JsonObject = {
      resultType: 'complete',
      supportedVersions: [...SUPPORTED_REVISIONS],
      capabilities,
      serverInfo,
      ttlMs: 0,
      cacheScope: 'private',
      _meta: { 'io.modelcontextprotocol/serverInfo': serverInfo },
    };
    const instructions = vs?.description ?? view.instructions;
    if (instructions) result.instructions = instructions;
    return result;
  }

  listen(context: DownstreamSession, _id: string | number, filter: ListenFilter): Listener {
    const listener: Listener = {
      virtualServer: context.virtualServer,
      filter,
      deliver: () => {},
      close: () => {
        this.listeners.delete(listener);
      },
    };
    this.listeners.add(listener);
    const view = this.view(context.virtualServer);
    // Resource updates need an upstream subscription; a failed one just never fires.
    for (const uri of filter.resourceSubscriptions ?? []) {
      const upstream = view?.resourceRoutes.get(uri) ?? view?.templateRoutes.find((t) => t.pattern.test(uri))?.upstream ?? (view?.upstreams.length === 1 ? view.upstreams[0] : undefined);
      if (!upstream) continue;
      this.router.connection(context, upstream).then((conn) => conn.request('resources/subscribe', { uri })).catch(() => {});
    }
    return listener;
  }

  routePortal(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> | null {
    return routePortal(this, req, res, path, url);
  }

  exposeMetrics(): Promise<{ contentType: string; body: string }> {
    return this.metrics.expose();
  }

  readiness(): Readiness {
    const upstreams: Readiness['upstreams'] = {};
    let ready = !this.draining;
    for (const [name, u] of Object.entries(this.config.upstreams)) {
      if (!u.enabled) continue;
      const entry = this.catalog.entries.get(name);
      // An upstream that lists nothing until a first user authorizes (approval: user) does not make the gateway unready.
      if (entry?.status !== 'ready' && this.userOAuth?.awaiting(name) === true) {
        upstreams[name] = { status: 'needs authorization', error: entry?.error ?? null };
        continue;
      }
      // Replicas out of rotation degrade an upstream without making the gateway unready: another gateway would not help.
      upstreams[name] = { status: entry?.status ?? 'starting', error: entry?.error ?? null, replicas: this.pools.get(name)?.status() ?? [] };
      if (entry?.status !== 'ready') ready = false;
    }
    return this.redis === null ? { ready, upstreams } : { ready, redis: this.redis.status, upstreams };
  }

  // ---- views --------------------------------------------------------------------------------------

  view(name: string): View | undefined {
    const state = this.views.get(name);
    if (!state) return undefined;
    if (state.view.catalogVersion !== this.catalog.version) this.rebuild(name, state);
    return state.view;
  }

  private vsConfig(name: string): VirtualServerConfig | undefined {
    return name === DEFAULT_VIEW ? DEFAULT_VIEW_CONFIG : this.config.virtualServers[name];
  }

  private configureViews(): void {
    const names = [DEFAULT_VIEW, ...Object.keys(this.config.virtualServers)];
    for (const name of [...this.views.keys()]) if (!names.includes(name)) this.views.delete(name);
    for (const name of names) {
      const view = buildView(name, this.vsConfig(name)!, this.catalog, this.config.namespacing);
      const previous = this.views.get(name);
      this.views.set(name, { view, signature: signatureOf(view) });
      const stages = buildStages(this.config, { virtualServer: name, counters: this.counters, logger: this.logger, foundTools: this.foundTools, metrics: this.metrics, embedders: this.embedders });
      this.pipelines.set(name, stages.length === 0 ? null : compilePipeline(stages));
      if (previous) this.notifyChanges(name, previous.signature, signatureOf(view));
      for (const w of view.warnings) this.logger.warn({ virtualServer: name || '(default)' }, w);
    }
  }

  private rebuild(name: string, state: ViewState): void {
    const view = buildView(name, this.vsConfig(name)!, this.catalog, this.config.namespacing);
    const signature = signatureOf(view);
    const previous = state.signature;
    state.view = view;
    state.signature = signature;
    this.notifyChanges(name, previous, signature);
  }

  /**
   * Catalog changes are coalesced into one rebuild per turn of the event loop: hundreds of upstreams listing at start
   * would otherwise rebuild (and re-sign) every view once each, quadratic in the catalog. `view()` rebuilds a stale
   * view on demand, so requests in between see the new catalog; only the list_changed notices wait for the turn.
   */
  private onCatalogChange(): void {
    if (this.rebuildScheduled) return;
    this.rebuildScheduled = true;
    setImmediate(() => {
      this.rebuildScheduled = false;
      for (const [name, state] of this.views) if (state.view.catalogVersion !== this.catalog.version) this.rebuild(name, state);
    });
  }

  /** Tell the sessions of a virtual server which of their lists changed. */
  private notifyChanges(name: string, before: Record<ListKind, string>, after: Record<ListKind, string>): void {
    const methods: string[] = [];
    if (before.tools !== after.tools) methods.push('notifications/tools/list_changed');
    if (before.prompts !== after.prompts) methods.push('notifications/prompts/list_changed');
    if (before.resources !== after.resources || before.resourceTemplates !== after.resourceTemplates) methods.push('notifications/resources/list_changed');
    if (methods.length === 0) return;
    for (const s of this.sessions.values()) {
      if (s.virtualServer !== name) continue;
      for (const method of methods) s.push({ jsonrpc: '2.0', method });
    }
    for (const l of this.listeners) {
      if (l.virtualServer !== name) continue;
      for (const method of methods) if (listenWants(l.filter, method)) l.deliver({ jsonrpc: '2.0', method } as JsonRpcNotification);
    }
  }

  // ---- upstreams ----------------------------------------------------------------------------------

  private async addUpstream(name: string, config: UpstreamConfig): Promise<void> {
    this.catalog.declare(name, config.tags, config.title);
    const pool = new ReplicaSet(name, config, {
      onNotification: (conn, n, tag) => this.router.onUpstreamNotification(name, conn, n, tag),
      onRequest: (conn, r, tag) => this.router.onUpstreamRequest(name, conn, r, tag),
      onClose: (conn, error) => this.router.onUpstreamClose(name, conn, error),
      onReplicaDown: () => this.router.moveListeners(name),
      onOpen: (conn, role) => this.onUpstreamOpen(name, pool, conn, role),
    }, {
      capabilities: UPSTREAM_CLIENT_CAPABILITIES,
      clientVersion: VERSION,
      logger: this.logger,
      lookup: guardedLookup(this.config.allowlist) as unknown as import('node:net').LookupFunction,
      ...(this.config.server.metrics && { metrics: this.metrics }),
      ...(this.userOAuth !== null && { userOAuth: this.userOAuth }),
    });
    this.pools.set(name, pool);
    await this.load(name, pool);
  }

  /** (Re)list an upstream over its catalog connection; failures are reported in /readyz and retried. */
  private load(name: string, pool: ReplicaSet): Promise<void> {
    const running = this.loading.get(name);
    if (running) return running;
    const task = (async () => {
      try {
        await pool.start();
        const conn = await pool.catalog();
        if (this.pools.get(name) !== pool) return;
        await this.catalog.load(name, conn);
        this.logger.info({ upstream: name, tools: this.catalog.entries.get(name)?.tools.length }, 'upstream ready');
      } catch (err) {
        if (this.pools.get(name) !== pool) return;
        this.catalog.fail(name, (err as Error).message);
        this.logger.error({ upstream: name, err: (err as Error).message }, 'upstream failed to start');
      } finally {
        this.loading.delete(name);
      }
    })();
    this.loading.set(name, task);
    return task;
  }

  /** A shared or catalog connection (re)opened after a crash or recycling: list the upstream again. */
  private onUpstreamOpen(name: string, pool: ReplicaSet, conn: UpstreamConnection, role: string): void {
    if ((role !== 'shared' && role !== 'catalog') || this.pools.get(name) !== pool || this.draining) return;
    if (this.catalog.entries.get(name)?.status === 'starting' || this.loading.has(name)) return; // the first load does it
    this.catalog.load(name, conn).catch((err: Error) => this.catalog.fail(name, err.message));
  }

  private refresh(upstream: string, conn: UpstreamConnection, kind: 'tools' | 'resources' | 'prompts'): void {
    const kinds: ListKind[] = kind === 'resources' ? ['resources', 'resourceTemplates'] : [kind];
    this.catalog.refresh(upstream, conn, kinds).catch((err: Error) => this.logger.warn({ upstream, err: err.message }, 'refreshing the catalog failed'));
    // The upstream told this replica; the others list it again too (their own connections may not hear it).
    this.redis?.publish('events', { type: 'list-changed', origin: this.instance, upstream, kind }).catch(() => {});
  }

  /** Another replica heard an upstream's list_changed: list it again on this one's catalog connection. */
  private refreshFromReplica(upstream: string, kind: 'tools' | 'resources' | 'prompts'): void {
    const pool = this.pools.get(upstream);
    if (pool === undefined) return;
    const kinds: ListKind[] = kind === 'resources' ? ['resources', 'resourceTemplates'] : [kind];
    pool.catalog()
      .then((conn) => this.catalog.refresh(upstream, conn, kinds))
      .catch((err: Error) => this.logger.warn({ upstream, err: err.message }, 'refreshing the catalog after another replica\'s list_changed failed'));
  }

  // ---- config -------------------------------------------------------------------------------------

  /** Apply a new config live: restart only upstreams that changed; sessions of unaffected servers stay. */
  async applyConfig(next: GatehouseConfig, changes: { upstreams: { added: string[]; removed: string[]; changed: string[] } }): Promise<void> {
    this.config = next;
    this.options = frontOptions(next);
    this.identity = this.createIdentity(next);
    const stops: Promise<void>[] = [];
    for (const name of [...changes.upstreams.removed, ...changes.upstreams.changed]) {
      const pool = this.pools.get(name);
      this.pools.delete(name);
      this.catalog.remove(name);
      // Calls already running on a removed or changed upstream finish (within drainTimeout); new ones go to its successor.
      if (pool) stops.push(pool.drain(next.server.drainTimeout));
    }
    this.configureViews();
    // Sessions bound to a virtual server that no longer exists are ended.
    for (const s of [...this.sessions.values()]) if (s.virtualServer !== DEFAULT_VIEW && !this.hasVirtualServer(s.virtualServer)) this.sessions.end(s.id);
    const starts = [...changes.upstreams.added, ...changes.upstreams.changed]
      .filter((name) => next.upstreams[name]?.enabled)
      .map((name) => this.addUpstream(name, next.upstreams[name]));
    await Promise.all([...stops, ...starts]);
  }

  /** SIGTERM: stop taking sessions, let in-flight calls finish (bounded), then close everything. */
  async drain(timeoutMs = this.config.server.drainTimeout): Promise<void> {
    this.draining = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.router.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    await this.close();
  }

  async close(): Promise<void> {
    this.draining = true;
    this.sessions.closeAll();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
    // After the pools: calls cut short by the close are still recorded (as errors) before the log shuts.
    if (!this.closed) await this.audit?.close();
    await this.apiKeyStore?.close();
    this.apiKeyStore = null;
    if (!this.closed) await this.adminChanges.close();
    await this.redis?.close();
    this.redis = null;
    await this.postgres?.close();
    this.postgres = null;
    await this.userOAuth?.vault.close();
    await this.embedders.close();
    if (this.pinWatch) clearInterval(this.pinWatch);
    this.pinWatch = null;
    if (!this.closed) await this.pins?.close();
    // Last: the spans of calls cut short by the close are exported too.
    if (!this.closed) await this.tracing?.close().catch((err: unknown) => this.logger.warn({ err }, 'tracing: could not export the last spans'));
    this.closed = true;
  }

  stats(): { sessions: number; upstreams: Record<string, unknown> } {
    const upstreams: Record<string, unknown> = {};
    for (const [name, pool] of this.pools) upstreams[name] = pool.stats();
    return { sessions: this.sessions.size, upstreams };
  }
}


function frontOptions(config: GatehouseConfig): FrontOptions {
  return {
    path: config.server.path,
    maxBodyBytes: config.server.maxBodyBytes,
    resumeBuffer: config.server.resumeBuffer,
    legacySse: config.server.legacySse,
    metrics: config.server.metrics,
    streamCalls: config.server.callResponse === 'sse',
    origin: {
      allowedOrigins: config.server.allowedOrigins,
      allowedHosts: config.server.allowedHosts,
      loopbackOnly: isLoopbackHost(config.server.host),
    },
  };
}

function listenWants(filter: ListenFilter, method: string): boolean {
  if (method === 'notifications/tools/list_changed') return filter.toolsListChanged === true;
  if (method === 'notifications/prompts/list_changed') return filter.promptsListChanged === true;
  return filter.resourcesListChanged === true;
}

function signatureOf(view: View): Record<ListKind, string> {
  const out = {} as Record<ListKind, string>;
  for (const kind of LIST_KINDS) out[kind] = JSON.stringify(view[kind]);
  return out;
}
