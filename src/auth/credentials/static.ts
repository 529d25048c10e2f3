/**
 * `auth: { type: static, headers }`: the same headers on every request, secrets interpolated by the loader.
 */
import type { CredentialProvider, HeaderList } from './types.ts';
import { NO_HEADERS } from './types.ts';
import type { StaticAuthConfig } from './config.ts';

export class StaticProvider implements CredentialProvider {
  readonly type = 'static';
  private readonly list: HeaderList;

  constructor(config: StaticAuthConfig) {
    const list: string[] = [];
    for (const [key, value] of Object.entries(config.headers)) list.push(key.toLowerCase(), value);
    this.list = list.length === 0 ? NO_HEADERS : Object.freeze(list);
  }

  headers(): HeaderList {
    return this.list;
  }

  current(): HeaderList {
    return this.list;
  }

  /** A fixed credential refused stays refused. */
  rejected(): boolean {
    return false;
  }
}
