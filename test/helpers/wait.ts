/** Waiting on conditions rather than sleeping, and picking free ports, for tests that run real processes. */
import { createServer } from 'node:net';

/** Poll `check` until it holds: the loop ends as soon as it is true, and fails naming `what` after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A port nothing listens on right now (for a replica to come back on, or a connection to be refused). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
