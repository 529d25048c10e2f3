/**
 * The gateway's own HTTP APIs beside MCP: the registry API (`/v0/…`, read-only, the official MCP Registry's shape),
 * the admin API (`/admin/…`, authenticated admins) and the web portal (`portal.path`: its read API under `/api`, the
 * built front end for everything else). The HTTP listener hands them every request under their
 * prefixes; each answers JSON, or throws a GatehouseError that the listener turns into the HTTP status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.ts';
import { serveAdmin } from './admin.ts';
import { serveCatalogApi } from './catalog-api.ts';
import { serveRegistry } from './registry.ts';
import { serveStatic } from './static.ts';

export const REGISTRY_PREFIXES = ['/v0.1', '/v0'];
export const ADMIN_PREFIX = '/admin';

/** Serve `path` when it is one of the portal's; null when it is not (the listener goes on routing). */
export function routePortal(gateway: Gateway, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> | null {
  // The official registry serves its stable read API at /v0.1 and the same at /v0.
  for (const prefix of REGISTRY_PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return serveRegistry(gateway, req, res, path.slice(prefix.length), url);
  }
  if (path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) return serveAdmin(gateway, req, res, path.slice(ADMIN_PREFIX.length), url);
  const portal = gateway.currentConfig.portal;
  if (portal.enabled && (path === portal.path || path.startsWith(`${portal.path}/`))) {
    const rest = path.slice(portal.path.length);
    if (rest === '/api' || rest.startsWith('/api/')) return serveCatalogApi(gateway, req, res, rest.slice(4), url);
    // /portal -> /portal/: the page's relative asset URLs resolve below it.
    if (rest === '') return redirect(res, `${portal.path}/`);
    return serveStatic(req, res, rest, portal.path);
  }
  return null;
}

function redirect(res: ServerResponse, location: string): Promise<void> {
  res.writeHead(308, { location }).end();
  return Promise.resolve();
}
