/**
 * The `pinning` config keys (issue 4 item 3, src/guard/pinning.ts).
 */
import { z } from 'zod';

const DURATION = 'a duration like 500ms, 1s or 1m';
const duration = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m)$/, DURATION)], { error: DURATION })
  .transform((v) => (typeof v === 'number' ? v : Number(v.slice(0, v.search(/[a-z]/))) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[v.replace(/^\d+/, '') as 'ms' | 's' | 'm']));

export const pinningSchema = z.strictObject({
  /**
   * tofu: a definition seen for the first time is pinned, a later change is quarantined until approved; approve:
   * new definitions wait for approval too; off: no pinning.
   */
  mode: z.enum(['tofu', 'approve', 'off']).default('tofu'),
  /** sqlite: pins live in the store file (store.path) and survive restarts; postgres: in store.postgres, shared by every replica; memory: for this process only. */
  store: z.enum(['sqlite', 'postgres', 'memory']).default('sqlite'),
  /** How often a running gateway looks for approvals made by `gatehouse approvals` in another process. */
  checkInterval: duration.default(1_000),
}).prefault({});

export type PinningConfig = z.output<typeof pinningSchema>;
