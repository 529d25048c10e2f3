// Scanner bench (issue 4): precision and recall of the poisoning scanner on the corpus in test/fixtures/poisoning,
// per category (recall) and per detector family (precision), by split, and the per-definition scan time.
//   node bench/scanner/corpus.ts [--split dev|heldout|all] [--rounds N]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scanDefinitions } from '../../src/guard/scanner/index.ts';
import type { ScanResult } from '../../src/guard/scanner/index.ts';
import { CATEGORIES, contextTools, knownFor, loadCorpus } from '../../test/fixtures/poisoning/corpus.ts';

const { values: args } = parseArgs({ options: { split: { type: 'string', default: 'all' }, rounds: { type: 'string', default: '20' } } });
const rows = loadCorpus().filter((r) => args.split === 'all' || r.split === args.split);
const tools = contextTools();

/** Which finding families speak for which category (a family's precision is over every definition it flags). */
const FAMILY: Record<string, string> = { hidden: 'hidden-instructions', exfil: 'exfiltration', shadow: 'shadowing', invisible: 'invisible-text', deceptive: 'invisible-text', encoded: 'encoded', comments: 'comments', size: 'size' };
const WARN_OR_WORSE = new Set(['medium', 'high', 'critical']);

const results: ScanResult[] = [];
for (const r of rows) results.push((await scanDefinitions([r.item], { knownTools: knownFor(r, tools) }))[0]);

const flagged = (res: ScanResult) => res.verdict !== 'allow';
const malicious = rows.map((r, i) => ({ r, res: results[i] })).filter((x) => x.r.malicious);
const benign = rows.map((r, i) => ({ r, res: results[i] })).filter((x) => !x.r.malicious);
const tp = malicious.filter((x) => flagged(x.res)).length;
const fp = benign.filter((x) => flagged(x.res)).length;
const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
const recall = malicious.length === 0 ? 1 : tp / malicious.length;

const perCategory: Record<string, { n: number; recall: number; quarantined: number; precision: number }> = {};
for (const c of CATEGORIES) {
  const inCat = malicious.filter((x) => x.r.category === c);
  // Definitions on which this category's families raised a finding of warn level or worse.
  const fired = rows.map((r, i) => ({ r, res: results[i] })).filter((x) => x.res.findings.some((f) => FAMILY[f.rule.split('.')[0]] === c && WARN_OR_WORSE.has(f.severity)));
  perCategory[c] = {
    n: inCat.length,
    recall: inCat.length === 0 ? 1 : inCat.filter((x) => flagged(x.res)).length / inCat.length,
    quarantined: inCat.length === 0 ? 1 : inCat.filter((x) => x.res.verdict === 'quarantine').length / inCat.length,
    precision: fired.length === 0 ? 1 : fired.filter((x) => x.r.malicious).length / fired.length,
  };
}

// Timing: every definition alone, many rounds after a warm-up, so one slow definition shows in p99.
const rounds = Number(args.rounds);
const times: number[] = [];
for (let round = -2; round < rounds; round++) {
  for (const r of rows) {
    const known = knownFor(r, tools);
    const t0 = performance.now();
    await scanDefinitions([r.item], { knownTools: known });
    if (round >= 0) times.push((performance.now() - t0) * 1000);
  }
}
times.sort((a, b) => a - b);
const pct = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]);

const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(`scanner corpus (${args.split}): ${malicious.length} malicious, ${benign.length} benign`);
console.log(`detection ${tp}/${malicious.length} (${pc(recall)}), false positives ${fp}/${benign.length} (${pc(benign.length ? fp / benign.length : 0)}), precision ${pc(precision)}`);
console.log('category              n   recall  quarantined  family-precision');
for (const [c, v] of Object.entries(perCategory)) console.log(`${c.padEnd(20)} ${String(v.n).padStart(3)}  ${pc(v.recall).padStart(7)}  ${pc(v.quarantined).padStart(11)}  ${pc(v.precision).padStart(16)}`);
for (const x of [...malicious, ...benign].filter((x) => flagged(x.res) !== x.r.malicious)) console.log(`  ${x.r.malicious ? 'missed' : 'false positive'}: ${x.r.id} ${x.r.item.name} (${x.res.verdict})`);
console.log(`scan time per definition: p50 ${pct(0.5)} µs, p99 ${pct(0.99)} µs (${times.length} scans)`);
console.log(JSON.stringify({ bench: 'scanner', split: args.split, precision, recall, false_positive_rate: benign.length ? fp / benign.length : 0, per_category: perCategory, scan_us_p50: pct(0.5), scan_us_p99: pct(0.99) }));
