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

const refusals = new WeakSet<object>();

/**
 * Mark `err` as the upstream's refusal of this request (an HTTP 4xx such as 401, 403 or 400): the replica is alive
 * and answered, so the failure says nothing about its health and another replica would answer the same.
 * 408 and 429 are not refusals of the request but signs of a struggling replica, and stay failures.
 */
export function refusedWith<E extends Error>(err: E, status: number): E {
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) refusals.add(err);
  return err;
}

/** True when `err` is an upstream's answer refusing the request (see `refusedWith`). */
export function refusedByUpstream(err: unknown): boolean {
  return typeof err === 'object' && err !== null && refusals.has(err);
}
