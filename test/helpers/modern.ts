/**
 * Start test/fixtures/modern-server.ts (an MCP server that speaks only the stateless 2026-07-28 revision) on a free
 * port and wait for its `LISTENING <url>` line; `close()` ends it and resolves when it has exited.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, nodeBinary, waitForLine } from './spawn.ts';

export interface ModernServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  /** POST a JSON-RPC request with a valid 2026-07-28 envelope and return its result (test/* introspection). */
  rpc(method: string, params?: Record<string, unknown>): Promise<any>;
  close(): Promise<void>;
}

/** `args` go to the fixture, e.g. `--bare-refusal` (initialize refused with -32022 but no version list). */
export async function startModernServer(args: string[] = []): Promise<ModernServer> {
  const proc = spawn(nodeBinary(), [path.join(REPO_ROOT, 'test/fixtures/modern-server.ts'), '--port', '0', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const close = (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      proc.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  };
  try {
    const [, url] = await waitForLine(proc.stdout!, /^LISTENING (\S+)$/, 15_000);
    proc.stdout!.resume();
    let id = 0;
    const rpc = async (method: string, params: Record<string, unknown> = {}) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method },
        body: JSON.stringify({ jsonrpc: '2.0', id: `t${++id}`, method, params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
      });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    };
    return { url, rpc, close };
  } catch (err) {
    await close();
    throw err;
  }
}
