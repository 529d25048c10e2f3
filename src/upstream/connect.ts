/**
 * The connection factory: an upstream's config -> a live, initialized connection on the right transport.
 * The pool takes this as its default `connectFactory`; tests and embedders may pass their own.
 */
import type { UpstreamConfig } from '../config/schema.ts';
import type { BaseConnection, ConnectOptions } from './connection.ts';
import { connectStreamableHttp } from './stateless.ts';
import { connectSse } from './sse.ts';
import { connectStdio } from './stdio.ts';
import type { UpstreamConnection, UpstreamHandlers } from './types.ts';

export type { ConnectOptions } from './connection.ts';
export { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './connection.ts';

/** Signature of a connection factory (the pool's injectable `connectFactory`). */
export type ConnectFactory = (name: string, config: UpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions) => Promise<UpstreamConnection>;

/** Open `config`'s transport, run initialize within `timeouts.connect`, and return the connection. */
export function connectUpstream(name: string, config: UpstreamConfig, handlers: UpstreamHandlers, options: ConnectOptions): Promise<BaseConnection> {
  switch (config.transport) {
    case 'stdio':
      return connectStdio(name, config, handlers, options);
    case 'http':
      return connectStreamableHttp(name, config, handlers, options);
    case 'sse':
      return connectSse(name, config, handlers, options);
  }
}
