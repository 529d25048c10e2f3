/**
 * The HTTP listener: routes a request to the streamable-HTTP endpoint, the legacy SSE endpoints or the
 * health probes, and turns any error thrown on the way into the transport's answer.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GatehouseError, toRpcError } from '../core/errors.ts';
import { failure, RpcCode } from '../core/jsonrpc.ts';
import { writeJson } from './exchange.ts';
import type { Front } from './front.ts';
import type { Identity } from '../auth/identity.ts';
import type { UserOAuth } from '../auth/user-oauth.ts';
import { handleLegacyMessage, LEGACY_MESSAGES_PATH, openLegacyStream } from './legacy-sse.ts';
import { handleStreamable } from './streamable.ts';
import { sendApiError } from '../portal/http.ts';

export const LEGACY_SSE_PATH = '/sse';
const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

export function createHttpServer(front: Front, onError: (err: unknown) => void): Server {
  const server = createServer((req, res) => {
    route(front, req, res, onError).catch((err) => sendError(res, err, onError));
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

async function route(front: Front, req: IncomingMessage, res: ServerResponse, onError: (err: unknown) => void): Promise<void> {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const base = front.options.path;
  if (path === base) return handleStreamable(front, req, res, '');
  if (path.startsWith(base) && path.charCodeAt(base.length) === 47 /* / */) {
    const name = decodeURIComponent(path.slice(base.length + 1));
    if (!front.hasVirtualServer(name)) throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`No virtual server named "${name}"`]);
    return handleStreamable(front, req, res, name);
  }
  if (front.options.legacySse) {
    if (path === LEGACY_SSE_PATH) return openLegacyStream(front, req, res, '');
    if (path.startsWith(`${LEGACY_SSE_PATH}/`)) {
      const name = decodeURIComponent(path.slice(LEGACY_SSE_PATH.length + 1));
      if (!front.hasVirtualServer(name)) throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`No virtual server named "${name}"`]);
      return openLegacyStream(front, req, res, name);
    }
    if (path === LEGACY_MESSAGES_PATH) return handleLegacyMessage(front, req, res, new URL(raw, 'http://gateway'));
  }
  // RFC 9728 protected-resource metadata, served by the identity (the gateway's, which Front does not expose yet).
  if (path.startsWith(WELL_KNOWN_PRM) && (front as Front & { identity?: Identity }).identity?.route?.(req, res, path)) return;
  // The per-user credential vault: the authorization callback and a user's revocation (src/auth/user-oauth.ts).
  if (path.startsWith('/oauth/')) {
    const gw = front as Front & { userOAuth?: UserOAuth | null };
    const handled = gw.userOAuth?.route(req, res, path, (r) => front.authenticate(r, ''));
    if (handled) return handled;
  }
  if (path === '/healthz') {
    writeJson(res, 200, { status: 'ok' });
    return;
  }
  if (path === '/metrics' && front.options.metrics && (req.method === 'GET' || req.method === 'HEAD')) {
    const { contentType, body } = await front.exposeMetrics();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/readyz') {
    const r = front.readiness();
    writeJson(res, r.ready ? 200 : 503, r);
    return;
  }
  // The registry and admin APIs (src/portal): JSON errors of their own.
  const portal = front.routePortal?.(req, res, path, new URL(raw, 'http://gateway'));
  if (portal) return portal.catch((err: unknown) => sendApiError(res, err, onError));
  throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`Not found: ${path}; the MCP endpoint is ${base}`]);
}

/** One place maps an error to the HTTP/JSON-RPC reply. */
export function sendError(res: ServerResponse, err: unknown, onError: (err: unknown) => void): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (GatehouseError.is(err)) {
    // toRpcError keeps the error's data (e.g. `supported` of an unsupported 2026-07-28 version).
    const { code, message, data } = toRpcError(err);
    writeJson(res, err.status, failure(null, code, message, data), err.headers);
    return;
  }
  onError(err);
  writeJson(res, 500, failure(null, RpcCode.InternalError, 'Internal error'));
}
