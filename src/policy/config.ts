/**
 * The `policy` (authorization rules) and `rateLimits` sections of the config.
 */
import { z } from 'zod';

export const policyConfigSchema = z.strictObject({
  /** What happens when no rule matches. */
  default: z.enum(['allow', 'deny']).default('allow'),
}).prefault({});

export const rateLimitsSchema = z.array(z.strictObject({ name: z.string() })).default([]);

export type PolicyConfig = z.output<typeof policyConfigSchema>;
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
