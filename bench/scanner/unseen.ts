// Generalisation bench (issue 4): the poisoning scanner and the result guard's injection detector on sets written
// independently of them. Per category it prints the detection (malicious/attacks) or false-positive (benign) rate,
// lists every miss and false positive, and ends with one JSON line of the four rates.
//   node bench/scanner/unseen.ts [--poisoning <dir>] [--injection <dir>] [--quiet]
// <poisoning dir>: malicious.jsonl, benign.jsonl — {"category", "tool"} per line; a tool is scanned as kind "tool"
// on its own (no other servers in context) and is flagged when its verdict is not "allow".
// <injection dir>: attacks.jsonl, benign.jsonl — {"category", "text"} per line; flagged when any finding is raised.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scanInjection } from '../../src/guard/injection.ts';
import { scanDefinitions } from '../../src/guard/scanner/index.ts';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    poisoning: { type: 'string', default: join(FIXTURES, 'poisoning-unseen') },
    injection: { type: 'string', default: join(FIXTURES, 'injection-unseen') },
    quiet: { type: 'boolean', default: false },
  },
});

interface Scored {
  category: string;
  label: string;
  flagged: boolean;
  why: string;
}

function lines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function scoreTools(path: string): Promise<Scored[]> {
  const rows = lines(path);
  return Promise.all(rows.map(async (r) => {
    const tool = r.tool as Record<string, unknown>;
    const name = String(tool.name ?? '');
    const [res] = await scanDefinitions([{ kind: 'tool', name, upstream: 'unseen', definition: tool }]);
    const why = res.findings.map((f) => `${f.rule}/${f.severity}@${f.path}`).join(' ');
    return { category: String(r.category), label: name, flagged: res.verdict !== 'allow', why: `${res.verdict} ${res.score} ${why}` };
  }));
}

function scoreTexts(path: string): Scored[] {
  return lines(path).map((r) => {
    const text = String(r.text);
    const found = scanInjection(text);
    return { category: String(r.category), label: text.replace(/\s+/g, ' ').slice(0, 90), flagged: found.length > 0, why: found.map((f) => `${f.rule}/${f.severity}`).join(' ') };
  });
}

const pc = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Prints the per-category table and the misses (or false positives); returns the flagged share. */
function report(title: string, scored: readonly Scored[], malicious: boolean): number {
  const cats = [...new Set(scored.map((s) => s.category))];
  const rate = (xs: readonly Scored[]) => (xs.length === 0 ? 0 : xs.filter((x) => x.flagged).length / xs.length);
  const total = rate(scored);
  console.log(`${title}: ${scored.filter((s) => s.flagged).length}/${scored.length} flagged (${pc(total)} ${malicious ? 'detection' : 'false positives'})`);
  for (const c of cats) {
    const inCat = scored.filter((s) => s.category === c);
    console.log(`  ${c.padEnd(24)} ${String(inCat.length).padStart(3)}  ${pc(rate(inCat)).padStart(6)}`);
  }
  if (!args.quiet) {
    for (const s of scored.filter((x) => x.flagged !== malicious)) console.log(`    ${malicious ? 'missed' : 'false positive'} [${s.category}] ${s.label}${s.why ? `  — ${s.why}` : ''}`);
  }
  return total;
}

const scannerDetection = report('scanner, malicious', await scoreTools(join(args.poisoning, 'malicious.jsonl')), true);
const scannerFp = report('scanner, benign', await scoreTools(join(args.poisoning, 'benign.jsonl')), false);
const injectionDetection = report('injection, attacks', scoreTexts(join(args.injection, 'attacks.jsonl')), true);
const injectionFp = report('injection, benign', scoreTexts(join(args.injection, 'benign.jsonl')), false);

const round = (x: number) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({ scanner_detection: round(scannerDetection), scanner_fp: round(scannerFp), injection_detection: round(injectionDetection), injection_fp: round(injectionFp) }));
