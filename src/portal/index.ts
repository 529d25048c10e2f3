/**
 * The gateway's own HTTP APIs beside MCP: the registry API (`/v0/…`, read-only, the official MCP Registry's shape)
 * and the admin API (`/admin/…`, authenticated admins). The HTTP listener hands them every request under their
 * prefixes; each answers JSON, or throws a GatehouseError that the listener turns into the HTTP status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.ts';
import { serveAdmin } from './admin.ts';
import { serveRegistry } from './registry.ts';

export const REGISTRY_PREFIX = '/v0';
export const ADMIN_PREFIX = '/admin';

/** Serve `path` when it is one of the portal's; null when it is not (the listener goes on routing). */
export function routePortal(gateway: Gateway, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> | null {
  if (path === REGISTRY_PREFIX || path.startsWith(`${REGISTRY_PREFIX}/`)) return serveRegistry(gateway, req, res, path.slice(REGISTRY_PREFIX.length), url);
  if (path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) return serveAdmin(gateway, req, res, path.slice(ADMIN_PREFIX.length), url);
  return null;
}
