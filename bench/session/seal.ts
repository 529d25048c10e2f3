/**
 * The cost of sealed session ids (src/session/seal.ts): microseconds per seal and per open of a typical session's
 * state, with a JSON.stringify/parse round trip of the same state as the in-run baseline (what any stateless design
 * pays anyway). Rounds interleave the three and the medians are reported.
 *
 * Run: node bench/session/seal.ts   (ends with one JSON line: seal_us, open_us, seal_open_us)
 */
import { randomBytes } from 'node:crypto';
import { SessionSealer } from '../../src/session/seal.ts';

const ROUNDS = 9;
const N = 20_000;
const state = {
  principal: 'oauth:https://login.example.com/realms/acme#248289761001',
  virtualServer: 'support',
  revision: '2025-11-25',
  clientInfo: { name: 'claude-ai', version: '0.1.0' },
  clientCapabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } },
};
const sealer = new SessionSealer([{ id: 'k1', secret: randomBytes(32) }, { id: 'k0', secret: randomBytes(32) }], 86_400_000);
const token = sealer.seal(state);

function time(work: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) work();
  return Number(process.hrtime.bigint() - start) / 1000 / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seal: number[] = [];
const open: number[] = [];
const json: number[] = [];
time(() => sealer.open(sealer.seal(state))); // warm up
for (let r = 0; r < ROUNDS; r++) {
  seal.push(time(() => sealer.seal(state)));
  open.push(time(() => sealer.open(token)));
  json.push(time(() => JSON.parse(JSON.stringify(state))));
}
const figures = {
  bench: 'session-seal',
  token_chars: token.length,
  seal_us: +median(seal).toFixed(2),
  open_us: +median(open).toFixed(2),
  seal_open_us: +(median(seal) + median(open)).toFixed(2),
  json_roundtrip_us: +median(json).toFixed(2),
};
console.log(`session id: ${figures.token_chars} characters`);
console.log(`seal ${figures.seal_us} µs, open ${figures.open_us} µs (goal: < 50 µs each); JSON round trip of the same state ${figures.json_roundtrip_us} µs`);
console.log(JSON.stringify(figures));
