/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the gateway's endpoints: the canonical resource URI of each
 * endpoint (RFC 8707: what a token's `aud` must name), the metadata document, and where it is served — both at
 * `/.well-known/oauth-protected-resource` (the default endpoint) and at the path-specific form
 * `/.well-known/oauth-protected-resource<path>[/<virtual server>]`, which MCP clients try first.
 */
import type { AuthConfig } from './config.ts';

export const PRM_PREFIX = '/.well-known/oauth-protected-resource';

/** Where one gateway's resources live: its public origin (plus any path prefix a proxy adds) and MCP path. */
export interface ResourceLocation {
  /** e.g. `https://mcp.example.com` or `https://example.com/gw`, no trailing slash. */
  readonly publicUrl: string;
  /** server.path, e.g. `/mcp`. */
  readonly path: string;
}

/** The canonical URI of an endpoint: `<publicUrl><path>[/<virtual server>]`. */
export function resourceUri(loc: ResourceLocation, virtualServer: string): string {
  return `${loc.publicUrl}${loc.path}${virtualServer === '' ? '' : `/${encodeURIComponent(virtualServer)}`}`;
}

/** The path-specific metadata URL of an endpoint (RFC 9728 §3.1: the well-known segment goes after the host). */
export function metadataUrl(loc: ResourceLocation, virtualServer: string): string {
  const resource = new URL(resourceUri(loc, virtualServer));
  return `${resource.origin}${PRM_PREFIX}${resource.pathname}`;
}

/**
 * Which endpoint a request path under the well-known prefix asks about: '' for the default endpoint, a virtual
 * server's name, or undefined when the path is not one of ours. The public URL's own path prefix may be present
 * (a proxy that forwards it) or stripped.
 */
export function metadataTarget(path: string, loc: ResourceLocation): string | undefined {
  if (!path.startsWith(PRM_PREFIX)) return undefined;
  let rest = path.slice(PRM_PREFIX.length);
  if (rest === '' || rest === '/') return '';
  const prefix = new URL(loc.publicUrl).pathname.replace(/\/$/, '');
  if (prefix !== '' && rest.startsWith(`${prefix}/`)) rest = rest.slice(prefix.length);
  if (rest === loc.path) return '';
  if (rest.startsWith(`${loc.path}/`)) {
    const name = rest.slice(loc.path.length + 1);
    if (name === '' || name.includes('/')) return undefined;
    try {
      return decodeURIComponent(name);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The metadata document of one endpoint. */
export function protectedResourceMetadata(config: AuthConfig, resource: string): Record<string, unknown> {
  return {
    resource,
    authorization_servers: config.issuers.map((i) => i.issuer),
    scopes_supported: config.scopesSupported ?? config.scopes,
    bearer_methods_supported: ['header'],
    resource_name: config.resourceName,
  };
}
