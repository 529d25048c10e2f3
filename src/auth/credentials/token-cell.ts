/**
 * One cached bearer token and its refresh: fresh -> the cached header list (the hot path); due for refresh but
 * still valid -> the cached list while one background fetch runs; expired or missing -> wait for one fetch,
 * shared by everyone who asks meanwhile.
 */
import type { HeaderList } from './types.ts';
import type { IssuedToken } from './oauth.ts';
import { tokenTimes } from './oauth.ts';

export class TokenCell {
  headers: HeaderList | null = null;
  refreshAt = 0;
  expiresAt = 0;
  private fetching: Promise<HeaderList> | null = null;

  /** The headers to send now; `fetch` runs only when the token is missing or due. */
  get(fetch: () => Promise<IssuedToken | null>, onBackgroundError: (err: Error) => void): HeaderList | Promise<HeaderList> {
    const headers = this.headers;
    if (headers !== null) {
      const now = Date.now();
      if (now < this.refreshAt) return headers;
      if (now < this.expiresAt) {
        this.refresh(fetch).catch(onBackgroundError);
        return headers;
      }
    }
    return this.refresh(fetch);
  }

  /** Forget `sent` if it is still the cached one (a 401 for it); true when it was. */
  drop(sent: HeaderList): boolean {
    if (this.headers !== sent) return false;
    this.headers = null;
    return true;
  }

  private refresh(fetch: () => Promise<IssuedToken | null>): Promise<HeaderList> {
    if (this.fetching !== null) return this.fetching;
    const started = Date.now();
    const run = fetch().then((issued) => {
      if (issued === null) return [] as HeaderList;
      const headers: HeaderList = Object.freeze(['authorization', `Bearer ${issued.accessToken}`]);
      const times = tokenTimes(started, issued.expiresIn);
      this.headers = headers;
      this.refreshAt = times.refreshAt;
      this.expiresAt = times.expiresAt;
      return headers;
    });
    this.fetching = run;
    const clear = (): void => {
      if (this.fetching === run) this.fetching = null;
    };
    run.then(clear, clear);
    return run;
  }
}
