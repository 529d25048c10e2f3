/**
 * The `policy` stage: filters every list and gates every call with the same predicate (`decide`), so a tool is
 * listed if and only if it is callable. A hidden target is refused with the very error an unknown one gets
 * ("Unknown tool"), so a denial never confirms that it exists.
 */
import type { Logger } from 'pino';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import { CONTINUE, callIds, withRule } from '../core/stage.ts';
import type { Stage, StageContext } from '../core/stage.ts';
import { compilePolicy } from './authorize.ts';
import type { Authorizer } from './authorize.ts';
import type { PolicyConfig } from './config.ts';
import type { PolicyTarget, TargetKind } from './rules.ts';

export interface PolicyStageOptions {
  /** Denials are logged at warn with the rule; hidden list items at debug. */
  readonly logger?: Logger;
  /** A policy compiled already (shared by the virtual servers of one config). */
  readonly authorizer?: Authorizer;
}

export interface PolicyCounters {
  /** Requests refused. */
  denied: number;
  /** Shadow mode: requests the policy would have refused. */
  shadowDenied: number;
}

export interface PolicyStage extends Stage {
  readonly name: 'policy';
  readonly counters: PolicyCounters;
}

const LIST_KINDS: Readonly<Record<string, TargetKind>> = { tools: 'tool', prompts: 'prompt', resources: 'resource', resourceTemplates: 'resourceTemplate' };

/** null when the policy can deny nothing (no rules, default allow): the pipeline then has no stage to run. */
export function createPolicyStage(config: PolicyConfig, virtualServer: string, options: PolicyStageOptions = {}): PolicyStage | null {
  const authorizer = options.authorizer ?? compilePolicy(config);
  if (authorizer.permitsAll) return null;
  const { logger } = options;
  const counters: PolicyCounters = { denied: 0, shadowDenied: 0 };

  return {
    name: 'policy',
    counters,
    onList(ctx, kind, items) {
      const targetKind = LIST_KINDS[kind];
      if (targetKind === undefined) return items;
      const kept: JsonObject[] = [];
      let hidden: { name: string; rule: string | null }[] | null = null;
      for (const item of items) {
        const name = (targetKind === 'resourceTemplate' ? item.uriTemplate : targetKind === 'resource' ? item.uri : item.name) as string;
        const decision = authorizer.decide(ctx.principal, { virtualServer, upstream: ctx.upstreamOf(kind, item), kind: targetKind, name });
        if (decision.allowed) kept.push(item);
        else (hidden ??= []).push({ name, rule: decision.rule });
      }
      if (hidden !== null && logger?.isLevelEnabled('debug')) logger.debug({ virtualServer, principal: ctx.principal.id, kind, hidden }, 'policy hid list items');
      return hidden === null ? items : kept;
    },
    onRequest(ctx, params) {
      const target = requestTarget(ctx, params, virtualServer);
      if (target === null) return CONTINUE;
      const decision = authorizer.decide(ctx.principal, target);
      if (decision.shadowed) {
        counters.shadowDenied++;
        logger?.warn({ ...callIds(ctx), virtualServer, principal: ctx.principal.id, method: ctx.method, kind: target.kind, target: target.name, upstream: target.upstream, rule: decision.rule, shadow: true }, 'policy would deny (shadow mode)');
        return CONTINUE;
      }
      if (decision.allowed) return CONTINUE;
      counters.denied++;
      logger?.warn({ ...callIds(ctx), virtualServer, principal: ctx.principal.id, method: ctx.method, kind: target.kind, target: target.name, upstream: target.upstream, rule: decision.rule ?? '(default)' }, 'policy denied');
      return { action: 'reject', error: withRule(notFound(target), decision.rule ?? '(default)') };
    },
  };
}

/** What a request addresses, as the lists name it; null for methods that address nothing listed. */
function requestTarget(ctx: StageContext, params: JsonObject | undefined, virtualServer: string): PolicyTarget | null {
  switch (ctx.method) {
    case 'tools/call':
      return ctx.target === null ? null : { virtualServer, upstream: ctx.upstream, kind: 'tool', name: ctx.target };
    case 'prompts/get':
      return ctx.target === null ? null : { virtualServer, upstream: ctx.upstream, kind: 'prompt', name: ctx.target };
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return ctx.target === null ? null : { virtualServer, upstream: ctx.upstream, kind: 'resource', name: ctx.target };
    case 'completion/complete': {
      // Completing a hidden prompt's or template's arguments would confirm it exists.
      const ref = params?.ref as JsonObject | undefined;
      if (ref?.type === 'ref/prompt' && typeof ref.name === 'string') {
        return { virtualServer, upstream: ctx.upstreamOf('prompts', { name: ref.name }), kind: 'prompt', name: ref.name };
      }
      if (ref?.type === 'ref/resource' && typeof ref.uri === 'string') {
        const template = ctx.upstreamOf('resourceTemplates', { uriTemplate: ref.uri });
        if (template !== null) return { virtualServer, upstream: template, kind: 'resourceTemplate', name: ref.uri };
        return { virtualServer, upstream: ctx.upstreamOf('resources', { uri: ref.uri }), kind: 'resource', name: ref.uri };
      }
      return null;
    }
    default:
      return null;
  }
}

function notFound(target: PolicyTarget): GatehouseError {
  if (target.kind === 'tool') return new GatehouseError('GH_ERR_TOOL_NOT_FOUND', [target.name]);
  if (target.kind === 'prompt') return new GatehouseError('GH_ERR_PROMPT_NOT_FOUND', [target.name]);
  return new GatehouseError('GH_ERR_RESOURCE_NOT_FOUND', [target.name]);
}
