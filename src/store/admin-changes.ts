/**
 * Upstreams and virtual servers created, replaced or deleted through the admin API. They are kept beside the config
 * file, not written into it: the gateway's effective config is the file's with these laid over it (src/portal/overlay.ts),
 * so an edit survives restarts and file reloads, and the file stays the operator's. A deletion of something the file
 * defines is a tombstone (`definition: null`). Implementations: memory (ad-hoc runs) and sqlite (config `store.path`).
 */

export type AdminKind = 'upstream' | 'virtualServer';

export interface AdminChange {
  readonly kind: AdminKind;
  readonly name: string;
  /** The definition as the admin sent it (config-file shape, before defaults); null: deleted. */
  readonly definition: Record<string, unknown> | null;
  /** Who made the change (a principal id) and when (ms since the epoch). */
  readonly updatedBy: string;
  readonly updatedAt: number;
}

export interface AdminChangeStore {
  /** Every change, oldest first. */
  list(): Promise<AdminChange[]>;
  /** Record a change, replacing the previous one of that kind and name. */
  put(change: AdminChange): Promise<void>;
  /** Forget the change of that kind and name (the file's definition, if any, applies again). */
  remove(kind: AdminKind, name: string): Promise<void>;
  close(): Promise<void>;
}

export class MemoryAdminChangeStore implements AdminChangeStore {
  private readonly changes = new Map<string, AdminChange>();

  list(): Promise<AdminChange[]> {
    return Promise.resolve([...this.changes.values()].sort((a, b) => a.updatedAt - b.updatedAt));
  }

  put(change: AdminChange): Promise<void> {
    const key = `${change.kind}\0${change.name}`;
    this.changes.delete(key); // re-inserted last: list order follows the latest change
    this.changes.set(key, change);
    return Promise.resolve();
  }

  remove(kind: AdminKind, name: string): Promise<void> {
    this.changes.delete(`${kind}\0${name}`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
