// Paginated tools/list for an McpServer. The SDK's McpServer answers tools/list with every tool in
// one page, so this replaces that handler on the low-level Server with one that pages by an opaque
// cursor; tools/call stays with McpServer.
import {
  ProtocolError,
  ProtocolErrorCode,
  type RegisteredTool,
  type Server,
  type StandardSchemaWithJSON,
  type Tool,
} from '@modelcontextprotocol/server';

const EMPTY_INPUT_SCHEMA: Tool['inputSchema'] = { type: 'object', properties: {} };

function toJsonSchema(schema: StandardSchemaWithJSON, io: 'input' | 'output'): Record<string, unknown> {
  return schema['~standard'].jsonSchema[io]({ target: 'draft-2020-12' });
}

function encodeCursor(offset: number): string {
  return Buffer.from(`tools:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^tools:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
  return Number(match[1]);
}

/** Keeps the registered tools in order and serves them `pageSize` at a time. */
export class ToolPages {
  readonly #tools = new Map<string, RegisteredTool>();
  readonly #pageSize: number;

  constructor(pageSize: number) {
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`page size must be a positive integer, got ${pageSize}`);
    this.#pageSize = pageSize;
  }

  /** Records a tool returned by `McpServer.registerTool`; pass it straight through. */
  add(name: string, tool: RegisteredTool): RegisteredTool {
    this.#tools.set(name, tool);
    return tool;
  }

  /**
   * Installs the paginated handler. Call it after the first `registerTool`: McpServer installs its
   * own tools/list handler then, and registers the tools capability, and ours must replace it.
   */
  install(server: Server): void {
    server.setRequestHandler('tools/list', (request) => {
      const listed = [...this.#tools].filter(([, tool]) => tool.enabled);
      const cursor = request.params?.cursor;
      const offset = cursor === undefined ? 0 : decodeCursor(cursor);
      const end = offset + this.#pageSize;
      return {
        tools: listed.slice(offset, end).map(([name, tool]) => describe(name, tool)),
        ...(end < listed.length && { nextCursor: encodeCursor(end) }),
      };
    });
  }
}

function describe(name: string, tool: RegisteredTool): Tool {
  return {
    name,
    title: tool.title,
    description: tool.description,
    inputSchema: tool.inputSchema ? (toJsonSchema(tool.inputSchema, 'input') as Tool['inputSchema']) : EMPTY_INPUT_SCHEMA,
    ...(tool.outputSchema && { outputSchema: toJsonSchema(tool.outputSchema, 'output') as Tool['outputSchema'] }),
    annotations: tool.annotations,
    _meta: tool._meta,
  };
}
