/**
 * The catalog's definition gate (src/catalog/catalog.ts `DefinitionGate`), composed of the trust checks a listed
 * definition passes in order: tools an upstream's config hides are dropped; then pinning (which also asks the
 * scanner about new and changed definitions) or, with pinning off, the scanner alone. A server's `instructions` that
 * the scanner would quarantine are dropped from what clients are told.
 */
import { matchesAny } from '../catalog/glob.ts';
import type { DefinitionGate, QuarantinedDef } from '../catalog/catalog.ts';
import type { ListKind } from '../catalog/types.ts';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { UpstreamInfo } from '../upstream/types.ts';
import type { DefinitionScanner, PinningGate } from './pinning.ts';
import { definitionKey } from './pinning.ts';

export interface GateParts {
  /** Globs over an upstream's own tool names that are never exposed (config `upstreams.<name>.hideTools`). */
  hiddenTools(upstream: string): readonly string[];
  pinning: PinningGate | null;
  /** Used directly only when pinning is off (the pinning gate calls it itself otherwise). */
  scan: DefinitionScanner | null;
  /** Judges a server's `instructions`; a quarantine verdict drops them (the tools stay, each vetted on its own). */
  scanInfo?: (upstream: string, info: UpstreamInfo) => Promise<'allow' | 'warn' | 'quarantine'>;
}

export function createDefinitionGate(parts: GateParts): DefinitionGate {
  const { scanInfo } = parts;
  return {
    ...(scanInfo && {
      async vetInfo(upstream: string, info: UpstreamInfo): Promise<UpstreamInfo> {
        if (info.instructions === undefined || (await scanInfo(upstream, info)) !== 'quarantine') return info;
        const { instructions: _dropped, ...rest } = info;
        return rest;
      },
    }),
    async vet(upstream: string, kind: ListKind, items: readonly JsonObject[]) {
      const hidden = kind === 'tools' ? parts.hiddenTools(upstream) : [];
      const shown = hidden.length === 0 ? items : items.filter((item) => !matchesAny(String(item.name), hidden));
      if (parts.pinning) return parts.pinning.vet(upstream, kind, shown);
      if (!parts.scan) return { kept: [...shown], quarantined: [] };
      const verdicts = await parts.scan(upstream, kind, shown);
      const kept: JsonObject[] = [];
      const quarantined: QuarantinedDef[] = [];
      for (const item of shown) {
        if (verdicts.get(item)?.verdict === 'quarantine') quarantined.push({ kind, key: definitionKey(kind, item), reason: 'flagged', approval: '' });
        else kept.push(item);
      }
      return { kept, quarantined };
    },
  };
}
