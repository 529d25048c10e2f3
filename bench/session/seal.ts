/**
 * The cost of sealed session ids (src/session/seal.ts): microseconds per seal and per open of a typical session's
 * state, with a JSON.stringify/parse round trip of the same state as the in-run baseline (what any stateless design
 * pays anyway). Rounds interleave the three and the medians are reported.
 *
 * Run: node bench/session/seal.ts   (ends with one JSON line: seal_us, open_us, seal_open_us)
 * `npm run bench` calls `measureSeal()` in its own process for its `seal_open_us` figure.
 */
import { randomBytes } from 'node:crypto';
import { SessionSealer } from '../../src/session/seal.ts';

export interface SealFigures {
  bench: 'session-seal';
  token_chars: number;
  seal_us: number;
  open_us: number;
  seal_open_us: number;
  json_roundtrip_us: number;
}

/** The state a typical session seals: an OAuth principal, a virtual server, the revision, the client's info. */
const state = {
  principal: 'oauth:https://login.example.com/realms/acme#248289761001',
  virtualServer: 'support',
  revision: '2025-11-25',
  clientInfo: { name: 'claude-ai', version: '0.1.0' },
  clientCapabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Medians over `rounds` of the µs per seal, per open and per JSON round trip, each timed over `n` repetitions. */
export function measureSeal(rounds = 9, n = 20_000): SealFigures {
  const sealer = new SessionSealer([{ id: 'k1', secret: randomBytes(32) }, { id: 'k0', secret: randomBytes(32) }], 86_400_000);
  const token = sealer.seal(state);
  const time = (work: () => void): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) work();
    return Number(process.hrtime.bigint() - start) / 1000 / n;
  };
  const seal: number[] = [];
  const open: number[] = [];
  const json: number[] = [];
  time(() => sealer.open(sealer.seal(state))); // warm up
  for (let r = 0; r < rounds; r++) {
    seal.push(time(() => sealer.seal(state)));
    open.push(time(() => sealer.open(token)));
    json.push(time(() => JSON.parse(JSON.stringify(state))));
  }
  return {
    bench: 'session-seal',
    token_chars: token.length,
    seal_us: +median(seal).toFixed(2),
    open_us: +median(open).toFixed(2),
    seal_open_us: +(median(seal) + median(open)).toFixed(2),
    json_roundtrip_us: +median(json).toFixed(2),
  };
}

if (import.meta.main) {
  const figures = measureSeal();
  console.log(`session id: ${figures.token_chars} characters`);
  console.log(`seal ${figures.seal_us} µs, open ${figures.open_us} µs (goal: < 50 µs each); JSON round trip of the same state ${figures.json_roundtrip_us} µs`);
  console.log(JSON.stringify(figures));
}
