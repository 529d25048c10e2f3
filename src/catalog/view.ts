/**
 * A virtual server's view of the catalog: the selection of upstreams and tools it exposes, named by the
 * namespacing policy, with overrides and derived tools applied. Lists and calls both go through the maps
 * built here, so a tool a view does not list can never be called through it.
 */
import type { JsonObject } from '../core/jsonrpc.ts';
import type { VirtualServerConfig } from '../config/schema.ts';
import type { Catalog, QuarantinedDef, UpstreamEntry } from './catalog.ts';
import { matchesAny } from './glob.ts';
import type { PromptDef, ResourceDef, ResourceTemplateDef, ToolDef } from './types.ts';
import { templateToRegExp } from './uri-template.ts';

export interface Namespacing {
  mode: 'conditional' | 'always' | 'never';
  separator: string;
}

export interface ToolRoute {
  upstream: string;
  /** The tool's name at the upstream. */
  original: string;
  /** Derived tools: arguments forced to these values. */
  fixed: JsonObject | null;
  /** Derived tools: arguments defaulted to these values. */
  defaults: JsonObject | null;
  /** The upstream's annotations say readOnlyHint or idempotentHint: failover may send the call again. */
  repeatable: boolean;
}

export interface NamedRoute {
  upstream: string;
  original: string;
}

export interface View {
  readonly name: string;
  readonly catalogVersion: number;
  readonly upstreams: readonly string[];
  readonly tools: readonly ToolDef[];
  readonly prompts: readonly PromptDef[];
  readonly resources: readonly ResourceDef[];
  readonly resourceTemplates: readonly ResourceTemplateDef[];
  readonly toolRoutes: ReadonlyMap<string, ToolRoute>;
  readonly promptRoutes: ReadonlyMap<string, NamedRoute>;
  readonly resourceRoutes: ReadonlyMap<string, string>;
  readonly templateRoutes: readonly { pattern: RegExp; upstream: string; uriTemplate: string }[];
  readonly capabilities: JsonObject;
  readonly instructions: string | undefined;
  /** Problems found while building (name collisions, derived tools whose source is missing). */
  readonly warnings: readonly string[];
  /**
   * Definitions this view would expose but the gate holds in quarantine, by the name (tools, prompts) or URI
   * (resources) a client would use: a call to one is refused saying so, rather than as unknown.
   */
  readonly quarantine: { readonly tools: ReadonlyMap<string, QuarantinedDef>; readonly prompts: ReadonlyMap<string, QuarantinedDef>; readonly resources: ReadonlyMap<string, QuarantinedDef> };
}

/** The default view (`/mcp`): every upstream, every tool, no overrides. */
export const DEFAULT_VIEW_CONFIG: VirtualServerConfig = { tools: {}, derived: [], hideDerivedSources: false };

export function buildView(name: string, config: VirtualServerConfig, catalog: Catalog, ns: Namespacing): View {
  const warnings: string[] = [];
  const entries = [...catalog.entries.values()].filter((e) => e.status === 'ready' && selectsUpstream(config, e));
  const upstreams = entries.map((e) => e.upstream);
  const prefix = ns.mode === 'always' || (ns.mode === 'conditional' && upstreams.length > 1);
  const qualify = (upstream: string, item: string) => (prefix ? `${upstream}${ns.separator}${item}` : item);

  // Tools: select, name, then override.
  const federated = new Map<string, { def: ToolDef; route: ToolRoute }>();
  for (const e of entries) {
    for (const tool of e.tools) {
      const fname = qualify(e.upstream, tool.name);
      if (!selectsTool(config, e, fname)) continue;
      if (federated.has(fname)) {
        warnings.push(`tool name "${fname}" is offered by ${federated.get(fname)!.route.upstream} and ${e.upstream}; keeping the first (use namespacing mode "always" or "conditional")`);
        continue;
      }
      federated.set(fname, { def: tool, route: { upstream: e.upstream, original: tool.name, fixed: null, defaults: null, repeatable: repeatable(tool) } });
    }
  }

  const tools: ToolDef[] = [];
  const toolRoutes = new Map<string, ToolRoute>();
  const hidden = new Set<string>();
  if (config.hideDerivedSources) for (const d of config.derived) hidden.add(d.from);
  const add = (exposed: string, def: ToolDef, route: ToolRoute) => {
    if (toolRoutes.has(exposed)) {
      warnings.push(`tool name "${exposed}" is defined twice in virtual server "${name}"; keeping the first`);
      return;
    }
    toolRoutes.set(exposed, route);
    tools.push(def);
  };
  for (const [fname, { def, route }] of federated) {
    if (hidden.has(fname)) continue;
    const o = config.tools[fname];
    if (!o) {
      add(fname, fname === def.name ? def : { ...def, name: fname }, route);
      continue;
    }
    const exposed = o.name ?? fname;
    const out: ToolDef = { ...def, name: exposed };
    if (o.title !== undefined) out.title = o.title;
    if (o.description !== undefined) out.description = o.description;
    if (o.descriptionAppend !== undefined) out.description = `${out.description ?? ''}${out.description ? '\n\n' : ''}${o.descriptionAppend}`;
    if (o.annotations !== undefined) out.annotations = { ...(def.annotations ?? {}), ...o.annotations };
    add(exposed, out, route);
  }
  for (const d of config.derived) {
    const source = federated.get(d.from);
    if (!source) {
      warnings.push(`derived tool "${d.name}" wraps "${d.from}", which virtual server "${name}" does not include`);
      continue;
    }
    const out: ToolDef = { ...source.def, name: d.name, inputSchema: deriveSchema(source.def.inputSchema, d.fixed, d.defaults) };
    if (d.title !== undefined) out.title = d.title;
    if (d.description !== undefined) out.description = d.description;
    if (d.annotations !== undefined) out.annotations = { ...(source.def.annotations ?? {}), ...d.annotations };
    add(d.name, out, { ...source.route, fixed: Object.keys(d.fixed).length ? d.fixed : null, defaults: Object.keys(d.defaults).length ? d.defaults : null });
  }
  for (const key of Object.keys(config.tools)) {
    if (!federated.has(key)) warnings.push(`override for "${key}" in virtual server "${name}" matches no tool`);
  }

  // Prompts are named like tools; resources keep their URIs.
  const prompts: PromptDef[] = [];
  const promptRoutes = new Map<string, NamedRoute>();
  const resources: ResourceDef[] = [];
  const resourceRoutes = new Map<string, string>();
  const resourceTemplates: ResourceTemplateDef[] = [];
  const templateRoutes: { pattern: RegExp; upstream: string; uriTemplate: string }[] = [];
  for (const e of entries) {
    for (const p of e.prompts) {
      const pname = qualify(e.upstream, p.name);
      if (promptRoutes.has(pname)) continue;
      promptRoutes.set(pname, { upstream: e.upstream, original: p.name });
      prompts.push(pname === p.name ? p : { ...p, name: pname });
    }
    for (const r of e.resources) {
      if (resourceRoutes.has(r.uri)) continue;
      resourceRoutes.set(r.uri, e.upstream);
      resources.push(r);
    }
    for (const t of e.resourceTemplates) {
      templateRoutes.push({ pattern: templateToRegExp(t.uriTemplate), upstream: e.upstream, uriTemplate: t.uriTemplate });
      resourceTemplates.push(t);
    }
  }

  const quarantine = { tools: new Map<string, QuarantinedDef>(), prompts: new Map<string, QuarantinedDef>(), resources: new Map<string, QuarantinedDef>() };
  for (const e of entries) {
    for (const q of e.quarantined.tools) {
      const fname = qualify(e.upstream, q.key);
      if (selectsTool(config, e, fname) && !hidden.has(fname)) quarantine.tools.set(config.tools[fname]?.name ?? fname, q);
    }
    for (const q of e.quarantined.prompts) quarantine.prompts.set(qualify(e.upstream, q.key), q);
    for (const q of e.quarantined.resources) quarantine.resources.set(q.key, q);
  }

  return {
    name,
    catalogVersion: catalog.version,
    upstreams,
    tools,
    prompts,
    resources,
    resourceTemplates,
    toolRoutes,
    promptRoutes,
    resourceRoutes,
    templateRoutes,
    capabilities: mergeCapabilities(entries, tools.length > 0),
    instructions: mergeInstructions(entries),
    warnings,
    quarantine,
  };
}

function selectsUpstream(config: VirtualServerConfig, e: UpstreamEntry): boolean {
  if (!config.include) return true;
  return config.include.some((s) => (!s.upstreams || s.upstreams.includes(e.upstream)) && (!s.tags || s.tags.some((t) => e.tags.includes(t))));
}

function selectsTool(config: VirtualServerConfig, e: UpstreamEntry, fname: string): boolean {
  if (!config.include) return true;
  return config.include.some(
    (s) =>
      (!s.upstreams || s.upstreams.includes(e.upstream)) &&
      (!s.tags || s.tags.some((t) => e.tags.includes(t))) &&
      (!s.tools || matchesAny(fname, s.tools)) &&
      (!s.excludeTools || !matchesAny(fname, s.excludeTools)),
  );
}

/** Remove fixed arguments from a schema and give defaulted ones their default, so they stop being required. */
export function deriveSchema(schema: JsonObject, fixed: JsonObject, defaults: JsonObject): JsonObject {
  const properties = { ...((schema.properties as JsonObject | undefined) ?? {}) };
  let required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  for (const key of Object.keys(fixed)) delete properties[key];
  for (const [key, value] of Object.entries(defaults)) {
    if (properties[key] && typeof properties[key] === 'object') properties[key] = { ...(properties[key] as JsonObject), default: value };
  }
  required = required.filter((k) => !(k in fixed) && !(k in defaults));
  const out: JsonObject = { ...schema, properties };
  if (required.length) out.required = required;
  else delete out.required;
  return out;
}

/** Advertise only what the selected upstreams can deliver (plus list_changed, which the gateway itself emits). */
function mergeCapabilities(entries: UpstreamEntry[], hasTools: boolean): JsonObject {
  const caps: JsonObject = {};
  const has = (key: string) => entries.some((e) => e.info?.capabilities[key] !== undefined);
  if (hasTools || has('tools')) caps.tools = { listChanged: true };
  if (has('resources')) {
    const subscribe = entries.some((e) => (e.info?.capabilities.resources as JsonObject | undefined)?.subscribe === true);
    caps.resources = subscribe ? { subscribe: true, listChanged: true } : { listChanged: true };
  }
  if (has('prompts')) caps.prompts = { listChanged: true };
  if (has('completions')) caps.completions = {};
  if (has('logging')) caps.logging = {};
  return caps;
}

function mergeInstructions(entries: UpstreamEntry[]): string | undefined {
  const parts = entries.filter((e) => e.info?.instructions).map((e) => ({ name: e.upstream, text: e.info!.instructions! }));
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0].text;
  return parts.map((p) => `## ${p.name}\n${p.text}`).join('\n\n');
}

/** What the upstream says about repeating a call: read-only and idempotent tools may run twice to no harm. */
function repeatable(tool: ToolDef): boolean {
  const a = tool.annotations as { readOnlyHint?: unknown; idempotentHint?: unknown } | undefined;
  return a?.readOnlyHint === true || a?.idempotentHint === true;
}
