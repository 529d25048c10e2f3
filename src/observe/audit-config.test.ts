/**
 * The `audit` config keys: defaults, the spellings ${VAR} values arrive in, and that parsed output parses again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditConfigSchema } from './audit-config.ts';

describe('audit config', () => {
  it('defaults: on, in JSONL files with fsync always, SQLite index, the three upstream-facing methods', () => {
    assert.deepEqual(auditConfigSchema.parse(undefined), {
      enabled: true,
      store: 'jsonl',
      jsonl: { fsync: 'always', intervalMs: 1000, rotateBytes: 64 * 1024 * 1024, retainFiles: 0 },
      sqlite: true,
      methods: ['tools/call', 'prompts/get', 'resources/read'],
      previewChars: 512,
    });
  });

  it('takes sizes, durations and string spellings, and re-parses its own output', () => {
    const parsed = auditConfigSchema.parse({ enabled: 'false', jsonl: { fsync: 'interval', intervalMs: '250ms', rotateBytes: '16mb', retainFiles: '30' }, sqlite: 'false', previewChars: '128' });
    assert.deepEqual(parsed.jsonl, { fsync: 'interval', intervalMs: 250, rotateBytes: 16 * 1024 * 1024, retainFiles: 30 });
    assert.equal(parsed.enabled, false);
    assert.deepEqual(auditConfigSchema.parse(parsed), parsed);
  });

  it('refuses unknown keys, methods and policies', () => {
    assert.throws(() => auditConfigSchema.parse({ jsonl: { fsync: 'sometimes' } }));
    assert.throws(() => auditConfigSchema.parse({ methods: ['tools/list'] }));
    assert.throws(() => auditConfigSchema.parse({ jsonl: { rotateBytes: '10 parsecs' } }));
    assert.throws(() => auditConfigSchema.parse({ sqllite: true }));
    assert.throws(() => auditConfigSchema.parse({ hashKey: 'short' }));
  });
});
