/**
 * The gateway's effective config: the config file's, with the admin API's changes (src/store/admin-changes.ts) laid
 * over its `upstreams` and `virtualServers`, validated by the same schema as the file — allowlist, cross-references
 * and all — so an admin can create nothing the file could not hold.
 */
import type { z } from 'zod';
import { configSchema } from '../config/schema.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { AdminChange, AdminKind } from '../store/admin-changes.ts';
import type { FieldError } from './http.ts';

/** The config section each kind of change lives in. */
export const SECTION: Record<AdminKind, 'upstreams' | 'virtualServers'> = { upstream: 'upstreams', virtualServer: 'virtualServers' };

/** `base` with `changes` applied (no validation). Parsing a validated config again yields it unchanged. */
function laid(base: GatehouseConfig, changes: readonly AdminChange[]): Record<string, unknown> {
  const sections: Record<string, Record<string, unknown>> = { upstreams: { ...base.upstreams }, virtualServers: { ...base.virtualServers } };
  for (const c of changes) {
    const section = sections[SECTION[c.kind]];
    if (c.definition === null) delete section[c.name];
    else section[c.name] = c.definition;
  }
  return { ...base, ...sections };
}

export type OverlayResult = { ok: true; config: GatehouseConfig } | { ok: false; message: string; fields: FieldError[] };

/** Validate `base` with `changes` applied; errors name fields relative to the changed entry where they lie in one. */
export function applyChanges(base: GatehouseConfig, changes: readonly AdminChange[]): OverlayResult {
  const parsed = configSchema.safeParse(laid(base, changes));
  if (parsed.success) return { ok: true, config: parsed.data };
  const last = changes.at(-1);
  return { ok: false, message: describe(parsed.error, last), fields: fieldErrors(parsed.error, last) };
}

/**
 * The effective config at start: each stored change applied in order, skipping (and reporting) any that no longer
 * validates — the file may have changed under it (a tightened allowlist) — so one stale change cannot stop the gateway.
 */
export function overlay(file: GatehouseConfig, changes: readonly AdminChange[]): { config: GatehouseConfig; skipped: { change: AdminChange; message: string }[] } {
  let config = file;
  const applied: AdminChange[] = [];
  const skipped: { change: AdminChange; message: string }[] = [];
  for (const change of changes) {
    const result = applyChanges(file, [...applied, change]);
    if (result.ok) {
      applied.push(change);
      config = result.config;
    } else skipped.push({ change, message: result.message });
  }
  return { config, skipped };
}

function fieldErrors(error: z.ZodError, change: AdminChange | undefined): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    // Inside the changed entry: the path within the definition the admin sent.
    if (change !== undefined && path[0] === SECTION[change.kind] && path[1] === change.name) return { path: path.slice(2).join('.') || '(body)', message: issue.message };
    return { path: path.join('.'), message: issue.message };
  });
}

function describe(error: z.ZodError, change: AdminChange | undefined): string {
  const fields = fieldErrors(error, change);
  const first = fields[0];
  const what = change === undefined ? 'the config' : `${change.kind === 'upstream' ? 'upstream' : 'virtual server'} "${change.name}"`;
  return `${what} is invalid: ${first.path}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more, see fields)` : ''}`;
}
