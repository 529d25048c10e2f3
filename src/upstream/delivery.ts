/**
 * Whether a failed request can have reached the upstream. Only a request proven undelivered (the connection was
 * refused, the connection was already closed, the pool had no replica to send it to) may be sent again when it is
 * not safe to repeat: the failover in src/catalog/router.ts asks `undelivered(err)` before it retries a tools/call.
 * A mark on the error object, so every transport can set it where it knows, without a field in the error data.
 */
const marked = new WeakSet<object>();

/** Mark `err` as raised before anything of the request was written to the upstream. */
export function notDelivered<E extends Error>(err: E): E {
  marked.add(err);
  return err;
}

/** True when the request that failed with `err` never reached the upstream. */
export function undelivered(err: unknown): boolean {
  return typeof err === 'object' && err !== null && marked.has(err);
}

/** Socket-level causes that mean the request was never written: nothing listened, or no route to it. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** An undici error that happened while connecting, before the request went out. */
export function failedToConnect(err: Error): boolean {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code !== undefined && NOT_CONNECTED.has(code)) return true;
  return err instanceof AggregateError && err.errors.length > 0 && err.errors.every((x) => x instanceof Error && failedToConnect(x));
}
