/**
 * The federated catalog: for every upstream, its definitions as it last listed them, fetched across all of
 * its pages and refreshed when it says `list_changed`. Every change bumps `version`, which the virtual-server
 * views use to know when to rebuild. The catalog does no routing and knows nothing about sessions.
 */
import { EventEmitter } from 'node:events';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { UpstreamConnection, UpstreamInfo } from '../upstream/types.ts';
import type { ListKind, PromptDef, ResourceDef, ResourceTemplateDef, ToolDef } from './types.ts';

export interface UpstreamEntry {
  readonly upstream: string;
  status: 'starting' | 'ready' | 'failed';
  error: string | null;
  info: UpstreamInfo | null;
  tools: ToolDef[];
  resources: ResourceDef[];
  resourceTemplates: ResourceTemplateDef[];
  prompts: PromptDef[];
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

export class Catalog extends EventEmitter<{ change: [upstream: string, kinds: ListKind[]] }> {
  version = 0;
  readonly entries = new Map<string, UpstreamEntry>();

  declare(upstream: string, tags: readonly string[], title: string | undefined): UpstreamEntry {
    let entry = this.entries.get(upstream);
    if (!entry) {
      entry = { upstream, status: 'starting', error: null, info: null, tools: [], resources: [], resourceTemplates: [], prompts: [], tags, title };
      this.entries.set(upstream, entry);
    } else {
      entry.tags = tags;
      entry.title = title;
    }
    return entry;
  }

  /** List everything an upstream offers over `conn` and replace its entry. */
  async load(upstream: string, conn: UpstreamConnection): Promise<void> {
    const entry = this.entries.get(upstream);
    if (!entry) return;
    const lists = await Promise.all(LIST_KINDS.map((kind) => this.fetch(conn, kind)));
    if (this.entries.get(upstream) !== entry) return; // removed meanwhile
    entry.info = conn.info;
    LIST_KINDS.forEach((kind, i) => {
      (entry as unknown as Record<ListKind, unknown[]>)[kind] = lists[i];
    });
    entry.status = 'ready';
    entry.error = null;
    this.bump(upstream, LIST_KINDS);
  }

  /** Re-list one kind after the upstream said `notifications/<kind>/list_changed`. */
  async refresh(upstream: string, conn: UpstreamConnection, kinds: ListKind[]): Promise<void> {
    const entry = this.entries.get(upstream);
    if (!entry || entry.status !== 'ready') return;
    const lists = await Promise.all(kinds.map((kind) => this.fetch(conn, kind)));
    if (this.entries.get(upstream) !== entry) return;
    kinds.forEach((kind, i) => {
      (entry as unknown as Record<ListKind, unknown[]>)[kind] = lists[i];
    });
    this.bump(upstream, kinds);
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

  private async fetch(conn: UpstreamConnection, kind: ListKind): Promise<unknown[]> {
    const spec = LISTS[kind];
    if (conn.info.capabilities[spec.capability] === undefined) return [];
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result: JsonObject = await conn.request(spec.method, cursor === undefined ? undefined : { cursor });
      const list = result[spec.key];
      if (Array.isArray(list)) for (const item of list) if (isDefinition(item, kind)) items.push(item);
      cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    return items;
  }
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
