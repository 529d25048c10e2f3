// Example MCP server over the legacy HTTP+SSE transport (2024-11-05): clock tools plus slow_count and
// ask_llm, for testing a gateway against old upstreams. `GET /sse` opens a session;
// `POST /messages?sessionId=…` carries client messages. Run: node examples/clock-sse/server.ts [--port N]
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { registerTestTools } from '../shared/test-tools.ts';
import { readBody, runExampleServer, sendJsonRpcError } from '../shared/http.ts';
import { LegacySseServerTransport } from './sse-transport.ts';

/** The current time; env CLOCK_NOW (an ISO instant) freezes it for reproducible tests. */
function now(): Date {
  const fixed = process.env.CLOCK_NOW;
  return fixed ? new Date(fixed) : new Date();
}

function formatIn(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    dateStyle: 'short',
    timeStyle: 'long',
    hourCycle: 'h23',
  }).format(date);
}

/** Builds one server instance; each SSE connection gets its own. */
export function createClockServer(): McpServer {
  const mcp = new McpServer({ name: 'clock-sse', version: '1.0.0' }, { capabilities: { logging: {} } });

  mcp.registerTool(
    'now',
    {
      title: 'Current time',
      description: 'The current time as ISO 8601 (UTC) and as wall-clock time in an IANA time zone.',
      inputSchema: z.object({
        timezone: z.string().default('UTC').describe('IANA time zone, e.g. "Europe/Lisbon"'),
      }),
      annotations: { readOnlyHint: true },
    },
    function currentTime({ timezone }) {
      const date = now();
      let local: string;
      try {
        local = formatIn(date, timezone);
      } catch {
        return { content: [{ type: 'text', text: `Unknown time zone: ${timezone}` }], isError: true };
      }
      return {
        content: [{ type: 'text', text: `${date.toISOString()} (${timezone}: ${local})` }],
        structuredContent: { iso: date.toISOString(), timezone, local },
      };
    },
  );

  mcp.registerTool(
    'add_duration',
    {
      title: 'Add minutes to a time',
      description: 'Adds (or with a negative value, subtracts) minutes to an ISO 8601 timestamp.',
      inputSchema: z.object({
        iso: z.string().describe('ISO 8601 timestamp, e.g. "2025-01-31T23:30:00Z"'),
        minutes: z.number().int().describe('Minutes to add; negative to subtract'),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    function addDuration({ iso, minutes }) {
      const start = new Date(iso);
      if (Number.isNaN(start.getTime())) {
        return { content: [{ type: 'text', text: `Not an ISO 8601 timestamp: ${iso}` }], isError: true };
      }
      const result = new Date(start.getTime() + minutes * 60_000).toISOString();
      return { content: [{ type: 'text', text: result }], structuredContent: { iso: result } };
    },
  );

  registerTestTools(mcp, { include: ['slow_count', 'ask_llm'] });
  return mcp;
}

function createSseRouter() {
  const sessions = new Map<string, LegacySseServerTransport>();

  async function openStream(res: ServerResponse): Promise<void> {
    const sessionId = randomUUID();
    const transport = new LegacySseServerTransport(res, `/messages?sessionId=${sessionId}`, sessionId);
    transport.onclose = () => void sessions.delete(sessionId);
    sessions.set(sessionId, transport);
    const mcp = createClockServer();
    await mcp.connect(transport); // starts the transport: headers and the `endpoint` event go out
  }

  async function postMessage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const transport = sessions.get(url.searchParams.get('sessionId') ?? '');
    if (transport === undefined) {
      sendJsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      const tooLarge = error instanceof RangeError;
      sendJsonRpcError(res, tooLarge ? 413 : 400, -32700, tooLarge ? 'Request body too large' : 'Parse error');
      return;
    }
    // Accept first: responses travel on the SSE stream, never in this HTTP response.
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    transport.receive(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    if (req.method === 'GET' && url.pathname === '/sse') return openStream(res);
    if (req.method === 'POST' && url.pathname === '/messages') return postMessage(req, res, url);
    sendJsonRpcError(res, 404, -32601, 'Not found: use GET /sse and POST /messages');
  }

  async function closeAll(): Promise<void> {
    await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
  }

  return { handle, closeAll };
}

if (import.meta.main) {
  const router = createSseRouter();
  await runExampleServer({ path: '/sse', handler: router.handle, onShutdown: router.closeAll });
}
