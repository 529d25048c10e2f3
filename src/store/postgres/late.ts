/**
 * Stores whose PostgreSQL connection is made at start (async) for objects the gateway builds in its constructor:
 * each forwards to its target once `bind` gave it one. Nothing is served before start has bound them.
 */
import type { AdminChangeStore } from '../admin-changes.ts';
import type { AuditStore } from '../audit.ts';

export class LateAuditStore implements AuditStore {
  private target: AuditStore | null = null;

  bind(target: AuditStore): void {
    this.target = target;
  }

  private get store(): AuditStore {
    if (this.target === null) throw new Error('the PostgreSQL audit store is not connected yet (the gateway has not started)');
    return this.target;
  }

  append(...args: Parameters<AuditStore['append']>) {
    return this.store.append(...args);
  }

  query(...args: Parameters<AuditStore['query']>) {
    return this.store.query(...args);
  }

  close(): Promise<void> {
    return this.target?.close() ?? Promise.resolve();
  }
}

export class LateAdminChangeStore implements AdminChangeStore {
  private target: AdminChangeStore | null = null;

  bind(target: AdminChangeStore): void {
    this.target = target;
  }

  private get store(): AdminChangeStore {
    if (this.target === null) throw new Error('the PostgreSQL admin store is not connected yet (the gateway has not started)');
    return this.target;
  }

  list() {
    return this.store.list();
  }

  put(...args: Parameters<AdminChangeStore['put']>) {
    return this.store.put(...args);
  }

  remove(...args: Parameters<AdminChangeStore['remove']>) {
    return this.store.remove(...args);
  }

  close(): Promise<void> {
    return this.target?.close() ?? Promise.resolve();
  }
}
