/**
 * Ended session ids shared by every replica: a key per id in Redis (expiring with the id itself), announced on the
 * events channel so each replica adds it to its own set at once and the check on the request path stays a map
 * lookup. A replica starting up loads the ids already ended.
 */
import { MemoryRevokedSessions, digest as digestOf } from '../../session/revoked.ts';
import type { RevokedSessions } from '../../session/revoked.ts';
import type { RedisStore } from './client.ts';

const CHANNEL = 'events';

export class RedisRevokedSessions implements RevokedSessions {
  private readonly redis: RedisStore;
  private readonly local = new MemoryRevokedSessions();
  /** Another replica ended a session (by its id's digest): one live here must end too, not only be refused when reopened. */
  onRemoteRevoke: ((digest: string) => void) | null = null;

  private constructor(redis: RedisStore) {
    this.redis = redis;
  }

  static async open(redis: RedisStore): Promise<RedisRevokedSessions> {
    const store = new RedisRevokedSessions(redis);
    await redis.subscribe(CHANNEL, (m) => {
      if (m.type !== 'session-ended' || typeof m.digest !== 'string' || typeof m.until !== 'number') return;
      store.local.revokeDigest(m.digest, m.until);
      store.onRemoteRevoke?.(m.digest);
    });
    // The ids ended before this replica started.
    const pattern = redis.key('ended:*');
    let cursor = '0';
    do {
      const [next, keys] = await redis.client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        const ttls = await Promise.all(keys.map((k) => redis.client.pttl(k)));
        keys.forEach((k, i) => ttls[i] > 0 && store.local.revokeDigest(k.slice(redis.key('ended:').length), Date.now() + ttls[i]));
      }
    } while (cursor !== '0');
    return store;
  }

  revoke(id: string, until: number): void {
    const digest = digestOf(id);
    this.local.revokeDigest(digest, until);
    const ttl = Math.max(1, until - Date.now());
    // Best effort while Redis is down: this replica refuses the id; others learn of it only if Redis comes back in time.
    this.redis.client.set(this.redis.key(`ended:${digest}`), '1', 'PX', ttl)
      .then(() => this.redis.publish(CHANNEL, { type: 'session-ended', digest, until }))
      .catch(() => {});
  }

  isRevoked(id: string, now?: number): boolean {
    return this.local.isRevoked(id, now);
  }
}
