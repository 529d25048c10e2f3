/**
 * Active health checks: every `interval`, each replica is checked (MCP `ping`, or `tools/list`) unless its previous
 * check is still running. `unhealthyThreshold` failures in a row take it out of rotation, `healthyThreshold` passes
 * in a row bring it back; what that means for routing is the replica set's business (it opens or closes the breaker).
 * One unref'd timer per upstream, so an idle gateway's checks never keep the process alive.
 */

export interface HealthSettings {
  interval: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
}

export interface HealthHooks<R> {
  /** One check; rejects when the replica failed it. */
  check(replica: R): Promise<void>;
  /** Called after `healthyThreshold` passes in a row (and on every pass after that). */
  passed(replica: R): void;
  /** Called on every failure; `unhealthy` once `unhealthyThreshold` failures in a row were reached. */
  failed(replica: R, err: Error, unhealthy: boolean): void;
}

interface Track {
  running: boolean;
  passes: number;
  failures: number;
}

export class HealthChecker<R extends object> {
  private readonly settings: HealthSettings;
  private readonly replicas: readonly R[];
  private readonly hooks: HealthHooks<R>;
  private readonly tracks = new Map<R, Track>();
  private timer: NodeJS.Timeout | undefined;

  constructor(settings: HealthSettings, replicas: readonly R[], hooks: HealthHooks<R>) {
    this.settings = settings;
    this.replicas = replicas;
    this.hooks = hooks;
    for (const r of replicas) this.tracks.set(r, { running: false, passes: 0, failures: 0 });
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.round(), this.settings.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Check every replica whose last check has finished. */
  round(): void {
    for (const r of this.replicas) {
      const t = this.tracks.get(r)!;
      if (t.running) continue;
      t.running = true;
      this.hooks.check(r).then(
        () => {
          t.running = false;
          t.failures = 0;
          t.passes++;
          if (this.timer !== undefined && t.passes >= this.settings.healthyThreshold) this.hooks.passed(r);
        },
        (err: Error) => {
          t.running = false;
          t.passes = 0;
          t.failures++;
          if (this.timer !== undefined) this.hooks.failed(r, err, t.failures >= this.settings.unhealthyThreshold);
        },
      );
    }
  }
}
