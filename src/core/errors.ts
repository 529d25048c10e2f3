/**
 * The gateway's error table: every error a client or operator can see has a stable code here,
 * an HTTP status for the transport and a JSON-RPC code for the wire. Codes are never reused.
 * docs/errors.md documents each one; test/errors-table.test.ts keeps the two in step.
 */
import { RpcCode } from './jsonrpc.ts';

interface ErrorSpec {
  status: number;
  rpcCode: number;
  message: string;
}

export const ErrorTable = {
  GH_ERR_HTTP_BODY_TOO_LARGE: { status: 413, rpcCode: RpcCode.InvalidRequest, message: 'request body exceeds the limit of %s bytes' },
  GH_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, rpcCode: RpcCode.InvalidRequest, message: 'Content-Type must be application/json' },
  GH_ERR_HTTP_NOT_ACCEPTABLE: { status: 406, rpcCode: RpcCode.InvalidRequest, message: '%s' },
  GH_ERR_HTTP_FORBIDDEN_ORIGIN: { status: 403, rpcCode: RpcCode.InvalidRequest, message: 'Origin %s is not allowed; add it to server.allowedOrigins' },
  GH_ERR_HTTP_METHOD_NOT_ALLOWED: { status: 405, rpcCode: RpcCode.InvalidRequest, message: '%s' },
  GH_ERR_HTTP_NOT_FOUND: { status: 404, rpcCode: RpcCode.InvalidRequest, message: '%s' },
  GH_ERR_RPC_PARSE: { status: 400, rpcCode: RpcCode.ParseError, message: 'Parse error: %s' },
  GH_ERR_RPC_INVALID_REQUEST: { status: 400, rpcCode: RpcCode.InvalidRequest, message: 'Invalid request: %s' },
  GH_ERR_RPC_METHOD_NOT_FOUND: { status: 200, rpcCode: RpcCode.MethodNotFound, message: 'Method not found: %s' },
  GH_ERR_RPC_INVALID_PARAMS: { status: 200, rpcCode: RpcCode.InvalidParams, message: 'Invalid params: %s' },
  GH_ERR_SESSION_REQUIRED: { status: 400, rpcCode: RpcCode.InvalidRequest, message: 'Bad Request: Mcp-Session-Id header is required; send initialize first' },
  GH_ERR_SESSION_NOT_FOUND: { status: 404, rpcCode: RpcCode.InvalidRequest, message: 'Session not found or expired; start a new session with initialize' },
  GH_ERR_PROTOCOL_VERSION: { status: 400, rpcCode: RpcCode.InvalidRequest, message: 'Unsupported protocol version %s; supported: %s' },
  GH_ERR_TOOL_NOT_FOUND: { status: 200, rpcCode: RpcCode.InvalidParams, message: 'Unknown tool: %s' },
  GH_ERR_PROMPT_NOT_FOUND: { status: 200, rpcCode: RpcCode.InvalidParams, message: 'Unknown prompt: %s' },
  GH_ERR_RESOURCE_NOT_FOUND: { status: 200, rpcCode: RpcCode.ResourceNotFound, message: 'Resource not found: %s' },
  GH_ERR_GUARD_BLOCKED: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'The result of %s was withheld by the result guard: %s' },
  GH_ERR_QUARANTINED: { status: 200, rpcCode: RpcCode.InvalidParams, message: 'The %s %s is quarantined: %s (gatehouse approvals list)' },
  GH_ERR_CURSOR_INVALID: { status: 200, rpcCode: RpcCode.InvalidParams, message: 'Invalid cursor: %s' },
  GH_ERR_UPSTREAM_UNAVAILABLE: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Upstream %s is unavailable: %s' },
  GH_ERR_UPSTREAM_PROTOCOL: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Upstream %s sent an invalid message: %s' },
  GH_ERR_UPSTREAM_CLOSED: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Upstream %s closed the connection before answering' },
  GH_ERR_UPSTREAM_TIMEOUT: { status: 200, rpcCode: RpcCode.RequestTimeout, message: 'Upstream %s did not answer within %s ms' },
  GH_ERR_UPSTREAM_OVERLOADED: { status: 200, rpcCode: RpcCode.Overloaded, message: 'Upstream %s is overloaded: %s; retry after %s ms (data.retryAfterMs)' },
  GH_ERR_UPSTREAM_OUTCOME_UNKNOWN: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Upstream %s failed while running %s (%s); it may or may not have taken effect, so the gateway did not repeat it. Check its effect before calling again' },
  GH_ERR_UPSTREAM_CAPACITY: { status: 200, rpcCode: RpcCode.Overloaded, message: 'Upstream %s is at its process cap (%s); retry later' },
  GH_ERR_UPSTREAM_CREDENTIALS: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Could not obtain credentials for upstream %s: %s' },
  GH_ERR_UPSTREAM_AUTHORIZATION_REQUIRED: { status: 200, rpcCode: -32042, message: 'Upstream %s needs your authorization: open the link in data.elicitations to connect your account, then call again' },
  GH_ERR_UPSTREAM_NO_SUBJECT_TOKEN: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'Upstream %s acts for the caller and needs the caller\'s access token; this request has none' },
  GH_ERR_UPSTREAM_TOKEN_AUDIENCE: { status: 200, rpcCode: RpcCode.UpstreamError, message: 'The access token is not meant for upstream %s; it must name %s in its audience' },
  GH_ERR_REQUEST_CANCELLED: { status: 200, rpcCode: RpcCode.RequestTimeout, message: 'Request cancelled' },
  GH_ERR_SHUTTING_DOWN: { status: 503, rpcCode: RpcCode.Overloaded, message: 'Gateway is shutting down; retry on another instance' },
  GH_ERR_CLIENT_CAPABILITY: { status: 200, rpcCode: RpcCode.MethodNotFound, message: 'Client does not support %s' },
  GH_ERR_STATELESS_VERSION: { status: 400, rpcCode: -32022, message: 'Unsupported protocol version %s' },
  GH_ERR_STATELESS_HEADER: { status: 400, rpcCode: -32020, message: 'Header mismatch: %s' },
  GH_ERR_STATELESS_META: { status: 400, rpcCode: RpcCode.InvalidParams, message: 'Invalid params: %s' },
  GH_ERR_STATELESS_METHOD: { status: 404, rpcCode: RpcCode.MethodNotFound, message: 'Method not found: %s' },
  GH_ERR_RATE_LIMITED: { status: 429, rpcCode: -32029, message: 'Rate limit %s exceeded; retry in %s ms' },
  GH_ERR_AUTH_REQUIRED: { status: 401, rpcCode: RpcCode.InvalidRequest, message: 'Authentication required: send an access token as "Authorization: Bearer <token>"' },
  GH_ERR_AUTH_INVALID_TOKEN: { status: 401, rpcCode: RpcCode.InvalidRequest, message: 'Invalid access token: %s' },
  GH_ERR_AUTH_INSUFFICIENT_SCOPE: { status: 403, rpcCode: RpcCode.InvalidRequest, message: 'Insufficient scope: this endpoint requires %s' },
  GH_ERR_AUTH_TOKEN_IN_QUERY: { status: 400, rpcCode: RpcCode.InvalidRequest, message: 'Access tokens are not accepted in the query string; send "Authorization: Bearer <token>" instead' },
  GH_ERR_AUTH_UNAVAILABLE: { status: 503, rpcCode: RpcCode.InternalError, message: 'The authorization server %s cannot be reached to check the token; retry later' },
  GH_ERR_AUDIT_UNAVAILABLE: { status: 200, rpcCode: RpcCode.InternalError, message: 'The call could not be recorded in the audit log, so its result is withheld; retry later' },
  GH_ERR_CONFIG_INVALID: { status: 500, rpcCode: RpcCode.InternalError, message: '%s' },
  GH_ERR_ADMIN_AUTH_OFF: { status: 401, rpcCode: RpcCode.InvalidRequest, message: 'The admin API needs an authenticated admin, and auth is off: enable auth (auth.enabled) and send an OAuth token or API key with an admin scope or group (admin.scopes, admin.groups)' },
  GH_ERR_ADMIN_FORBIDDEN: { status: 403, rpcCode: RpcCode.InvalidRequest, message: '%s is not an admin: the admin API needs a token or API key with a scope in admin.scopes (%s) or a group in admin.groups (%s)' },
  GH_ERR_API_INVALID: { status: 400, rpcCode: RpcCode.InvalidParams, message: '%s' },
  GH_ERR_ADMIN_NOT_FOUND: { status: 404, rpcCode: RpcCode.InvalidRequest, message: '%s' },
  GH_ERR_ADMIN_UNAVAILABLE: { status: 409, rpcCode: RpcCode.InvalidRequest, message: '%s' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorTable;

const brand = Symbol.for('gatehouse.error');

/** The one error class that crosses the gateway's boundary; `code` is stable, `message` is client-safe. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly rpcCode: number;
  readonly data: unknown;
  /** HTTP headers the transport adds to the reply (e.g. WWW-Authenticate, Retry-After). */
  headers: Record<string, string> | undefined = undefined;
  readonly [brand] = true;

  constructor(code: ErrorCode, args: readonly (string | number)[] = [], data?: unknown) {
    const spec: ErrorSpec = ErrorTable[code];
    let i = 0;
    super(spec.message.replace(/%s/g, () => String(args[i++] ?? '')));
    this.name = 'GatehouseError';
    this.code = code;
    this.status = spec.status;
    this.rpcCode = spec.rpcCode;
    this.data = data;
  }

  static is(value: unknown): value is GatehouseError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** An error an upstream sent back: forwarded to the client unchanged (code, message, data). */
export class UpstreamRpcError extends Error {
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'UpstreamRpcError';
    this.rpcCode = code;
    this.data = data;
  }
}

/**
 * Where toRpcError leaves the HTTP status and headers of an error that asks for them (a GatehouseError with
 * `headers`, e.g. 429 + Retry-After): a symbol key, so it never reaches the wire. A transport that answers one
 * request per HTTP response (a single-request POST) uses it; batches and open streams cannot, and ignore it.
 */
export const HTTP_REPLY = Symbol('gatehouse.httpReply');

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
}

/** The HTTP status and headers a JSON-RPC error object carries for its transport, if any. */
export function httpReplyOf(error: object | undefined): HttpReply | undefined {
  return error === undefined ? undefined : (error as { [HTTP_REPLY]?: HttpReply })[HTTP_REPLY];
}

/** Turn anything thrown on the request path into a JSON-RPC error object. */
export function toRpcError(err: unknown): { code: number; message: string; data?: unknown } {
  if (GatehouseError.is(err)) {
    const data = err.data === undefined ? { code: err.code } : { code: err.code, ...(err.data as object) };
    const out = { code: err.rpcCode, message: err.message, data };
    // Only errors that set headers opt in: the others keep answering 200 with a JSON-RPC error, as before.
    if (err.headers !== undefined && err.status !== 200) Object.defineProperty(out, HTTP_REPLY, { value: { status: err.status, headers: err.headers } });
    return out;
  }
  if (err instanceof UpstreamRpcError) {
    return err.data === undefined ? { code: err.rpcCode, message: err.message } : { code: err.rpcCode, message: err.message, data: err.data };
  }
  return { code: RpcCode.InternalError, message: 'Internal error' };
}
