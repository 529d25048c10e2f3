/**
 * Which replica takes a request, among those that may (src/upstream/replica-set.ts filters by breaker state first).
 * The strategies differ only here, as undici's pools differ only in how they pick the next client.
 */

export type BalancerStrategy = 'session-affinity' | 'round-robin' | 'least-in-flight';

/** What the balancer reads of a replica. */
export interface Weighed {
  readonly index: number;
  /** Requests in flight plus those queued for a slot. */
  readonly load: number;
}

export class Balancer<R extends Weighed> {
  readonly strategy: BalancerStrategy;
  /** Where the next round-robin turn (and the next tie-break) starts. */
  private turn = 0;

  constructor(strategy: BalancerStrategy) {
    this.strategy = strategy;
  }

  /** Pick one of `candidates` (never empty). session-affinity spreads new sessions by load; the caller keeps them there. */
  pick(candidates: readonly R[]): R {
    if (candidates.length === 1) return candidates[0];
    const start = this.turn++ % candidates.length;
    if (this.strategy === 'round-robin') return candidates[start];
    // Least loaded; ties go round robin, so an idle set is still spread evenly.
    let best = candidates[start];
    for (let i = 1; i < candidates.length; i++) {
      const r = candidates[(start + i) % candidates.length];
      if (r.load < best.load) best = r;
    }
    return best;
  }
}
