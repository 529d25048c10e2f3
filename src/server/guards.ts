/**
 * Edge checks every MCP request passes before its body is read: DNS-rebinding protection (Origin and Host),
 * media types, and the body limit. Each failure is an HTTP status with a message saying how to fix it.
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../core/errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export interface OriginPolicy {
  /** Exact origins allowed besides loopback ones; "*" allows any. */
  allowedOrigins: readonly string[];
  /** Host names allowed besides loopback ones when bound to loopback; "*" allows any. */
  allowedHosts: readonly string[];
  /** The gateway listens on a loopback address, so only local Host names are legitimate. */
  loopbackOnly: boolean;
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.indexOf(':');
  return (colon < 0 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
}

/** Throws GH_ERR_HTTP_FORBIDDEN_ORIGIN when the request could come from a DNS-rebinding page. */
export function checkOrigin(req: IncomingMessage, policy: OriginPolicy): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null' && !policy.allowedOrigins.includes('*') && !policy.allowedOrigins.includes(origin)) {
    let host = '';
    try {
      host = new URL(origin).hostname;
    } catch {}
    if (!isLoopbackHost(host)) throw new GatehouseError('GH_ERR_HTTP_FORBIDDEN_ORIGIN', [origin]);
  }
  if (policy.loopbackOnly && !policy.allowedHosts.includes('*')) {
    const host = hostName(req.headers.host ?? '');
    if (!isLoopbackHost(host) && !policy.allowedHosts.includes(host)) {
      throw new GatehouseError('GH_ERR_HTTP_FORBIDDEN_ORIGIN', [`(Host ${host || 'missing'})`]);
    }
  }
}

export function checkContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (!type || !/^application\/json\b/i.test(type)) throw new GatehouseError('GH_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
}

/** A POST must accept both JSON and SSE answers (streamable HTTP, "Sending Messages to the Server"). */
export function checkPostAccept(req: IncomingMessage): void {
  const accept = req.headers.accept ?? '';
  if (accept.includes('*/*')) return;
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    throw new GatehouseError('GH_ERR_HTTP_NOT_ACCEPTABLE', ['Not Acceptable: the Accept header must list both application/json and text/event-stream']);
  }
}

export function acceptsEventStream(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/event-stream') || accept.includes('*/*');
}

/** Read the whole body up to `limit` bytes; 413 as soon as it is exceeded, without buffering the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new GatehouseError('GH_ERR_HTTP_BODY_TOO_LARGE', [limit]));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new GatehouseError('GH_ERR_HTTP_BODY_TOO_LARGE', [limit]));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
