/**
 * Pins and approvals (issue 4 item 3): per upstream and definition, the hash of the version an admin (or trust on
 * first use) approved, and the changed or new versions waiting for a decision. Implementations: memory/pins.ts,
 * sqlite/pins.ts (durable, shared with the `gatehouse approvals` CLI through the store file).
 */

/** tools | prompts | resources | resourceTemplates, as the catalog names its lists. */
export type DefinitionKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

/** One definition an upstream lists, by the key it is known by (a tool's name, a resource's URI, …). */
export interface DefinitionRef {
  upstream: string;
  kind: DefinitionKind;
  key: string;
}

export interface Pin extends DefinitionRef {
  /** SHA-256 (hex) of the definition's canonical JSON. */
  hash: string;
  definition: unknown;
  approvedAt: number;
  /** Who approved it: `tofu` (first seen), or the admin named in the approval. */
  approvedBy: string;
}

/** Why a definition waits: it changed since its pin, it is new (mode approve), or the scanner flagged it. */
export type PendingReason = 'changed' | 'new' | 'flagged';

export interface Pending extends DefinitionRef {
  /** Stable id for the CLI: a short hash of (upstream, kind, key, hash). */
  id: string;
  hash: string;
  definition: unknown;
  reason: PendingReason;
  /** The pinned version it would replace (reason `changed`). */
  previousHash: string | null;
  firstSeen: number;
  /** Set once an admin rejected it: the definition stays quarantined. */
  rejectedAt: number | null;
  rejectedBy: string | null;
  /** What the scanner found (reason `flagged`), for the admin to read. */
  findings: unknown[];
}

export interface PinStore {
  /** Every pin of one upstream (the gate loads them once per listing). */
  pinsOf(upstream: string): Promise<Pin[]>;
  pin(pin: Pin): Promise<void>;
  /** Several pins in one write (a new upstream's whole list, trusted on first use). */
  pinAll(pins: readonly Pin[]): Promise<void>;
  /** Records (or refreshes) a pending version; an existing row for the same hash keeps its id, times and decision. */
  addPending(pending: Omit<Pending, 'id' | 'rejectedAt' | 'rejectedBy'>): Promise<Pending>;
  pending(options?: { upstream?: string; includeRejected?: boolean }): Promise<Pending[]>;
  getPending(id: string): Promise<Pending | null>;
  /** Drops pending rows of a definition, e.g. when the upstream went back to the pinned version. */
  clearPending(ref: DefinitionRef): Promise<void>;
  /** Pins the pending version and removes every pending row of that definition. */
  approve(id: string, by: string, now?: number): Promise<Pin | null>;
  reject(id: string, by: string, now?: number): Promise<Pending | null>;
  /** A number that changes whenever another process changed the store (SQLite `data_version`): cheap to poll. */
  changeStamp(): Promise<number>;
  close(): Promise<void>;
}

/** The pending id: short, stable for one version of one definition. */
export function pendingId(ref: DefinitionRef, hash: string, digest: (text: string) => string): string {
  return digest(`${ref.upstream}\0${ref.kind}\0${ref.key}\0${hash}`).slice(0, 12);
}
