/**
 * JSON in and out for the portal's REST APIs. Errors are `{ "error": { "code", "message", "fields"? } }` with the
 * error's HTTP status (and its headers: a 401 keeps its WWW-Authenticate), never a JSON-RPC envelope.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import { readBody } from '../server/guards.ts';

/** One field a request body got wrong: where (dotted path within the body) and what was expected. */
export interface FieldError {
  path: string;
  message: string;
}

/** A 400 that names the fields at fault. */
export class ApiInputError extends Error {
  readonly fields: FieldError[];
  constructor(message: string, fields: FieldError[] = []) {
    super(message);
    this.name = 'ApiInputError';
    this.fields = fields;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendApiError(res: ServerResponse, err: unknown, onError: (err: unknown) => void): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof ApiInputError) {
    sendJson(res, 400, { error: { code: 'GH_ERR_API_INVALID', message: err.message, fields: err.fields } });
    return;
  }
  if (GatehouseError.is(err)) {
    sendJson(res, err.status === 200 ? 502 : err.status, { error: { code: err.code, message: err.message, ...(err.data !== undefined && { data: err.data as object }) } }, err.headers ?? {});
    return;
  }
  onError(err);
  sendJson(res, 500, { error: { message: 'Internal error' } });
}

/** The JSON body of a request (at most `limit` bytes); a clear 400 when it is not JSON or not an object. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new GatehouseError('GH_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
  const text = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiInputError(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ApiInputError('the body must be a JSON object');
  return value as Record<string, unknown>;
}
