/**
 * Audit records in memory: for tests and ad-hoc runs. Nothing survives the process.
 */
import type { AuditQuery, AuditRecord, AuditStore } from '../audit.ts';
import { matchesQuery, newestLast } from '../audit.ts';

/** A fresh, empty in-memory audit store. */
export function createMemoryAuditStore(): AuditStore {
  const records: AuditRecord[] = [];
  let closed = false;
  return {
    append(record) {
      if (closed) return Promise.reject(new Error('the audit store is closed'));
      records.push(structuredClone(record));
      return Promise.resolve();
    },
    query(q: AuditQuery) {
      return Promise.resolve(newestLast(records.filter((r) => matchesQuery(r, q)).map((r) => structuredClone(r)), q.limit));
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
