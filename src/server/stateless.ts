/**
 * Protocol revision 2026-07-28: no initialize and no session. Each request carries its protocol version and
 * client capabilities in `_meta` (mirrored in the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers);
 * the gateway builds a request-scoped context from them and serves the request through the same router as
 * every other revision. Results carry `resultType`; `subscriptions/listen` holds a stream open for
 * list_changed and resource updates.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { JsonObject, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../core/jsonrpc.ts';
import { isNotification, isRequest } from '../core/jsonrpc.ts';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, STATELESS_REVISION, SUPPORTED_REVISIONS } from '../session/revision.ts';
import { DownstreamSession } from '../session/session.ts';
import type { ClientInfo } from '../session/session.ts';
import type { Principal } from '../auth/principal.ts';
import { EventStream } from './event-stream.ts';
import { PostExchange, writeJson } from './exchange.ts';
import type { Exchange } from './exchange.ts';
import type { Front, ListenFilter as Filter } from './front.ts';
import { acceptsEventStream } from './guards.ts';
import { traceCarrierOf } from '../observe/tracing.ts';

const STATELESS_METHODS = new Set([
  'server/discover', 'subscriptions/listen', 'tools/list', 'tools/call', 'prompts/list', 'prompts/get',
  'resources/list', 'resources/templates/list', 'resources/read', 'completion/complete',
]);
const NAMED: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

function isModern(version: unknown): boolean {
  return typeof version === 'string' && version >= STATELESS_REVISION;
}

/** A request speaks 2026-07-28 when its `_meta` or its MCP-Protocol-Version header claims a modern revision. */
export function isStatelessRequest(messages: JsonRpcMessage[], versionHeader: string | undefined): boolean {
  if (isModern(versionHeader)) return true;
  const first = messages[0];
  const meta = first && 'method' in first ? (first.params?._meta as JsonObject | undefined) : undefined;
  return meta !== undefined && meta[META_PROTOCOL_VERSION] !== undefined;
}

export function handleStateless(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string, messages: JsonRpcMessage[], batch: boolean, principal: Principal): void {
  if (batch) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', [`JSON-RPC batches are not supported by protocol revision ${STATELESS_REVISION}`]);
  const message = messages[0];
  if (isNotification(message)) {
    // The only client notification of this revision is cancellation, which over HTTP is closing the stream.
    res.writeHead(202).end();
    return;
  }
  if (!isRequest(message)) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', [`a ${STATELESS_REVISION} client does not post responses`]);
  const meta = validateContext(req, message);
  const context = new DownstreamSession({
    // Request-scoped; per-session upstream processes are keyed by principal for these clients.
    id: `stateless:${principal.id}`,
    revision: STATELESS_REVISION,
    virtualServer,
    principal,
    clientInfo: (meta[META_CLIENT_INFO] as ClientInfo | undefined) ?? { name: 'unknown', version: '0' },
    clientCapabilities: meta[META_CLIENT_CAPABILITIES] as JsonObject,
    stateful: false,
    resumeCapacity: 0,
  });
  if (message.method === 'server/discover') {
    writeJson(res, 200, { jsonrpc: '2.0', id: message.id, result: front.discoverResult(virtualServer) });
    return;
  }
  if (message.method === 'subscriptions/listen') return listen(front, res, context, message);
  const inner = new PostExchange(res, 1, false, acceptsEventStream(req), {}, context);
  // Closing the response stream is this revision's cancellation.
  res.on('close', () => {
    if (!res.writableEnded) context.inFlight.get(message.id)?.abort.abort();
  });
  front.router.handleRequest(context, message, withResultType(inner), traceCarrierOf(req.headers));
}

/** Check the request's protocol context (`_meta`) against its headers; throws the revision's 400 errors. */
function validateContext(req: IncomingMessage, message: JsonRpcRequest): JsonObject {
  const meta = (message.params?._meta as JsonObject | undefined) ?? {};
  const version = meta[META_PROTOCOL_VERSION];
  const missing = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES].filter((k) => meta[k] === undefined);
  if (missing.length) throw new GatehouseError('GH_ERR_STATELESS_META', [`params._meta is missing ${missing.join(', ')}`]);
  if (version !== STATELESS_REVISION) {
    throw new GatehouseError('GH_ERR_STATELESS_VERSION', [String(version)], { supported: SUPPORTED_REVISIONS, requested: version });
  }
  const headerVersion = req.headers['mcp-protocol-version'];
  if (headerVersion !== version) throw new GatehouseError('GH_ERR_STATELESS_HEADER', [`MCP-Protocol-Version is ${headerVersion ?? 'missing'} but _meta says ${version}`]);
  const method = req.headers['mcp-method'];
  if (method !== message.method) throw new GatehouseError('GH_ERR_STATELESS_HEADER', [`Mcp-Method is ${method ?? 'missing'} but the body's method is ${message.method}`]);
  if (!STATELESS_METHODS.has(message.method)) throw new GatehouseError('GH_ERR_STATELESS_METHOD', [message.method]);
  const key = NAMED[message.method];
  if (key) {
    const name = decodeHeaderValue(req.headers['mcp-name'] as string | undefined);
    if (name !== message.params?.[key]) throw new GatehouseError('GH_ERR_STATELESS_HEADER', [`Mcp-Name is ${name ?? 'missing'} but params.${key} is ${String(message.params?.[key])}`]);
  }
  return meta;
}

/** Header values that are not plain ASCII travel as `=?base64?…?=`. */
function decodeHeaderValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^=\?base64\?(.*)\?=$/.exec(value);
  return m ? Buffer.from(m[1], 'base64').toString('utf8') : value;
}

/** Every 2026-07-28 result says what kind of result it is. */
function withResultType(inner: Exchange): Exchange {
  return {
    get open() {
      return inner.open;
    },
    related: (m) => inner.related(m),
    respond(m: JsonRpcResponse) {
      if ('result' in m && m.result.resultType === undefined) m = { ...m, result: { resultType: 'complete', ...m.result } };
      inner.respond(m);
    },
  };
}


/**
 * `subscriptions/listen`: an SSE stream that first acknowledges the notifications the gateway will send, then
 * carries them tagged with the subscription id until the client closes it.
 */
function listen(front: Front, res: ServerResponse, context: DownstreamSession, request: JsonRpcRequest): void {
  const asked = (request.params?.notifications as Filter | undefined) ?? {};
  const granted: Filter = {};
  if (asked.toolsListChanged) granted.toolsListChanged = true;
  if (asked.promptsListChanged) granted.promptsListChanged = true;
  if (asked.resourcesListChanged) granted.resourcesListChanged = true;
  if (Array.isArray(asked.resourceSubscriptions)) granted.resourceSubscriptions = asked.resourceSubscriptions.filter((u) => typeof u === 'string');
  const listener = front.listen(context, request.id, granted);
  const stream = new EventStream('listen', 0);
  stream.attach(res, { 'x-accel-buffering': 'no' });
  const subscriptionId = request.id;
  stream.send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': subscriptionId }, notifications: granted } });
  listener.deliver = (n) => {
    const params = { ...(n.params ?? {}), _meta: { ...((n.params?._meta as JsonObject | undefined) ?? {}), 'io.modelcontextprotocol/subscriptionId': subscriptionId } };
    stream.send({ jsonrpc: '2.0', method: n.method, params });
  };
  res.on('close', () => listener.close());
}
