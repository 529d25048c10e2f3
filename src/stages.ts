/**
 * Which guard stages a virtual server's pipeline has, in order. Request phases run top to bottom (authorization
 * first, so a denied call costs nothing more), response phases bottom to top. Adding a feature means adding a
 * stage here, never editing the router.
 */
import type { GatehouseConfig } from './config/schema.ts';
import type { Stage } from './core/stage.ts';
import type { Logger } from 'pino';
import { createPolicyStage } from './policy/policy-stage.ts';
import { createRateLimitStage } from './policy/rate-limit.ts';
import { resolveSection } from './optimizer/config.ts';
import { createCompactionStage } from './optimizer/compaction.ts';
import { createResultGuardStage } from './guard/result-guard.ts';
import { createToolSearchStages } from './optimizer/search-stage.ts';
import type { FoundTools } from './optimizer/search-stage.ts';
import type { Embedders } from './optimizer/embedders.ts';
import type { CounterStore } from './store/counters.ts';
import type { GatewayMetrics } from './observe/metrics.ts';

export interface StageDeps {
  readonly virtualServer: string;
  /** The gateway's one counter store (rate-limit buckets), shared by every virtual server's pipeline. */
  readonly counters: CounterStore;
  /** Where stages log (policy denials at warn). */
  readonly logger?: Logger;
  /** Tools each session found in search mode; give the gateway's one instance so they survive config reloads. */
  readonly foundTools?: FoundTools;
  /** The gateway's metrics (search timings). */
  readonly metrics?: GatewayMetrics;
  /** The gateway's embedders (hybrid search), kept across config reloads. */
  readonly embedders?: Embedders;
}

export function buildStages(config: GatehouseConfig, deps: StageDeps): Stage[] {
  const stages: Stage[] = [];
  const vs = config.virtualServers[deps.virtualServer];
  const compaction = createCompactionStage(resolveSection(config.compaction, vs?.compaction));
  // First in the list, so its response phase runs last and sees each result exactly as the client will.
  const guard = createResultGuardStage(resolveSection(config.resultGuard, vs?.resultGuard), { virtualServer: deps.virtualServer, ...(deps.logger && { logger: deps.logger }) });
  if (guard) stages.push(guard);
  // Search mode answers its meta-tools and refuses unfound tools before anything else (a meta-tool has no upstream
  // for policy to judge); its list half runs after policy, so a session lists and searches only what it may see.
  const search = createToolSearchStages({
    config: resolveSection(config.toolSearch, vs?.toolSearch),
    servers: config.upstreams,
    separator: config.namespacing.separator,
    virtualServer: deps.virtualServer,
    ...(deps.foundTools && { found: deps.foundTools }),
    ...(deps.metrics && { metrics: deps.metrics }),
    ...(deps.embedders && { embedders: deps.embedders }),
    // Searches rank the full definitions; what they return is compacted like the session's list.
    ...(compaction && { indexBefore: compaction.name }),
  });
  if (search) stages.push(search.request);
  const policy = createPolicyStage(config.policy, deps.virtualServer, { logger: deps.logger });
  if (policy) stages.push(policy);
  // After authorization: a call the policy denies spends no tokens.
  const rateLimit = createRateLimitStage(config.rateLimits, deps.virtualServer, deps.counters);
  if (rateLimit) stages.push(rateLimit);
  // Before search mode's list stage: what search_tools returns is compacted too.
  if (compaction) stages.push(compaction);
  if (search) stages.push(search.list);
  return stages;
}
