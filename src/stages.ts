/**
 * Which guard stages a virtual server's pipeline has, in order. Request phases run top to bottom (authorization
 * first, so a denied call costs nothing more), response phases bottom to top. Adding a feature means adding a
 * stage here, never editing the router.
 */
import type { GatehouseConfig } from './config/schema.ts';
import type { Stage } from './core/stage.ts';

export interface StageDeps {
  readonly virtualServer: string;
}

export function buildStages(_config: GatehouseConfig, _deps: StageDeps): Stage[] {
  const stages: Stage[] = [];
  return stages;
}
