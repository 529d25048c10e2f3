/**
 * The `audit` config keys (issue 4, src/observe/audit.ts): where the audit log goes, how durable an answered call's
 * record is (`jsonl.fsync`), rotation and retention, the SQLite index, which methods are recorded.
 */
import { z } from 'zod';

const int = (min: number) => z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(min));
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const SIZE = 'a size like 67108864, 64mb or 1gb';
/** Bytes, or a string with a unit (kb, mb, gb; powers of 1024). */
const size = z.union([z.number().int().positive(), z.string().regex(/^\d+\s*(b|kb|mb|gb)?$/i, SIZE)], { error: SIZE })
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = /^(\d+)\s*([a-z]*)$/i.exec(v)!;
    return Number(m[1]) * ({ '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
  });

const DURATION = 'a duration like 200ms, 1s or 1m';
const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m)$/, DURATION)], { error: DURATION })
  .transform((v) => (typeof v === 'number' ? v : Number(v.replace(/\D+$/, '')) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[v.replace(/^\d+/, '') as 'ms' | 's' | 'm']));

/** Methods that can be audited: the ones that act on or read from an upstream on a client's behalf. */
export const AUDITABLE_METHODS = ['tools/call', 'prompts/get', 'resources/read'] as const;

export const auditConfigSchema = z.strictObject({
  /** Record every call of `methods` and every denial of one. */
  enabled: flag.default(true),
  /** jsonl: the JSONL files (and the SQLite index) below; postgres: one table in store.postgres, shared by every replica. */
  store: z.enum(['jsonl', 'postgres']).default('jsonl'),
  jsonl: z.strictObject({
    /**
     * Base path: files are `<stem>.<YYYY-MM-DD>.<NNNN><ext>` beside it (audit.2026-12-01.0000.jsonl). Default
     * `audit/audit.jsonl` in the directory of store.path (.gatehouse/audit/audit.jsonl), so all durable state sits together.
     */
    path: z.string().min(1).optional(),
    /**
     * always: a call is answered only after its record is fdatasync'ed (survives power loss); interval: after the
     * write() (survives a killed gateway; a power loss may lose up to `intervalMs`); never: after the write(), never synced.
     */
    fsync: z.enum(['always', 'interval', 'never']).default('always'),
    /** fsync `interval`: how often written records are synced. */
    intervalMs: duration.default(1_000),
    /** Start a new file past this size (a new file also starts each UTC day). */
    rotateBytes: size.default(64 * 1024 ** 2),
    /** Keep this many files, deleting the oldest; 0 keeps them all. */
    retainFiles: int(0).default(0),
  }).prefault({}),
  /** Index the records in the store file (store.path) for `gatehouse audit` queries; the JSONL stays the source of truth. */
  sqlite: flag.default(true),
  /** Which requests are recorded (denials of them included). */
  methods: z.array(z.enum(AUDITABLE_METHODS)).min(1).default([...AUDITABLE_METHODS]),
  /** Longest argument preview kept per record, in characters (after redaction). */
  previewChars: int(0).default(512),
  /**
   * Key the argument hash (HMAC-SHA-256) so that a guessable secret in the arguments cannot be confirmed by hashing
   * guesses. Use ${ENV} or ${file:…}. Without it the hash is plain SHA-256.
   */
  hashKey: z.string().min(16, 'at least 16 characters').optional(),
}).prefault({});

export type AuditConfig = z.output<typeof auditConfigSchema>;
