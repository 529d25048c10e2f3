/**
 * The gateway's JSON APIs from the browser: the portal's read API (relative to the page's base, `/portal/api/…`)
 * and the admin API (`/admin/…`), with the user's credential as a bearer token. Errors arrive as
 * `{ "error": { "code", "message", "fields"? } }`; a 401 means "sign in" and is reported to whoever listens.
 */
import type { Credential } from './auth.ts';
import { loadCredential, saveCredential } from './auth.ts';

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly fields: FieldError[];
  constructor(status: number, message: string, code?: string, fields: FieldError[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

let credential: Credential | null = loadCredential(sessionStorage);
const listeners = new Set<() => void>();

export function currentCredential(): Credential | null {
  return credential;
}

export function setCredential(c: Credential | null): void {
  credential = c;
  saveCredential(sessionStorage, c);
  for (const l of listeners) l();
}

/** Called whenever the credential is set or cleared. */
export function onCredentialChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Called when a request was refused with 401 (the credential is missing, expired or revoked). */
let unauthorized: (() => void) | null = null;
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

/** The portal's base path, from <base href> ("/portal/"). */
export function basePath(): string {
  return new URL(document.baseURI).pathname.replace(/\/?$/, '/');
}

export async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (credential !== null) headers.authorization = `Bearer ${credential.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: reported below by status
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; fields?: FieldError[] } } | null)?.error;
    if (res.status === 401) unauthorized?.();
    throw new ApiError(res.status, err?.message ?? `${method} ${url}: HTTP ${res.status}`, err?.code, err?.fields ?? []);
  }
  return json as T;
}

/** GET from the portal's read API, e.g. `portalApi('servers')`. */
export function portalApi<T>(path: string): Promise<T> {
  const url = new URL(`api/${path}`, document.baseURI);
  return request<T>('GET', url.pathname + url.search);
}

export function adminApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  return request<T>(method, `/admin${path}`, body);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
