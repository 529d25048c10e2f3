/**
 * Live downstream sessions by id, with an idle sweep. Ids come from a cryptographically secure source
 * (128 random bits, base64url: visible ASCII as the transport spec requires).
 */
import { randomBytes } from 'node:crypto';
import type { DownstreamSession } from './session.ts';

export class SessionRegistry {
  private readonly sessions = new Map<string, DownstreamSession>();
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;
  onEnd: ((session: DownstreamSession) => void) | null = null;

  constructor(idleMs: number) {
    this.idleMs = idleMs;
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(idleMs / 4, 1000), 60_000));
    this.sweeper.unref();
  }

  static newId(): string {
    return randomBytes(16).toString('base64url');
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: DownstreamSession): void {
    this.sessions.set(session.id, session);
  }

  get(id: string): DownstreamSession | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastActive = Date.now();
    return s;
  }

  values(): IterableIterator<DownstreamSession> {
    return this.sessions.values();
  }

  end(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(id);
    s.close();
    this.onEnd?.(s);
    return true;
  }

  /** End the live session whose id has this digest (src/session/revoked.ts), if this replica holds it. */
  endByDigest(digest: string): void {
    for (const s of this.sessions.values()) {
      if (s.digest === digest) this.end(s.id);
    }
  }

  sweep(now = Date.now()): void {
    for (const s of this.sessions.values()) {
      // A session with an open stream or a call in flight is in use, however long ago it last spoke.
      if (now - s.lastActive > this.idleMs && s.inFlight.size === 0 && !s.standalone.attached) this.end(s.id);
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.end(id);
  }
}
