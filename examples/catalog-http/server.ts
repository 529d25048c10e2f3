// Example MCP server over streamable HTTP that serves a catalog of tool definitions read from a JSON Lines file, one
// MCP server per catalog server at /mcp/<server>. Tools answer with a line naming themselves and their arguments:
// it exists to put a large, real-looking catalog behind the gateway (the context bench, search tests).
// Run: CATALOG_FILE=tools.jsonl node examples/catalog-http/server.ts [--port N]
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProtocolError, ProtocolErrorCode, Server, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { Tool } from '@modelcontextprotocol/server';
import { runExampleServer, sendJsonRpcError, sendWebResponse, toWebRequest } from '../shared/http.ts';

/** One line of the catalog file. */
export interface CatalogRow {
  server: string;
  server_title?: string;
  server_description?: string;
  name: string;
  description?: string;
  inputSchema?: Tool['inputSchema'];
}

export interface CatalogServer {
  name: string;
  title?: string;
  description?: string;
  tools: Tool[];
}

/** Groups catalog rows by server; a line that is not a tool definition fails loudly with its line number. */
export function readCatalog(path: string): Map<string, CatalogServer> {
  const servers = new Map<string, CatalogServer>();
  readFileSync(path, 'utf8').split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const row = JSON.parse(line) as CatalogRow;
    if (typeof row.server !== 'string' || typeof row.name !== 'string') throw new Error(`${path}:${index + 1}: a row needs "server" and "name"`);
    let server = servers.get(row.server);
    if (server === undefined) {
      server = { name: row.server, tools: [] };
      if (row.server_title) server.title = row.server_title;
      if (row.server_description) server.description = row.server_description;
      servers.set(row.server, server);
    }
    const tool: Tool = { name: row.name, inputSchema: row.inputSchema ?? { type: 'object', properties: {} } };
    if (row.description !== undefined) tool.description = row.description;
    server.tools.push(tool);
  });
  return servers;
}

/** A low-level SDK server for one catalog server: the tools are JSON Schema already, so McpServer's zod path is not used. */
function createCatalogServer(entry: CatalogServer): Server {
  const server = new Server(
    { name: entry.name, version: '1.0.0', ...(entry.title !== undefined && { title: entry.title }) },
    { capabilities: { tools: {} }, ...(entry.description !== undefined && { instructions: entry.description }) },
  );
  const names = new Set(entry.tools.map((t) => t.name));
  server.setRequestHandler('tools/list', () => ({ tools: entry.tools }));
  server.setRequestHandler('tools/call', (request) => {
    const { name, arguments: args = {} } = request.params;
    if (!names.has(name)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
    return { content: [{ type: 'text', text: `${entry.name}/${name} called with ${JSON.stringify(args)}` }] };
  });
  return server;
}

/** Stateless streamable HTTP: every request gets its own server and transport (the SDK's stateless pattern). */
function createCatalogRouter(servers: Map<string, CatalogServer>) {
  return async function handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const match = /^\/mcp\/([^/]+)$/.exec(url.pathname);
    const entry = match ? servers.get(decodeURIComponent(match[1])) : undefined;
    if (entry === undefined) {
      sendJsonRpcError(res, 404, -32601, `Not found: the MCP endpoints are /mcp/<server>, one of ${servers.size} servers`);
      return;
    }
    if (req.method !== 'POST') {
      sendJsonRpcError(res, 405, -32000, 'Method not allowed: this stateless server takes POST only');
      return;
    }
    const server = createCatalogServer(entry);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    try {
      await sendWebResponse(res, await transport.handleRequest(toWebRequest(req, baseUrl)));
    } finally {
      await server.close();
    }
  };
}

if (import.meta.main) {
  const file = process.env.CATALOG_FILE;
  if (!file) throw new Error('CATALOG_FILE must name a JSON Lines file of tool definitions');
  const servers = readCatalog(file);
  await runExampleServer({ path: '/mcp/<server>', handler: createCatalogRouter(servers) });
}
