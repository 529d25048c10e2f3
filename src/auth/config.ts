/**
 * The `auth` section of the config: how clients authenticate to the gateway (OAuth 2.1 resource server, API keys).
 * Absent or `enabled: false` means anonymous access.
 */
import { z } from 'zod';

export const authConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
}).prefault({});

export type AuthConfig = z.output<typeof authConfigSchema>;
