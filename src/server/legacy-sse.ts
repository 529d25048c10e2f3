/**
 * The legacy HTTP+SSE transport of protocol 2024-11-05 for old clients: `GET /sse[/<virtual-server>]`
 * opens the stream and names the message endpoint in an `endpoint` event; `POST /messages?sessionId=…`
 * takes client messages (answered 202) whose responses travel back on the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.ts';
import type { JsonRpcRequest } from '../core/jsonrpc.ts';
import { RpcCode, failure, isNotification, isRequest, isResponse, success, validateEnvelope } from '../core/jsonrpc.ts';
import { SessionRegistry } from '../session/registry.ts';
import { negotiateRevision } from '../session/revision.ts';
import { DownstreamSession } from '../session/session.ts';
import type { ClientInfo } from '../session/session.ts';
import { StreamExchange } from './exchange.ts';
import type { Front } from './front.ts';
import { acceptsEventStream, checkContentType, checkOrigin, readBody } from './guards.ts';
import { traceCarrierOf } from '../observe/tracing.ts';

export const LEGACY_MESSAGES_PATH = '/messages';

export async function openLegacyStream(front: Front, req: IncomingMessage, res: ServerResponse, virtualServer: string): Promise<void> {
  checkOrigin(req, front.options.origin);
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['the SSE endpoint takes GET; send messages to POST /messages']);
  }
  if (!acceptsEventStream(req)) throw new GatehouseError('GH_ERR_HTTP_NOT_ACCEPTABLE', ['Not Acceptable: the SSE endpoint needs Accept: text/event-stream']);
  if (front.draining) throw new GatehouseError('GH_ERR_SHUTTING_DOWN');
  const principal = await front.authenticate(req, virtualServer);
  const session = new DownstreamSession({
    id: SessionRegistry.newId(),
    revision: '2024-11-05',
    virtualServer,
    principal,
    clientInfo: { name: 'unknown', version: '0' },
    clientCapabilities: {},
    stateful: true,
    legacy: true,
    resumeCapacity: 0,
  });
  front.sessions.add(session);
  session.standalone.attach(res, {});
  session.standalone.writeRaw(`event: endpoint\ndata: ${LEGACY_MESSAGES_PATH}?sessionId=${session.id}\n\n`);
  // The stream is the session: when the client goes away, so does the session.
  res.on('close', () => front.sessions.end(session.id));
}

export async function handleLegacyMessage(front: Front, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  checkOrigin(req, front.options.origin);
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    throw new GatehouseError('GH_ERR_HTTP_METHOD_NOT_ALLOWED', ['the message endpoint takes POST']);
  }
  const id = url.searchParams.get('sessionId');
  if (!id) throw new GatehouseError('GH_ERR_SESSION_REQUIRED');
  const session = front.sessions.get(id);
  if (!session || !session.legacy) throw new GatehouseError('GH_ERR_SESSION_NOT_FOUND');
  const principal = await front.authenticate(req, session.virtualServer);
  if (session.principal.id !== principal.id) throw new GatehouseError('GH_ERR_SESSION_NOT_FOUND');
  checkContentType(req);
  const body = await readBody(req, front.options.maxBodyBytes);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new GatehouseError('GH_ERR_RPC_PARSE', [(err as Error).message]);
  }
  const m = validateEnvelope(value);
  if (typeof m === 'string') throw new GatehouseError('GH_ERR_RPC_INVALID_REQUEST', [m]);
  res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
  const exchange = new StreamExchange(session.standalone);
  if (isRequest(m)) {
    if (m.method === 'initialize') return initializeLegacy(front, session, m, exchange);
    front.router.handleRequest(session, m, exchange, traceCarrierOf(req.headers));
  } else if (isNotification(m)) front.router.handleNotification(session, m);
  else if (isResponse(m)) front.router.handleResponse(session, m);
}

function initializeLegacy(front: Front, session: DownstreamSession, init: JsonRpcRequest, exchange: StreamExchange): void {
  const params = init.params ?? {};
  if (typeof params.protocolVersion !== 'string') {
    exchange.respond(failure(init.id, RpcCode.InvalidParams, 'Invalid params: initialize needs a string "protocolVersion"'));
    return;
  }
  session.revision = negotiateRevision(params.protocolVersion);
  session.clientInfo = (params.clientInfo as ClientInfo | undefined) ?? session.clientInfo;
  session.clientCapabilities = (params.capabilities as Record<string, unknown> | undefined) ?? {};
  exchange.respond(success(init.id, front.initializeResult(session.virtualServer, session.revision)));
}
