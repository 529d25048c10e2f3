/**
 * Stream events in Redis, so a client can resume a stream on any replica (`Last-Event-ID`, streamable HTTP's
 * "Resumability and Redelivery"). Each stream is a list of its last events (the session's resume capacity, kept for
 * `ttl`), plus a channel its new events and its end are published on. A replica asked to resume a stream it does not
 * hold subscribes first, then reads the list, so no event falls between the two; duplicates are dropped by sequence.
 * Writes are pipelined and off the request path: a Redis outage loses only cross-replica resumption.
 */
import type { ServerResponse } from 'node:http';
import type { StreamJournal } from '../../server/event-stream.ts';
import type { RedisStore } from './client.ts';

const DONE = '\u0000done';

export class RedisEventJournal implements StreamJournal {
  private readonly redis: RedisStore;
  private readonly capacity: number;
  private readonly ttlMs: number;

  constructor(redis: RedisStore, capacity: number, ttlMs = 600_000) {
    this.redis = redis;
    this.capacity = capacity;
    this.ttlMs = ttlMs;
  }

  record(key: string, seq: number, frame: string): void {
    if (!this.redis.healthy) return;
    const list = this.redis.key(`ev:${key}`);
    const entry = `${seq}\n${frame}`;
    this.redis.client.multi()
      .rpush(list, entry)
      .ltrim(list, -this.capacity, -1)
      .pexpire(list, this.ttlMs)
      .publish(list, entry)
      .exec()
      .catch(() => {});
  }

  finish(key: string): void {
    if (!this.redis.healthy) return;
    const list = this.redis.key(`ev:${key}`);
    this.redis.client.multi()
      .set(`${list}:done`, '1', 'PX', this.ttlMs)
      .publish(list, DONE)
      .exec()
      .catch(() => {});
  }

  /**
   * Replay the events of stream `key` after `afterSeq` on `res`, then follow it until it ends (or the client goes).
   * False when Redis knows nothing of the stream (the caller answers as for an unknown stream).
   */
  async resume(key: string, afterSeq: number, res: ServerResponse): Promise<boolean> {
    const list = this.redis.key(`ev:${key}`);
    let last = afterSeq;
    let started = false;
    let ended = false;
    const early: string[] = [];
    const write = (entry: string) => {
      const nl = entry.indexOf('\n');
      const seq = Number(entry.slice(0, nl));
      if (seq > last) {
        last = seq;
        res.write(entry.slice(nl + 1));
      }
    };
    const stop = () => {
      if (ended) return;
      ended = true;
      void this.redis.unsubscribe(list, onMessage);
      res.end();
    };
    const onMessage = (text: string) => {
      if (!started) {
        early.push(text);
        return;
      }
      if (text === DONE) stop();
      else write(text);
    };
    await this.redis.subscribeRaw(list, onMessage);
    const [entries, done] = await Promise.all([this.redis.client.lrange(list, 0, -1), this.redis.client.exists(`${list}:done`)]);
    if (entries.length === 0 && done === 0) {
      void this.redis.unsubscribe(list, onMessage);
      return false;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
    res.flushHeaders();
    res.on('close', stop);
    for (const e of entries) write(e);
    started = true;
    for (const text of early) onMessage(text);
    if (done === 1) stop();
    return true;
  }
}
