/**
 * Import of the desktop-client format (`{ "mcpServers": { name: { command, args, env } | { url, headers, type } } }`,
 * as Claude Desktop, Claude Code, Cursor and others write it): converted into our `upstreams`, then validated like
 * any config. `sourcePath` maps a key of the converted config back to where the user wrote it, so errors point
 * into the file they actually have.
 */
import { describeValue } from './errors.ts';
import { configSchema } from './schema.ts';

type Json = Record<string, unknown>;

export interface ConvertedConfig {
  /** A config in our own shape, not yet validated. */
  config: Json;
  /** Where a key of `config` was written in the source document (`upstreams.x.enabled` → `mcpServers.x.disabled`). */
  sourcePath(path: readonly PropertyKey[]): PropertyKey[];
  /** Problems only the conversion can see, at their source path: a name in both sections, a non-mapping. */
  problems: { path: PropertyKey[]; detail: string }[];
}

/** Client-side approval lists: they mean nothing to a gateway, which has its own policy. */
const IGNORED = new Set(['autoApprove', 'alwaysAllow']);

const OUR_KEYS = new Set(Object.keys(configSchema.shape));

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A document in the desktop-client format: a mapping with a top-level `mcpServers`. */
export function isMcpServersDocument(value: unknown): value is Json & { mcpServers: unknown } {
  return isObject(value) && 'mcpServers' in value;
}

/**
 * Convert `doc` (see isMcpServersDocument). Our own top-level keys (`server`, `upstreams`, …) are kept, so a file
 * may mix both; any other top-level key is the client's own setting (`globalShortcut`, …) and is dropped.
 * Per entry: `type`/`transportType` becomes `transport` (`streamable-http` → `http`), `disabled` becomes
 * `enabled`, approval lists are dropped, and every other key is kept as is — ours validate, typos are reported.
 */
export function convertMcpServers(doc: Json & { mcpServers: unknown }): ConvertedConfig {
  const config: Json = {};
  for (const [key, value] of Object.entries(doc)) if (OUR_KEYS.has(key)) config[key] = value;
  const problems: ConvertedConfig['problems'] = [];
  const renames = new Map<string, Record<string, string>>();
  const servers = doc.mcpServers ?? {};
  const own = config.upstreams ?? {};

  if (!isObject(servers)) {
    problems.push({ path: ['mcpServers'], detail: `expected a mapping of server names to servers, got ${describeValue(servers)}` });
  } else if (isObject(own)) {
    // A non-mapping `upstreams` is left alone for validation to report.
    const upstreams: Json = { ...own };
    for (const [name, entry] of Object.entries(servers)) {
      if (name in upstreams) {
        problems.push({ path: ['mcpServers', name], detail: `"${name}" is defined both here and under upstreams` });
        continue;
      }
      const { converted, renamed } = convertEntry(entry);
      upstreams[name] = converted;
      renames.set(name, renamed);
    }
    config.upstreams = upstreams;
  }

  return {
    config,
    problems,
    sourcePath(path) {
      const name = path[1];
      if (path[0] !== 'upstreams' || typeof name !== 'string' || !renames.has(name)) return [...path];
      const rest = path.slice(2);
      const first = rest[0];
      if (typeof first === 'string') rest[0] = renames.get(name)![first] ?? first;
      return ['mcpServers', name, ...rest];
    },
  };
}

function convertEntry(entry: unknown): { converted: unknown; renamed: Record<string, string> } {
  if (!isObject(entry)) return { converted: entry, renamed: {} };
  const converted: Json = {};
  const renamed: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (IGNORED.has(key)) continue;
    if ((key === 'type' || key === 'transportType') && !('transport' in entry)) {
      converted.transport = value === 'streamable-http' || value === 'streamableHttp' ? 'http' : value;
      renamed.transport = key;
    } else if (key === 'disabled' && !('enabled' in entry)) {
      converted.enabled = value === true || value === 'true' ? false : value === false || value === 'false' ? true : value;
      renamed.enabled = key;
    } else {
      converted[key] = value;
    }
  }
  return { converted, renamed };
}
