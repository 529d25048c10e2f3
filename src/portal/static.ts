/**
 * The built portal (`npm run build` writes web/dist) served under `portal.path`: files by their path, and
 * index.html for any other path so the front end's own routes load. Hashed assets are cached for a year, the page
 * itself never. Nothing outside web/dist is reachable.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '../core/errors.ts';

export const WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * Serve `rest` (the path below `base`, the configured portal.path: '' or starting with '/'). The page's `<base href>`
 * names where it is served, so a portal.path other than /portal works unchanged.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, rest: string, base: string, root = WEB_ROOT): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const err = new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['The portal serves files: GET']);
    err.headers = { allow: 'GET, HEAD' };
    throw err;
  }
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(rest || '/')).replace(/^[/\\]+/, '');
  } catch {
    throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', ['Not found: a malformed path']);
  }
  const file = join(root, relative);
  if (!file.startsWith(root) || relative.split(sep).includes('..')) throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', ['Not found']);
  const isFile = relative !== '' && (await stat(file).then((s) => s.isFile(), () => false));
  // A missing asset is a 404, never the page: a stale page asking for an old script must not get HTML back.
  if (!isFile && relative.startsWith(`assets${sep}`)) throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`Not found: ${base}/${relative} (the portal was rebuilt; reload the page)`]);
  const path = isFile ? file : join(root, 'index.html');
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    throw new GatehouseError('GH_ERR_HTTP_NOT_FOUND', ['The portal is not built: run npm run build (npm start does)']);
  }
  if (path.endsWith('index.html') && base !== '/portal') body = Buffer.from(body.toString('utf8').replace(/<base href="\/portal\/"\s*\/?>/, `<base href="${base}/">`));
  const immutable = isFile && relative.startsWith(`assets${sep}`);
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    // The portal loads only its own files and talks only to the gateway (and the IdP's token endpoint for sign-in).
    'content-security-policy': "default-src 'self'; connect-src *; img-src 'self' data:; media-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
