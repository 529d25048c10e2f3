// Generalisation bench (issue 4): the poisoning scanner and the result guard's injection detector on sets written
// independently of them. Per category it prints the detection (malicious/attacks) or false-positive (benign) rate,
// lists every miss and false positive, and ends with one JSON line of the rates. By default it measures the held-out
// pair (test/fixtures/*-unseen-8), which the directive-language model was never trained on.
//   node bench/scanner/unseen.ts [--poisoning <dir>] [--injection <dir>] [--weights <file>] [--quiet]
// --weights: a directive-language model trained apart (training/directive/train.ts --out … --exclude …) in place of
// the shipped one, to measure on a set its weights never saw.
// <poisoning dir>: malicious.jsonl, benign.jsonl — {"category", "tool"} per line; a tool is scanned as kind "tool"
// on its own (no other servers in context) and is flagged when its verdict is not "allow".
// <injection dir>: attacks.jsonl, benign.jsonl — {"category", "text"} per line; flagged when a finding at or above
// the result guard's default minSeverity (medium) is raised.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scanInjection } from '../../src/guard/injection.ts';
import { DirectiveModel, useDirectiveModel } from '../../src/guard/directive/model.ts';
import type { WeightsFile } from '../../src/guard/directive/model.ts';
import { scanDefinitions } from '../../src/guard/scanner/index.ts';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    poisoning: { type: 'string', default: join(FIXTURES, 'poisoning-unseen-8') },
    injection: { type: 'string', default: join(FIXTURES, 'injection-unseen-8') },
    weights: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
if (args.weights !== undefined) useDirectiveModel(DirectiveModel.fromFile(JSON.parse(readFileSync(args.weights, 'utf8')) as WeightsFile));

interface Scored {
  category: string;
  label: string;
  flagged: boolean;
  /** Held back outright (the scanner's quarantine verdict); a warned definition is flagged but still listed. */
  quarantined?: boolean;
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
    return { category: String(r.category), label: name, flagged: res.verdict !== 'allow', quarantined: res.verdict === 'quarantine', why: `${res.verdict} ${res.score} ${why}` };
  }));
}

function scoreTexts(path: string): Scored[] {
  return lines(path).map((r) => {
    const text = String(r.text);
    // What the result guard acts on by default: findings at or above its minSeverity (medium).
    const found = scanInjection(text).filter((f) => f.severity !== 'low');
    return { category: String(r.category), label: text.replace(/\s+/g, ' ').slice(0, 90), flagged: found.length > 0, why: found.map((f) => `${f.rule}/${f.severity}`).join(' ') };
  });
}

const pc = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Prints the per-category table and the misses (or false positives); returns the flagged share. */
function report(title: string, scored: readonly Scored[], malicious: boolean): number {
  const cats = [...new Set(scored.map((s) => s.category))];
  const rate = (xs: readonly Scored[]) => (xs.length === 0 ? 0 : xs.filter((x) => x.flagged).length / xs.length);
  const total = rate(scored);
  const held = scored.some((s) => s.quarantined !== undefined) ? `, ${pc(scored.filter((s) => s.quarantined).length / scored.length)} quarantined` : '';
  console.log(`${title}: ${scored.filter((s) => s.flagged).length}/${scored.length} flagged (${pc(total)} ${malicious ? 'detection' : 'false positives'}${held})`);
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

// Real servers' tools, when the tool-retrieval data set is beside the project: all are taken as benign.
const REAL = new URL('../../../shared/data/tool-retrieval/livemcpbench/tools.jsonl', import.meta.url).pathname;
let realFp: number | undefined;
if (existsSync(REAL)) {
  const rows = lines(REAL);
  const scored = await Promise.all(rows.map(async (r) => {
    const definition = { name: r.name, description: r.description, inputSchema: r.inputSchema };
    const [res] = await scanDefinitions([{ kind: 'tool', name: String(r.name), upstream: String(r.server), definition }]);
    return { category: 'real', label: `${String(r.server)}::${String(r.name)}`, flagged: res.verdict !== 'allow', quarantined: res.verdict === 'quarantine', why: res.findings.map((f) => `${f.rule}/${f.severity}: ${f.excerpt}`).join(' | ') };
  }));
  realFp = report(`scanner, ${rows.length} real tools (LiveMCPBench)`, scored, false);
}

const round = (x: number) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({ scanner_detection: round(scannerDetection), scanner_fp: round(scannerFp), injection_detection: round(injectionDetection), injection_fp: round(injectionFp), ...(realFp !== undefined && { real_tools_fp: round(realFp) }) }));
