/**
 * The circuit breaker of one replica, which is also its passive outlier detection: `consecutiveFailures` transport
 * failures or timeouts in a row open it (the replica is ejected), for `openFor`, doubled on every reopening up to
 * `maxOpenFor`. Once the interval is over the breaker is half-open: one request at a time (a client's or an active
 * health check) probes the replica; a success closes the breaker, a failure opens it again for longer. A replica
 * that stays closed for `maxOpenFor` starts its ejection interval over.
 */

export type BreakerState = 'closed' | 'half-open' | 'open';

/** Gauge values of `gatehouse_upstream_breaker_state`. */
export const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export interface BreakerOptions {
  consecutiveFailures: number;
  openFor: number;
  maxOpenFor: number;
}

export class Breaker {
  private readonly options: BreakerOptions;
  private readonly now: () => number;
  private failures = 0;
  /** Openings since the breaker was last steadily closed: the exponent of the ejection interval. */
  private openings = 0;
  private openedUntil = 0;
  private closedSince = 0;
  private probing = false;
  private current: BreakerState = 'closed';
  /** Told on every change of state (metrics, logs). */
  onChange: ((state: BreakerState) => void) | undefined = undefined;

  constructor(options: BreakerOptions, now: () => number = Date.now) {
    this.options = options;
    this.now = now;
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() >= this.openedUntil) this.set('half-open');
    return this.current;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it is not open). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openedUntil - this.now()) : 0;
  }

  /** May a request go to the replica now (without taking the probe)? */
  get admits(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.probing);
  }

  /**
   * Take the right to send one request: always when closed; when half-open only the one probe at a time. The
   * caller reports the outcome with `success()` / `failure()` / `release()`.
   */
  acquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') {
      this.closedSince = this.now();
      this.set('closed');
    }
  }

  failure(): void {
    this.probing = false;
    if (this.current === 'half-open') return this.open();
    if (this.current === 'open') return;
    this.failures++;
    if (this.options.consecutiveFailures > 0 && this.failures >= this.options.consecutiveFailures) this.open();
  }

  /** The request ended without saying anything about the replica (cancelled by the client, refused by a limit). */
  release(): void {
    this.probing = false;
  }

  /** Open now (an active health check found the replica dead: no point waiting for requests to fail). */
  trip(): void {
    if (this.current !== 'open') this.open();
  }

  private open(): void {
    const { openFor, maxOpenFor } = this.options;
    if (this.openings > 0 && this.current === 'closed' && this.now() - this.closedSince >= maxOpenFor) this.openings = 0;
    const interval = Math.min(maxOpenFor, openFor * 2 ** Math.min(this.openings, 30));
    this.openings++;
    this.failures = 0;
    this.openedUntil = this.now() + interval;
    this.set('open');
  }

  private set(state: BreakerState): void {
    if (this.current === state) return;
    this.current = state;
    this.onChange?.(state);
  }
}
