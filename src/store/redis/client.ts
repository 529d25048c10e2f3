/**
 * The gateway's Redis connection (config `store.redis`), for the state replicas must share: rate-limit buckets,
 * ended session ids, and the events channel that tells every replica what one of them changed. Start fails with
 * the URL named when Redis cannot be reached; once running, a lost connection is retried with capped backoff while
 * the gateway keeps serving (what needs Redis degrades, and /readyz says so).
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { withoutPassword } from '../../core/urls.ts';

export interface RedisConfig {
  url: string;
  /** Prefix of every key and channel, so gateways of several environments can share one Redis. */
  keyPrefix: string;
  connectTimeout: number;
}

export class RedisStore {
  readonly client: Redis;
  /** A second connection: one in subscriber mode can send nothing else. */
  readonly subscriber: Redis;
  readonly prefix: string;
  private readonly url: string;
  private readonly handlers = new Map<string, ((message: Record<string, unknown>) => void)[]>();
  /** Channels whose messages go to their handlers unparsed (stream events). */
  private readonly raw = new Map<string, Set<(text: string) => void>>();

  private constructor(RedisClient: new (url: string, options: RedisOptions) => Redis, config: RedisConfig, logger?: Logger) {
    this.url = withoutPassword(config.url);
    this.prefix = config.keyPrefix;
    const options = {
      connectTimeout: config.connectTimeout,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      // Commands while disconnected fail at once rather than queue: callers degrade (rate limits fall back to
      // this replica's own buckets) instead of waiting.
      enableOfflineQueue: false,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
    };
    this.client = new RedisClient(config.url, options);
    this.subscriber = new RedisClient(config.url, { ...options, enableOfflineQueue: true });
    let down = false;
    this.client.on('error', (err: Error) => {
      if (!down) logger?.warn({ redis: this.url, err: err.message }, 'redis: connection lost; retrying with backoff, shared state degraded');
      down = true;
    });
    this.client.on('ready', () => {
      if (down) logger?.info({ redis: this.url }, 'redis: connection back');
      down = false;
    });
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (channel: string, text: string) => {
      const raw = this.raw.get(channel);
      if (raw !== undefined) {
        for (const h of raw) h(text);
        return;
      }
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const h of this.handlers.get(channel) ?? []) h(message);
    });
  }

  /** Connect both connections; rejects with an error naming the URL when Redis cannot be reached. */
  static async connect(config: RedisConfig, logger?: Logger): Promise<RedisStore> {
    // Loaded here, not at start-up: a gateway without store.redis never pays for the client.
    const { Redis: RedisClient } = await import('ioredis');
    const store = new RedisStore(RedisClient, config, logger);
    try {
      await Promise.all([store.client.connect(), store.subscriber.connect()]);
      await store.client.ping();
    } catch (err) {
      store.client.disconnect();
      store.subscriber.disconnect();
      throw new Error(`store.redis: cannot reach Redis at ${store.url} (${(err as Error).message}); start it or fix store.redis.url`, { cause: err });
    }
    return store;
  }

  /** True while commands can be sent. */
  get healthy(): boolean {
    return this.client.status === 'ready';
  }

  get status(): { url: string; status: string } {
    return { url: this.url, status: this.healthy ? 'ready' : this.client.status };
  }

  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Tell every replica (this one included). */
  async publish(channel: string, message: Record<string, unknown>): Promise<void> {
    await this.client.publish(this.key(channel), JSON.stringify(message));
  }

  async subscribe(channel: string, handler: (message: Record<string, unknown>) => void): Promise<void> {
    const full = this.key(channel);
    const list = this.handlers.get(full);
    if (list) {
      list.push(handler);
      return;
    }
    this.handlers.set(full, [handler]);
    await this.subscriber.subscribe(full);
  }

  /** Subscribe to a channel by its full name, its messages as they come. */
  async subscribeRaw(channel: string, handler: (text: string) => void): Promise<void> {
    let set = this.raw.get(channel);
    if (set === undefined) {
      this.raw.set(channel, (set = new Set()));
      set.add(handler);
      await this.subscriber.subscribe(channel);
      return;
    }
    set.add(handler);
  }

  async unsubscribe(channel: string, handler: (text: string) => void): Promise<void> {
    const set = this.raw.get(channel);
    if (set === undefined) return;
    set.delete(handler);
    if (set.size > 0) return;
    this.raw.delete(channel);
    await this.subscriber.unsubscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.client.quit(), this.subscriber.quit()]);
  }
}

