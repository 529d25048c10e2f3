/**
 * Pinning (issue 4 item 3): the gate every listed definition passes before it reaches the catalog. A definition is
 * pinned by the SHA-256 of its canonical JSON; a later version with another hash is quarantined — not listed, not
 * callable — until an admin approves it (`gatehouse approvals`), which protects sessions from a "rug pull". New
 * definitions are pinned on first sight (mode `tofu`) or wait for approval too (mode `approve`); the scanner can
 * send a new or changed definition to quarantine whatever the mode.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { DefinitionKind, PendingReason, Pin, PinStore } from '../store/pins.ts';

/** Why a definition is not listed: waiting for a decision, or rejected by an admin. */
export type QuarantineReason = PendingReason | 'rejected';

export interface Quarantined {
  kind: DefinitionKind;
  /** The upstream's own key of the definition: a tool or prompt name, a resource URI, a template. */
  key: string;
  reason: QuarantineReason;
  /** The pending approval's id (`gatehouse approvals show <id>`). */
  approval: string;
}

export interface Vetted {
  kept: JsonObject[];
  quarantined: Quarantined[];
}

/** A definition the scanner judged; only `quarantine` stops a definition at the gate. */
export interface ScanVerdict {
  verdict: 'allow' | 'warn' | 'quarantine';
  findings: unknown[];
}

/** Scans the definitions of one list that are new or changed (pinned, unchanged ones are not scanned again). */
export type DefinitionScanner = (upstream: string, kind: DefinitionKind, items: readonly JsonObject[]) => Promise<ReadonlyMap<JsonObject, ScanVerdict>> | ReadonlyMap<JsonObject, ScanVerdict>;

export interface PinningOptions {
  /** tofu: the first version seen is pinned; approve: every new definition waits for an admin too. */
  mode: 'tofu' | 'approve';
  scan?: DefinitionScanner;
  now?: () => number;
}

/** The key a definition is known by at its upstream. */
export function definitionKey(kind: DefinitionKind, item: JsonObject): string {
  if (kind === 'resources') return String(item.uri);
  if (kind === 'resourceTemplates') return String(item.uriTemplate);
  return String(item.name);
}

/** JSON with object keys sorted at every level: equal definitions hash equal whatever order a server wrote. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Canonical (sorted keys) and indented: a diff of two definitions shows what changed and nothing else. */
export function prettyDefinition(definition: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(definition)), null, 2)}\n`;
}

/**
 * The hash a definition is pinned by. `_meta` is left out: servers put volatile data there (timestamps, request
 * ids) that a model never reads, and pinning it would quarantine a definition on every listing.
 */
export function definitionHash(item: JsonObject): string {
  const { _meta: _ignored, ...rest } = item;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

export class PinningGate {
  readonly #store: PinStore;
  readonly #options: PinningOptions;

  constructor(store: PinStore, options: PinningOptions) {
    this.#store = store;
    this.#options = options;
  }

  get store(): PinStore {
    return this.#store;
  }

  /** Splits one upstream list into what may be listed and what stays in quarantine, recording pins and approvals. */
  async vet(upstream: string, kind: DefinitionKind, items: readonly JsonObject[]): Promise<Vetted> {
    const now = this.#options.now ?? Date.now;
    const pins = await this.#store.pinsOf(upstream);
    const pinned = new Map(pins.filter((p) => p.kind === kind).map((p) => [p.key, p]));

    const hashes = new Map(items.map((item) => [item, definitionHash(item)]));
    const unvetted = items.filter((item) => pinned.get(definitionKey(kind, item))?.hash !== hashes.get(item));
    const verdicts = unvetted.length > 0 && this.#options.scan ? await this.#options.scan(upstream, kind, unvetted) : new Map<JsonObject, ScanVerdict>();

    const kept: JsonObject[] = [];
    const quarantined: Quarantined[] = [];
    const trusted: Pin[] = [];
    for (const item of items) {
      const key = definitionKey(kind, item);
      const hash = hashes.get(item)!;
      const pin = pinned.get(key);
      if (pin?.hash === hash) {
        // Pending versions of it stay for an admin to decide: another replica (or a rolling upstream deploy) may
        // still be served them, and clearing them here would make replicas undo each other's records.
        kept.push(item);
        continue;
      }
      const verdict = verdicts.get(item);
      const flagged = verdict?.verdict === 'quarantine';
      if (pin === undefined && !flagged && this.#options.mode === 'tofu') {
        trusted.push({ upstream, kind, key, hash, definition: item, approvedAt: now(), approvedBy: 'tofu' });
        kept.push(item);
        continue;
      }
      const reason: PendingReason = flagged ? 'flagged' : pin === undefined ? 'new' : 'changed';
      const row = await this.#store.addPending({
        upstream,
        kind,
        key,
        hash,
        definition: item,
        reason,
        previousHash: pin?.hash ?? null,
        firstSeen: now(),
        findings: verdict?.findings ?? [],
      });
      quarantined.push({ kind, key, reason: row.rejectedAt === null ? row.reason : 'rejected', approval: row.id });
    }
    // One write for a new upstream's whole list: thousands of tools pin in one transaction, not one each.
    await this.#store.pinAll(trusted);
    return { kept, quarantined };
  }
}

/** A client-facing sentence for why a definition is quarantined (no upstream detail beyond what it listed). */
export function quarantineText(reason: QuarantineReason): string {
  switch (reason) {
    case 'changed':
      return 'its definition changed upstream since it was approved, and the change waits for an administrator';
    case 'new':
      return 'it is new and waits for an administrator to approve it';
    case 'flagged':
      return 'the gateway\'s scanner flagged its definition, which waits for an administrator';
    case 'rejected':
      return 'an administrator rejected its current definition';
  }
}
