// Issue 4: the poisoning scanner on the corpus in test/fixtures/poisoning — detection >= 95%, false positives <= 2%,
// and every category detected. The held-out split was written after the detectors (see bench/scanner/corpus.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanDefinitions } from '../src/guard/scanner/index.ts';
import { CATEGORIES, contextTools, knownFor, loadCorpus } from './fixtures/poisoning/corpus.ts';

describe('poisoning corpus', async () => {
  const rows = loadCorpus();
  const tools = contextTools();
  const results = await Promise.all(rows.map(async (r) => ({ r, res: (await scanDefinitions([r.item], { knownTools: knownFor(r, tools) }))[0] })));
  const malicious = results.filter((x) => x.r.malicious);
  const benign = results.filter((x) => !x.r.malicious);

  it('is large enough and covers every category', () => {
    assert.ok(malicious.length >= 50, `${malicious.length} malicious`);
    assert.ok(benign.length >= 80, `${benign.length} benign`);
    for (const c of CATEGORIES) assert.ok(malicious.filter((x) => x.r.category === c).length >= 4, c);
  });

  it('detects at least 95% of the malicious definitions', () => {
    const missed = malicious.filter((x) => x.res.verdict === 'allow');
    assert.ok(1 - missed.length / malicious.length >= 0.95, `missed: ${missed.map((x) => x.r.id).join(', ')}`);
  });

  it('flags at most 2% of the benign definitions', () => {
    const flagged = benign.filter((x) => x.res.verdict !== 'allow');
    assert.ok(flagged.length / benign.length <= 0.02, `false positives: ${flagged.map((x) => `${x.r.id} ${x.res.findings.map((f) => f.rule).join('+')}`).join(', ')}`);
  });

  it('detects most of every category', () => {
    for (const c of CATEGORIES) {
      const inCat = malicious.filter((x) => x.r.category === c);
      const hit = inCat.filter((x) => x.res.verdict !== 'allow').length;
      assert.ok(hit / inCat.length >= 0.8, `${c}: ${hit}/${inCat.length}`);
    }
  });
});
