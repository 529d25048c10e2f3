/**
 * A store whose PostgreSQL connection is made at start (async), for the objects the gateway builds in its
 * constructor: `store` forwards every method to the target `bind` gives it. Nothing is served before start has
 * bound it; `close` before that is a no-op.
 */
export function lateBound<T extends { close(): Promise<void> }>(what: string): { store: T; bind(target: T): void } {
  let target: T | null = null;
  const store = new Proxy({} as T, {
    get(_, prop) {
      if (target === null) {
        if (prop === 'close') return () => Promise.resolve();
        throw new Error(`the PostgreSQL ${what} is not connected yet (the gateway has not started)`);
      }
      const value = (target as Record<string | symbol, unknown>)[prop];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, bind: (t) => void (target = t) };
}
