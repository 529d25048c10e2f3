import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MAX_SESSION_ID_LENGTH, SessionSealer } from './seal.ts';

const state = { principal: 'key:abc', virtualServer: 'ops', revision: '2025-11-25', clientInfo: { name: 'claude', version: '1.0' }, clientCapabilities: { sampling: {}, elicitation: { url: {} } } };
const DAY = 86_400_000;

describe('sealed session ids', () => {
  const k1 = { id: 'k1', secret: randomBytes(32) };
  const k2 = { id: 'k2', secret: randomBytes(32) };

  it('round-trips the state; ids are unique, visible ASCII and bounded', () => {
    const sealer = new SessionSealer([k1], DAY);
    const a = sealer.seal(state);
    const b = sealer.seal(state);
    assert.notEqual(a, b);
    assert.match(a, /^g1\.k1\.[A-Za-z0-9_-]+$/);
    assert.ok(a.length < 400, `${a.length} characters`);
    const opened = sealer.open(a)!;
    assert.equal(opened.principal, 'key:abc');
    assert.deepEqual(opened.clientCapabilities, state.clientCapabilities);
    assert.notEqual(opened.nonce, sealer.open(b)!.nonce);
  });

  it('refuses forged, tampered, foreign and expired ids', () => {
    const sealer = new SessionSealer([k1], DAY);
    const id = sealer.seal(state, 1_000_000_000_000);
    assert.equal(sealer.open(id, 1_000_000_000_000 + DAY - 1000)?.principal, 'key:abc');
    assert.equal(sealer.open(id, 1_000_000_000_000 + DAY + 1000), null, 'expired');
    const fresh = sealer.seal(state);
    const body = fresh.slice(6);
    const flipped = `g1.k1.${body.slice(0, 20)}${body[20] === 'A' ? 'B' : 'A'}${body.slice(21)}`;
    assert.equal(sealer.open(flipped), null, 'tampered');
    assert.equal(sealer.open(fresh.replace('g1.k1.', 'g1.k2.')), null, 'key id swapped');
    assert.equal(new SessionSealer([k2], DAY).open(fresh), null, 'sealed with another key');
    assert.equal(sealer.open('7f3b2c0e9a1d4e5f'), null, 'a random id');
    assert.equal(sealer.open(`g1.k1.${'A'.repeat(MAX_SESSION_ID_LENGTH)}`), null, 'oversized');
  });

  it('rotates: the first key seals, every listed key opens', () => {
    const old = new SessionSealer([k1], DAY).seal(state);
    const rotated = new SessionSealer([k2, k1], DAY);
    assert.equal(rotated.open(old)?.virtualServer, 'ops');
    assert.match(rotated.seal(state), /^g1\.k2\./);
    assert.equal(new SessionSealer([k2], DAY).open(old), null, 'once the old key is dropped, its ids are refused');
  });

  it('keeps oversized client capabilities to their top-level keys', () => {
    const sealer = new SessionSealer([k1], DAY);
    const big = { ...state, clientCapabilities: { sampling: {}, experimental: { blob: 'x'.repeat(10_000) } } };
    const id = sealer.seal(big);
    assert.ok(id.length < 600);
    assert.deepEqual(sealer.open(id)!.clientCapabilities, { sampling: {}, experimental: {} });
  });

  it('checks its keys', () => {
    assert.throws(() => new SessionSealer([{ id: 'k', secret: randomBytes(16) }], DAY), /32 bytes/);
    assert.throws(() => new SessionSealer([{ id: 'no spaces', secret: randomBytes(32) }], DAY), /letters/);
    assert.throws(() => new SessionSealer([], DAY), /at least one/);
  });
});
