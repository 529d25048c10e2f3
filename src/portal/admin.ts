/** The admin API (placeholder until it is written). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { Gateway } from '../gateway.ts';

export function serveAdmin(_gateway: Gateway, _req: IncomingMessage, _res: ServerResponse, path: string, _url: URL): Promise<void> {
  return Promise.reject(new GatehouseError('GH_ERR_HTTP_NOT_FOUND', [`Not found: /admin${path}`]));
}
