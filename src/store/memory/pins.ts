/**
 * Pins and approvals in memory (src/store/pins.ts): for tests and for a gateway without a store file. Nothing
 * survives a restart.
 */
import { createHash } from 'node:crypto';
import type { DefinitionRef, Pending, Pin, PinStore } from '../pins.ts';
import { pendingId } from '../pins.ts';

const refKey = (r: DefinitionRef) => `${r.upstream}\0${r.kind}\0${r.key}`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

export class MemoryPinStore implements PinStore {
  readonly #pins = new Map<string, Pin>();
  readonly #pending = new Map<string, Pending>();

  async pinsOf(upstream: string): Promise<Pin[]> {
    return [...this.#pins.values()].filter((p) => p.upstream === upstream).map((p) => ({ ...p }));
  }

  async pin(pin: Pin): Promise<void> {
    this.#pins.set(refKey(pin), { ...pin });
  }

  async pinAll(pins: readonly Pin[]): Promise<void> {
    for (const pin of pins) await this.pin(pin);
  }

  async addPending(p: Omit<Pending, 'id' | 'rejectedAt' | 'rejectedBy'>): Promise<Pending> {
    const id = pendingId(p, p.hash, sha);
    const existing = this.#pending.get(id);
    if (existing) return { ...existing };
    const row: Pending = { ...p, id, rejectedAt: null, rejectedBy: null };
    this.#pending.set(id, row);
    return { ...row };
  }

  async pending(options: { upstream?: string; includeRejected?: boolean } = {}): Promise<Pending[]> {
    return [...this.#pending.values()]
      .filter((p) => (options.upstream === undefined || p.upstream === options.upstream) && (options.includeRejected || p.rejectedAt === null))
      .sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : 1))
      .map((p) => ({ ...p }));
  }

  async getPending(id: string): Promise<Pending | null> {
    const p = this.#pending.get(id);
    return p ? { ...p } : null;
  }

  async clearPending(ref: DefinitionRef): Promise<void> {
    for (const [id, p] of this.#pending) if (refKey(p) === refKey(ref)) this.#pending.delete(id);
  }

  async approve(id: string, by: string, now = Date.now()): Promise<Pin | null> {
    const p = this.#pending.get(id);
    if (!p) return null;
    const pin: Pin = { upstream: p.upstream, kind: p.kind, key: p.key, hash: p.hash, definition: p.definition, approvedAt: now, approvedBy: by };
    await this.pin(pin);
    await this.clearPending(p);
    return pin;
  }

  async reject(id: string, by: string, now = Date.now()): Promise<Pending | null> {
    const p = this.#pending.get(id);
    if (!p) return null;
    if (p.rejectedAt === null) {
      p.rejectedAt = now;
      p.rejectedBy = by;
      }
    return { ...p };
  }

  /** Nothing but this process writes to memory: the stamp never moves. */
  async changeStamp(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}
