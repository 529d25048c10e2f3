/**
 * The streamable-HTTP transport on `<path>` and `<path>/<virtual-server>`: POST carries client messages
 * (answered with JSON, upgraded to SSE when needed), GET opens or resumes a server stream, DELETE ends a
 * session. Sessions of 2025-03-26 .. 2025-11-25 are created by initialize; 2026-07-28 requests carry their
 * protocol context in `_meta` and are served without a session (see stateless.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '../core/jsonrpc.ts';
import { RpcCode, failure, isNotification, isRequest, isResponse, success, validateEnvelope } from '../core/jsonrpc.ts';
import { allowsBatch, isSupportedRevision, negotiateRevision, SUPPORTED_REVISIONS } from '../session/revision.ts';
import { DownstreamSession } from '../session/session.ts';
import type { ClientInfo } from '../session/session.ts';
import type { Principal } from '../auth/principal.ts';
import { carrySubjectToken } from '../auth/credentials/subject-token.ts';
import { EventStream } from './event-stream.ts';
import { PostExchange, writeJson } from './exchange.ts';
import type { Front } from './front.ts';
import { acceptsEventStream, checkContentType, checkOrigin, checkPostAccept, readBody } from './guards.ts';
import { handleStateless, isStatelessRequest } from './stateless.ts';
import { traceCarrierOf } from '../observe/tracing.ts';

export async function handleStreamable(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string): Promise<void> {
  checkOrigin(req, front.options.origin);
  switch (req.method) {
    case 'POST':
      return handlePost(front, req, res, virtualServer);
    case 'GET':
      return handleGet(front, req, res, virtualServer, await front.authenticate(req, virtualServer));
    case 'DELETE':
      return handleDelete(front, req, res, virtualServer, await front.authenticate(req, virtualServer));
    default:
      res.setHeader('allow', 'GET, POST, DELETE');
      throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', [`Method ${req.method} not allowed; use POST, GET or DELETE`]);
  }
}

async function handlePost(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string): Promise<void> {
  checkContentType(req);
  checkPostAccept(req);
  const principal = await front.authenticate(req, virtualServer);
  const body = await readBody(req, front.options.maxBodyBytes);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new GatehouseError('GH_ERR_RPC_PARSE', [(err as Error).message]);
  }
  const batch = Array.isArray(value);
  const raw: unknown[] = batch ? (value as unknown[]) : [value];
  if (raw.length === 0) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', ['an empty batch']);

  const messages: JsonRpcMessage[] = [];
  const rejected: JsonRpcResponse[] = [];
  for (const item of raw) {
    const m = validateEnvelope(item);
    if (typeof m !== 'string') {
      messages.push(m);
      continue;
    }
    if (!batch) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', [m]);
    rejected.push(failure(idOf(item), RpcCode.InvalidRequest, `Invalid request: ${m}`));
  }

  const sessionId = header(req, 'mcp-session-id');
  const init = messages.find((m) => isRequest(m) && m.method === 'initialize') as JsonRpcRequest | undefined;
  if (init) {
    if (raw.length > 1) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', ['initialize must be sent on its own, not in a batch']);
    if (sessionId !== undefined) throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', ['initialize must not carry Mcp-Session-Id; omit it to start a new session']);
    return initialize(front, res, virtualServer, init, principal);
  }

  const version = header(req, 'mcp-protocol-version');
  if (version !== undefined && !isSupportedRevision(version)) {
    throw new GatehouseError('GH_ERR_PROTOCOL_VERSION', [version, SUPPORTED_REVISIONS.join(', ')]);
  }
  if (sessionId === undefined) {
    if (isStatelessRequest(messages, version)) return handleStateless(front, req, res, virtualServer, messages, batch, principal);
    throw new GatehouseError('GH_ERR_SESSION_REQUIRED');
  }
  const session = boundSession(front, sessionId, virtualServer, principal);
  if (batch && !allowsBatch(session.revision)) {
    throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', [`JSON-RPC batches are not supported by protocol revision ${session.revision}`]);
  }
  dispatchMessages(front, session, messages, rejected, req, res, batch);
}

/** Hand a POST's messages to the router: notifications and responses are acknowledged with 202. */
export function dispatchMessages(
  front: Front,
  session: DownstreamSession,
  messages: JsonRpcMessage[],
  rejected: JsonRpcResponse[],
  req: IncomingMessage,
  res: ServerResponse,
  batch: boolean,
): void {
  let requests = 0;
  for (const m of messages) {
    if (isRequest(m)) requests++;
    else if (isNotification(m)) front.router.handleNotification(session, m);
    else if (isResponse(m)) front.router.handleResponse(session, m);
  }
  if (requests === 0 && rejected.length === 0) {
    res.writeHead(202).end();
    return;
  }
  const exchange = new PostExchange(res, requests + rejected.length, batch, acceptsEventStream(req), {}, session);
  exchange.priming = session.stateful && session.revision >= '2025-11-25';
  // A tool call may stream progress, logs and server->client requests: answer it as a stream from the start.
  if (front.options.streamCalls && requests === 1 && !batch && (messages[0] as JsonRpcRequest).method === 'tools/call') exchange.startStream();
  for (const r of rejected) exchange.respond(r);
  const trace = traceCarrierOf(req.headers);
  for (const m of messages) if (isRequest(m)) front.router.handleRequest(session, m, exchange, trace);
}

/**
 * The live session for an id, only if it belongs to this endpoint and to the principal presenting it: a session id
 * shown with someone else's credentials is as unknown as a forged one (no hijacking, and no confirmation it exists).
 */
function boundSession(front: Front, sessionId: string, virtualServer: string, principal: Principal): DownstreamSession {
  const session = front.sessions.get(sessionId) ?? front.reopenSession(sessionId, virtualServer, principal);
  if (!session || session.virtualServer !== virtualServer || session.legacy || session.principal.id !== principal.id) {
    throw new GatehouseError('GH_ERR_SESSION_NOT_FOUND');
  }
  // The client may have refreshed its token: the session's upstream calls use the latest one.
  carrySubjectToken(principal, session.principal);
  return session;
}

function initialize(front: Front, res: ServerResponse, virtualServer: string, init: JsonRpcRequest, principal: Principal): void {
  if (front.draining) throw new GatehouseError('GH_ERR_SHUTTING_DOWN');
  const params = init.params ?? {};
  if (typeof params.protocolVersion !== 'string') {
    writeJson(res, 400, failure(init.id, RpcCode.InvalidParams, 'Invalid params: initialize needs a string "protocolVersion"'));
    return;
  }
  const revision = negotiateRevision(params.protocolVersion);
  const clientInfo = (params.clientInfo as ClientInfo | undefined) ?? { name: 'unknown', version: '0' };
  const clientCapabilities = (params.capabilities as Record<string, unknown> | undefined) ?? {};
  const session = new DownstreamSession({
    id: front.sealSession({ principal: principal.id, virtualServer, revision, clientInfo, clientCapabilities }),
    revision,
    virtualServer,
    principal,
    clientInfo,
    clientCapabilities,
    journal: front.streamJournal,
    stateful: true,
    resumeCapacity: front.options.resumeBuffer,
  });
  front.sessions.add(session);
  writeJson(res, 200, success(init.id, front.initializeResult(virtualServer, revision)), { 'mcp-session-id': session.id });
}

async function handleGet(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string, principal: Principal): Promise<void> {
  if (!acceptsEventStream(req)) throw new GatehouseError('GH_ERR_HTTP_NOT_ACCEPTABLE', ['Not Acceptable: a GET stream needs Accept: text/event-stream']);
  const sessionId = header(req, 'mcp-session-id');
  if (sessionId === undefined) throw new GatehouseError('GH_ERR_SESSION_REQUIRED');
  const session = boundSession(front, sessionId, virtualServer, principal);
  const lastEventId = header(req, 'last-event-id');
  if (lastEventId !== undefined) {
    const parsed = EventStream.parseEventId(lastEventId);
    const stream = parsed && session.stream(parsed.streamId);
    if (stream && parsed) {
      stream.attach(res, {}, parsed.seq);
      return;
    }
    // A stream another replica holds: replayed and followed from the shared journal.
    if (parsed && !stream && (await front.resumeStream?.(session, parsed.streamId, parsed.seq, res)) === true) return;
  }
  if (session.standalone.attached) {
    writeJson(res, 409, failure(null, RpcCode.InvalidRequest, 'Conflict: this session already has an open GET stream; resume it with Last-Event-ID instead'));
    return;
  }
  session.standalone.attach(res, {});
}

function handleDelete(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string, principal: Principal): void {
  const sessionId = header(req, 'mcp-session-id');
  if (sessionId === undefined) throw new GatehouseError('GH_ERR_SESSION_REQUIRED');
  boundSession(front, sessionId, virtualServer, principal);
  front.endSession(sessionId);
  res.writeHead(204).end();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function idOf(item: unknown): string | number | null {
  const id = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).id : null;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
