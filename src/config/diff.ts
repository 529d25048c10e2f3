/**
 * What a reload changed, entry by entry, so the gateway restarts only the upstreams whose definition differs and
 * keeps every other connection and session as it is.
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatehouseConfig } from './schema.ts';

export interface EntryChanges {
  /** In `next` only, in `next`'s order. */
  added: string[];
  /** In `prev` only, in `prev`'s order. */
  removed: string[];
  /** In both, with any difference at all (deep equality), in `next`'s order. */
  changed: string[];
}

export interface ConfigDiff {
  upstreams: EntryChanges;
  virtualServers: EntryChanges;
  /** The `server` section differs: listener, paths, limits — the front door must be rebuilt. */
  serverChanged: boolean;
  /** Namespacing differs: every federated tool name may change, so catalogs must be rebuilt. */
  namespacingChanged: boolean;
  loggingChanged: boolean;
}

/** Compare two validated configs. */
export function diffConfig(prev: GatehouseConfig, next: GatehouseConfig): ConfigDiff {
  return {
    upstreams: diffEntries(prev.upstreams, next.upstreams),
    virtualServers: diffEntries(prev.virtualServers, next.virtualServers),
    serverChanged: !isDeepStrictEqual(prev.server, next.server),
    namespacingChanged: !isDeepStrictEqual(prev.namespacing, next.namespacing),
    loggingChanged: !isDeepStrictEqual(prev.logging, next.logging),
  };
}

/** True when nothing at all differs. */
export function isEmptyDiff(diff: ConfigDiff): boolean {
  const none = (c: EntryChanges) => c.added.length + c.removed.length + c.changed.length === 0;
  return none(diff.upstreams) && none(diff.virtualServers) && !diff.serverChanged && !diff.namespacingChanged && !diff.loggingChanged;
}

function diffEntries(prev: Record<string, unknown>, next: Record<string, unknown>): EntryChanges {
  const changes: EntryChanges = { added: [], removed: [], changed: [] };
  for (const [name, entry] of Object.entries(next)) {
    if (!Object.hasOwn(prev, name)) changes.added.push(name);
    else if (!isDeepStrictEqual(prev[name], entry)) changes.changed.push(name);
  }
  for (const name of Object.keys(prev)) if (!Object.hasOwn(next, name)) changes.removed.push(name);
  return changes;
}
