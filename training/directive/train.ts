// Trains the directive-language model (src/guard/directive/) and writes its weights file.
//   node training/directive/train.ts [--out FILE] [--exclude NAME]... [--no-readmes] [--quiet]
// Data:
// - labelled sentences: training/directive/*.jsonl, {"label": 0|1, "text"} per line;
// - labelled definitions and results: the fixture sets named in SETS below, whose labels are per definition (or
//   per result), not per sentence. Their benign sentences are negatives. Of a malicious one, the sentences that
//   carry the attack are not marked, so they are chosen by the model itself (multiple-instance learning): each round
//   takes the sentences the model scores over 0.5 as positives, and retrains;
// - ordinary prose as negatives: the README files of the installed packages (--no-readmes leaves them out).
// A set held out for measurement is never named here (test/fixtures/*-unseen-8); `--exclude` drops more, e.g. to
// measure on a set with weights that never saw it.
// Deterministic: the same data gives the same weights.
import { globSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_SLOTS, sentenceFeatures } from '../../src/guard/directive/features.ts';
import { packWeights } from '../../src/guard/directive/model.ts';
import { sentenceSpans } from '../../src/guard/directive/sentences.ts';
import { textFields } from '../../src/guard/scanner/text-fields.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const HERE = new URL('./', import.meta.url).pathname;

/** Fixture sets of whole definitions or results: [name, directory, malicious file, kind]. */
const SETS: readonly (readonly [string, string, string, 'definition' | 'text'])[] = [
  ['poisoning', 'test/fixtures/poisoning', 'malicious.jsonl', 'definition'],
  ['poisoning-unseen', 'test/fixtures/poisoning-unseen', 'malicious.jsonl', 'definition'],
  ['poisoning-unseen-2', 'test/fixtures/poisoning-unseen-2', 'malicious.jsonl', 'definition'],
  ['injection-unseen', 'test/fixtures/injection-unseen', 'attacks.jsonl', 'text'],
  ['injection-unseen-2', 'test/fixtures/injection-unseen-2', 'attacks.jsonl', 'text'],
  ['poisoning-unseen-3', 'test/fixtures/poisoning-unseen-3', 'malicious.jsonl', 'definition'],
  ['injection-unseen-3', 'test/fixtures/injection-unseen-3', 'attacks.jsonl', 'text'],
  ['poisoning-unseen-4', 'test/fixtures/poisoning-unseen-4', 'malicious.jsonl', 'definition'],
  ['injection-unseen-4', 'test/fixtures/injection-unseen-4', 'attacks.jsonl', 'text'],
  ['poisoning-unseen-5', 'test/fixtures/poisoning-unseen-5', 'malicious.jsonl', 'definition'],
  ['injection-unseen-5', 'test/fixtures/injection-unseen-5', 'attacks.jsonl', 'text'],
  ['poisoning-unseen-6', 'test/fixtures/poisoning-unseen-6', 'malicious.jsonl', 'definition'],
  ['injection-unseen-6', 'test/fixtures/injection-unseen-6', 'attacks.jsonl', 'text'],
  ['poisoning-unseen-7', 'test/fixtures/poisoning-unseen-7', 'malicious.jsonl', 'definition'],
  ['injection-unseen-7', 'test/fixtures/injection-unseen-7', 'attacks.jsonl', 'text'],
];

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'src/guard/directive/weights.json') },
    exclude: { type: 'string', multiple: true, default: [] },
    'no-readmes': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const EPOCHS = 12;
const LEARNING_RATE = 0.1;
const L2 = 1e-5;
const ROUNDS = 3;
/** Fits averaged in the last round (see fitAveraged). */
const FITS = 5;
/** How much one labelled sentence counts against one sentence of a fixture set (fewer, but closer to real). */
const FIXTURE_WEIGHT = 3;
const README_WEIGHT = 0.5;

interface Bag {
  readonly malicious: boolean;
  readonly sentences: readonly number[][];
}

function jsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function sentencesOf(text: string): number[][] {
  return sentenceSpans(text).map(([s, e]) => sentenceFeatures(text.slice(s, e))).filter((x) => x.length > 0);
}

/** The prose of a definition a model reads: every text field but names. */
function definitionSentences(definition: unknown): number[][] {
  return textFields(definition).filter((f) => f.role !== 'name').flatMap((f) => sentencesOf(f.text));
}

const labelled: { x: number[]; y: number; weight: number }[] = [];
for (const file of readdirSync(HERE).filter((f) => f.endsWith('.jsonl')).sort()) {
  if (args.exclude.includes(file)) continue;
  for (const row of jsonLines(join(HERE, file))) {
    // A snippet of a few sentences is labelled as a whole; the model scores sentences, so it learns from each.
    for (const x of sentencesOf(String(row.text))) labelled.push({ x, y: Number(row.label) === 1 ? 1 : 0, weight: 1 });
  }
}

// Ordinary prose, addressed to a reader much as tool docs are: the README files of the installed packages (not in
// the repository; read where `npm ci` put them). Code blocks and markup are dropped; each counts half a sentence.
// Packages installed only on some platforms (native binaries: an `os` or `cpu` field) are left out, so the weights
// come out the same on every machine.
function platformSpecific(packageJson: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as { os?: unknown; cpu?: unknown };
    return manifest.os !== undefined || manifest.cpu !== undefined;
  } catch {
    return false;
  }
}

if (!args['no-readmes']) {
  for (const path of globSync('node_modules/{*,@*/*}/README.md', { cwd: ROOT }).sort()) {
    if (platformSpecific(join(ROOT, dirname(path), 'package.json'))) continue;
    const text = readFileSync(join(ROOT, path), 'utf8').replace(/```[\s\S]*?```/g, ' ').replace(/<[^>]+>/g, ' ');
    for (const [s, e] of sentenceSpans(text)) {
      const sentence = text.slice(s, e);
      if (sentence.length < 25 || /[{}=;]{2}/.test(sentence)) continue; // fragments and code
      const x = sentenceFeatures(sentence);
      if (x.length > 0) labelled.push({ x, y: 0, weight: README_WEIGHT });
    }
  }
}
const bags: Bag[] = [];
for (const [name, dir, maliciousFile, kind] of SETS) {
  if (args.exclude.includes(name)) continue;
  for (const [file, malicious] of [[maliciousFile, true], ['benign.jsonl', false]] as const) {
    for (const row of jsonLines(join(ROOT, dir, file))) {
      const sentences = kind === 'text' ? sentencesOf(String(row.text)) : definitionSentences(row.tool ?? row.definition);
      if (sentences.length > 0) bags.push({ malicious, sentences });
    }
  }
}

// A small deterministic generator, so shuffles repeat.
let seed = 0x5eed;
function random(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

function score(w: Float32Array, x: readonly number[]): number {
  let z = 0;
  for (const i of x) z += w[i];
  return 1 / (1 + Math.exp(-z));
}

/** Logistic regression by stochastic gradient descent with L2, over sparse binary features. */
function fit(examples: readonly { x: number[]; y: number; weight: number }[]): Float32Array {
  const w = new Float32Array(FEATURE_SLOTS);
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const rate = LEARNING_RATE / (1 + epoch * 0.3);
    for (const k of order) {
      const { x, y, weight } = examples[k];
      const g = (score(w, x) - y) * weight;
      for (const i of x) w[i] -= rate * (g + L2 * w[i]);
    }
  }
  return w;
}

/** The examples of the fixture bags under the current model: benign sentences all, malicious ones chosen. */
function bagExamples(w: Float32Array | null): { x: number[]; y: number; weight: number }[] {
  const out: { x: number[]; y: number; weight: number }[] = [];
  for (const bag of bags) {
    if (!bag.malicious) {
      for (const x of bag.sentences) out.push({ x, y: 0, weight: FIXTURE_WEIGHT });
      continue;
    }
    if (w === null) continue; // the first round learns from labelled sentences alone
    // Only sentences the model already leans toward: a definition whose attack is not in its prose (invisible
    // characters, size, an encoded payload) would otherwise teach that its honest description is an order.
    const chosen = bag.sentences.filter((x) => score(w, x) > 0.5);
    for (const x of chosen) out.push({ x, y: 1, weight: FIXTURE_WEIGHT * 2 / chosen.length });
  }
  return out;
}

/**
 * The mean of several fits, each over its own shuffles. One fit depends on the order it saw the examples in:
 * adding or removing one sentence reshuffles everything and moves single scores by tenths. The mean does not.
 */
function fitAveraged(examples: readonly { x: number[]; y: number; weight: number }[]): Float32Array {
  const mean = new Float32Array(FEATURE_SLOTS);
  for (let run = 0; run < FITS; run++) {
    const w = fit(examples);
    for (let i = 0; i < FEATURE_SLOTS; i++) mean[i] += w[i] / FITS;
  }
  return mean;
}

let weights: Float32Array | null = null;
for (let round = 0; round < ROUNDS; round++) {
  weights = round === ROUNDS - 1 ? fitAveraged([...labelled, ...bagExamples(weights)]) : fit([...labelled, ...bagExamples(weights)]);
  if (!args.quiet) {
    const flagged = (malicious: boolean) => bags.filter((b) => b.malicious === malicious && Math.max(...b.sentences.map((x) => score(weights!, x))) >= 0.5).length;
    console.log(`round ${round + 1}: training bags flagged — malicious ${flagged(true)}/${bags.filter((b) => b.malicious).length}, benign ${flagged(false)}/${bags.filter((b) => !b.malicious).length}`);
  }
}

const trainedOn = { sentences: labelled.length, positiveSentences: labelled.filter((l) => l.y === 1).length, definitionsAndResults: bags.length };
writeFileSync(args.out, `${JSON.stringify(packWeights(weights!, trainedOn))}\n`);
console.log(`wrote ${args.out}: ${JSON.stringify(trainedOn)}`);
