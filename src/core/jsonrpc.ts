/**
 * JSON-RPC 2.0 message shapes and the few helpers the hot path needs.
 * The gateway parses each message once at the edge and passes these plain objects through.
 */

export type JsonRpcId = string | number;
export type JsonObject = Record<string, unknown>;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: JsonObject;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** Standard JSON-RPC and MCP error codes. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP: the request was cancelled or timed out waiting for the upstream. */
  RequestTimeout: -32001,
  /** MCP: resource not found. */
  ResourceNotFound: -32002,
  /** MCP 2025-11-25: URL elicitation required. */
  UrlElicitationRequired: -32042,
  /** Gateway: an upstream failed (closed, garbage, unreachable). */
  UpstreamError: -32010,
  /** Gateway: overloaded; retry later. */
  Overloaded: -32011,
} as const;

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m && m.id !== undefined && m.id !== null;
}

export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m && m.id !== undefined);
}

export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m) && ('result' in m || 'error' in m);
}

export function success(id: JsonRpcId, result: JsonObject): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}

export function failure(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcFailure {
  const error: JsonRpcErrorObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}

/**
 * Classify one decoded JSON value as a JSON-RPC message, or return why it is not one.
 * Only the envelope is checked here; params are validated by the method's handler.
 */
export function validateEnvelope(value: unknown): JsonRpcMessage | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a JSON-RPC message must be an object';
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  const hasId = 'id' in m;
  if (hasId && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return 'id must be a string or a number';
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) return 'method must be a non-empty string';
    if (m.params !== undefined && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params))) {
      return 'params must be an object';
    }
    if (hasId && m.id === null) return 'a request id must not be null';
    return m as unknown as JsonRpcMessage;
  }
  if (!hasId) return 'a message needs a method (request or notification) or an id (response)';
  if ('result' in m) {
    if (m.result === null || typeof m.result !== 'object') return 'result must be an object';
    return m as unknown as JsonRpcMessage;
  }
  if ('error' in m) {
    const e = m.error as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || typeof e.code !== 'number' || typeof e.message !== 'string') {
      return 'error must be an object with a numeric code and a string message';
    }
    return m as unknown as JsonRpcMessage;
  }
  return 'a response needs a result or an error';
}
