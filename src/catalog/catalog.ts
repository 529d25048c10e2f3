/**
 * The federated catalog: for every upstream, its definitions as it last listed them, fetched across all of
 * its pages and refreshed when it says `list_changed`. Every change bumps `version`, which the virtual-server
 * views use to know when to rebuild. The catalog does no routing and knows nothing about sessions.
 */
import { EventEmitter } from 'node:events';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { UpstreamConnection, UpstreamInfo } from '../upstream/types.ts';
import type { ListKind, PromptDef, ResourceDef, ResourceTemplateDef, ToolDef } from './types.ts';

/** A definition kept out of the lists (src/guard/pinning.ts): not listed, not callable, until approved. */
export interface QuarantinedDef {
  kind: ListKind;
  key: string;
  reason: string;
  approval: string;
}

/**
 * What every listed definition passes before the catalog keeps it (pinning, scanning). An error fails the upstream's
 * listing: nothing unvetted is ever served.
 */
export interface DefinitionGate {
  vet(upstream: string, kind: ListKind, items: readonly JsonObject[]): Promise<{ kept: JsonObject[]; quarantined: QuarantinedDef[] }>;
  /** The server's own words (initialize `instructions`, `serverInfo`) reach the model too: vetted before they are kept. */
  vetInfo?(upstream: string, info: UpstreamInfo): Promise<UpstreamInfo>;
}

export interface UpstreamEntry {
  readonly upstream: string;
  status: 'starting' | 'ready' | 'failed';
  error: string | null;
  info: UpstreamInfo | null;
  tools: ToolDef[];
  resources: ResourceDef[];
  resourceTemplates: ResourceTemplateDef[];
  prompts: PromptDef[];
  /** Definitions the gate kept out, per list. */
  quarantined: Record<ListKind, QuarantinedDef[]>;
  /** Every list as the upstream sent it, for vetting again after an approval. */
  raw: Record<ListKind, JsonObject[]>;
  /** Tags and title from config, used by selections and descriptions. */
  tags: readonly string[];
  title: string | undefined;
}

const LISTS: Record<ListKind, { method: string; key: string; capability: string }> = {
  tools: { method: 'tools/list', key: 'tools', capability: 'tools' },
  resources: { method: 'resources/list', key: 'resources', capability: 'resources' },
  resourceTemplates: { method: 'resources/templates/list', key: 'resourceTemplates', capability: 'resources' },
  prompts: { method: 'prompts/list', key: 'prompts', capability: 'prompts' },
};

export const LIST_KINDS = Object.keys(LISTS) as ListKind[];

/** Upper bound on pages fetched from one upstream for one list, against a cursor that never ends. */
const MAX_PAGES = 1000;

const emptyLists = <T>(): Record<ListKind, T[]> => ({ tools: [], resources: [], resourceTemplates: [], prompts: [] });

export class Catalog extends EventEmitter<{ change: [upstream: string, kinds: ListKind[]] }> {
  version = 0;
  readonly entries = new Map<string, UpstreamEntry>();
  /** Set once at start when pinning or scanning is on. */
  gate: DefinitionGate | null = null;
  /**
   * Listings of one upstream run one after another: two list_changed in a row must not apply out of order (an older
   * list landing last would serve a definition the upstream no longer has, and vet against a stale store).
   */
  private readonly queues = new Map<string, Promise<void>>();

  private serially(upstream: string, work: () => Promise<void>): Promise<void> {
    const run = (this.queues.get(upstream) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => {});
    this.queues.set(upstream, settled);
    void settled.then(() => {
      if (this.queues.get(upstream) === settled) this.queues.delete(upstream);
    });
    return run;
  }

  declare(upstream: string, tags: readonly string[], title: string | undefined): UpstreamEntry {
    let entry = this.entries.get(upstream);
    if (!entry) {
      entry = { upstream, status: 'starting', error: null, info: null, tools: [], resources: [], resourceTemplates: [], prompts: [], quarantined: emptyLists(), raw: emptyLists(), tags, title };
      this.entries.set(upstream, entry);
    } else {
      entry.tags = tags;
      entry.title = title;
    }
    return entry;
  }

  /** List everything an upstream offers over `conn` and replace its entry. */
  load(upstream: string, conn: UpstreamConnection): Promise<void> {
    return this.serially(upstream, () => this.loadNow(upstream, conn));
  }

  private async loadNow(upstream: string, conn: UpstreamConnection): Promise<void> {
    const entry = this.entries.get(upstream);
    if (!entry) return;
    const lists = await Promise.all(LIST_KINDS.map((kind) => this.fetch(conn, kind)));
    const vetted = await Promise.all(LIST_KINDS.map((kind, i) => this.vet(upstream, kind, lists[i])));
    const info = this.gate?.vetInfo ? await this.gate.vetInfo(upstream, conn.info) : conn.info;
    if (this.entries.get(upstream) !== entry) return; // removed meanwhile
    entry.info = info;
    LIST_KINDS.forEach((kind, i) => this.keep(entry, kind, lists[i], vetted[i]));
    entry.status = 'ready';
    entry.error = null;
    this.bump(upstream, LIST_KINDS);
  }

  /** Re-list one kind after the upstream said `notifications/<kind>/list_changed`. */
  refresh(upstream: string, conn: UpstreamConnection, kinds: ListKind[]): Promise<void> {
    return this.serially(upstream, () => this.refreshNow(upstream, conn, kinds));
  }

  private async refreshNow(upstream: string, conn: UpstreamConnection, kinds: ListKind[]): Promise<void> {
    const entry = this.entries.get(upstream);
    if (!entry || entry.status !== 'ready') return;
    const lists = await Promise.all(kinds.map((kind) => this.fetch(conn, kind)));
    const vetted = await Promise.all(kinds.map((kind, i) => this.vet(upstream, kind, lists[i])));
    if (this.entries.get(upstream) !== entry) return;
    kinds.forEach((kind, i) => this.keep(entry, kind, lists[i], vetted[i]));
    this.bump(upstream, kinds);
  }

  /**
   * Vet every ready upstream's lists again (an approval or rejection was made, perhaps by another process) and tell
   * the views about the upstreams whose lists changed.
   */
  async revet(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (entry.status !== 'ready') continue;
      await this.serially(entry.upstream, () => this.revetNow(entry));
    }
  }

  private async revetNow(entry: UpstreamEntry): Promise<void> {
    if (entry.status !== 'ready' || this.entries.get(entry.upstream) !== entry) return;
    const vetted = await Promise.all(LIST_KINDS.map((kind) => this.vet(entry.upstream, kind, entry.raw[kind])));
    if (this.entries.get(entry.upstream) !== entry) return;
    const changed = LIST_KINDS.filter((kind, i) => !sameList(entry[kind], vetted[i].kept) || !sameQuarantine(entry.quarantined[kind], vetted[i].quarantined));
    if (changed.length === 0) return;
    for (const kind of changed) this.keep(entry, kind, entry.raw[kind], vetted[LIST_KINDS.indexOf(kind)]);
    this.bump(entry.upstream, changed);
  }

  private vet(upstream: string, kind: ListKind, items: JsonObject[]): Promise<{ kept: JsonObject[]; quarantined: QuarantinedDef[] }> {
    return this.gate ? this.gate.vet(upstream, kind, items) : Promise.resolve({ kept: items, quarantined: [] });
  }

  private keep(entry: UpstreamEntry, kind: ListKind, raw: JsonObject[], vetted: { kept: JsonObject[]; quarantined: QuarantinedDef[] }): void {
    entry.raw[kind] = raw;
    (entry as unknown as Record<ListKind, JsonObject[]>)[kind] = vetted.kept;
    entry.quarantined[kind] = vetted.quarantined;
  }

  fail(upstream: string, error: string): void {
    const entry = this.entries.get(upstream);
    if (!entry) return;
    const hadItems = entry.status === 'ready';
    entry.status = 'failed';
    entry.error = error;
    if (hadItems) {
      entry.tools = [];
      entry.resources = [];
      entry.resourceTemplates = [];
      entry.prompts = [];
      entry.quarantined = emptyLists();
      entry.raw = emptyLists();
      this.bump(upstream, LIST_KINDS);
    }
  }

  remove(upstream: string): void {
    if (this.entries.delete(upstream)) this.bump(upstream, LIST_KINDS);
  }

  private bump(upstream: string, kinds: ListKind[]): void {
    this.version++;
    this.emit('change', upstream, kinds);
  }

  private async fetch(conn: UpstreamConnection, kind: ListKind): Promise<JsonObject[]> {
    const spec = LISTS[kind];
    if (conn.info.capabilities[spec.capability] === undefined) return [];
    const items: JsonObject[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result: JsonObject = await conn.request(spec.method, cursor === undefined ? undefined : { cursor });
      const list = result[spec.key];
      if (Array.isArray(list)) for (const item of list) if (isDefinition(item, kind)) items.push(item as JsonObject);
      cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    return items;
  }
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function sameQuarantine(a: readonly QuarantinedDef[], b: readonly QuarantinedDef[]): boolean {
  return a.length === b.length && a.every((q, i) => q.key === b[i].key && q.reason === b[i].reason && q.approval === b[i].approval);
}

/** Upstream input is validated at the edge: a definition without its key fields is dropped. */
function isDefinition(item: unknown, kind: ListKind): boolean {
  if (item === null || typeof item !== 'object') return false;
  const d = item as Record<string, unknown>;
  switch (kind) {
    case 'tools':
      return typeof d.name === 'string' && d.name !== '' && d.inputSchema !== null && typeof d.inputSchema === 'object';
    case 'prompts':
      return typeof d.name === 'string' && d.name !== '';
    case 'resources':
      return typeof d.uri === 'string';
    case 'resourceTemplates':
      return typeof d.uriTemplate === 'string';
  }
}
