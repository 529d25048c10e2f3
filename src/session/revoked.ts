/**
 * Session ids ended with DELETE: a sealed id stays valid until it expires, so an ended session must be remembered
 * until then, or any replica would open it again. Kept as a short hash per id with its expiry, pruned as it goes.
 * In memory here (this replica's own DELETEs); shared stores implement the same interface.
 */
import { createHash } from 'node:crypto';

export interface RevokedSessions {
  revoke(id: string, until: number): void;
  isRevoked(id: string, now?: number): boolean;
}

export class MemoryRevokedSessions implements RevokedSessions {
  private readonly until = new Map<string, number>();
  private nextPrune = 0;

  revoke(id: string, until: number): void {
    this.revokeDigest(digest(id), until);
  }

  /** Revoke by the id's digest (what replicas tell each other: the id itself never leaves the replica). */
  revokeDigest(key: string, until: number): void {
    this.until.set(key, until);
    this.prune(Date.now());
  }

  isRevoked(id: string, now = Date.now()): boolean {
    const t = this.until.get(digest(id));
    return t !== undefined && t > now;
  }

  get size(): number {
    return this.until.size;
  }

  /** At most once a minute, drop what has expired (an expired id is refused by the sealer anyway). */
  private prune(now: number): void {
    if (now < this.nextPrune) return;
    this.nextPrune = now + 60_000;
    for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
  }
}

export function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 22);
}
