/**
 * The protocol revisions the gateway speaks to clients and how a request says which one it uses.
 * 2026-07-28 is stateless (no initialize, protocol context in each request's `_meta`); the others
 * negotiate once with initialize and then carry `MCP-Protocol-Version` on every HTTP request.
 */

export const STATELESS_REVISION = '2026-07-28';
export const SESSION_REVISIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const SUPPORTED_REVISIONS: readonly string[] = [STATELESS_REVISION, ...SESSION_REVISIONS];
export const LATEST_SESSION_REVISION = SESSION_REVISIONS[0];

/** `_meta` keys of the stateless revision. */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';

/** The revision answered to an initialize that asked for `requested`. */
export function negotiateRevision(requested: unknown): string {
  if (typeof requested === 'string' && (SESSION_REVISIONS as readonly string[]).includes(requested)) return requested;
  return LATEST_SESSION_REVISION;
}

export function isSupportedRevision(version: string): boolean {
  return SUPPORTED_REVISIONS.includes(version);
}

/** JSON-RPC batches exist only in 2025-03-26 (removed in 2025-06-18). */
export function allowsBatch(revision: string): boolean {
  return revision === '2025-03-26';
}
