/**
 * The directive-language model (issue 4): a logistic regression over sentence features (./features.ts) that scores
 * how likely one sentence is aimed at the AI model to manipulate it — hide things from the user, send data away,
 * override its instructions, change how another tool is used — rather than describing a tool or informing a reader.
 * The poisoning scanner and the result guard share it. Weights are trained by training/directive/train.ts from the
 * data beside it and stored as an 8-bit table in ./weights.json; scoring is a sum of table entries, a few
 * microseconds per sentence, with no model runtime.
 */
import { FEATURE_SLOTS, sentenceFeatures } from './features.ts';
import { sentenceSpans } from './sentences.ts';
import type { Span } from './sentences.ts';
import shippedWeights from './weights.json' with { type: 'json' };

/** The weights file: int8 weights (base64) times `scale`. */
export interface WeightsFile {
  readonly format: 'gatehouse-directive/1';
  readonly slots: number;
  readonly scale: number;
  readonly weights: string;
  /** What it was trained on, for the record (counts of sentences and definitions). */
  readonly trainedOn?: Readonly<Record<string, number>>;
}

/** One scored sentence of a text. */
export interface ScoredSentence {
  readonly start: number;
  readonly end: number;
  /** Probability (0–1) that the sentence is directive language aimed at the model. */
  readonly score: number;
}

export class DirectiveModel {
  readonly #weights: Float32Array;

  constructor(weights: Float32Array) {
    if (weights.length !== FEATURE_SLOTS) throw new Error(`directive model: expected ${FEATURE_SLOTS} weights, got ${weights.length}`);
    this.#weights = weights;
  }

  static fromFile(file: WeightsFile): DirectiveModel {
    if (file.format !== 'gatehouse-directive/1' || file.slots !== FEATURE_SLOTS) throw new Error(`directive model: unsupported weights (format ${file.format}, ${file.slots} slots)`);
    const q = new Int8Array(Buffer.from(file.weights, 'base64').buffer.slice(0));
    const w = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) w[i] = q[i] * file.scale;
    return new DirectiveModel(w);
  }

  /** The probability that `sentence` is directive language; 0 when it has no features (./features.ts: fewer than two
   *  words, or none of a class an order names). */
  score(sentence: string): number {
    const features = sentenceFeatures(sentence);
    if (features.length === 0) return 0;
    let z = 0;
    for (const i of features) z += this.#weights[i];
    return 1 / (1 + Math.exp(-z));
  }

  /** Every sentence of `text` scoring at least `min`, with its span; `spans` when the caller has split it already. */
  sentencesOver(text: string, min: number, spans: readonly Span[] = sentenceSpans(text)): ScoredSentence[] {
    const out: ScoredSentence[] = [];
    for (const [start, end] of spans) {
      const score = this.score(text.slice(start, end));
      if (score >= min) out.push({ start, end, score });
    }
    return out;
  }
}

/** Packs trained weights into the file format (the trainer's half of `fromFile`). */
export function packWeights(weights: Float32Array, trainedOn?: Record<string, number>): WeightsFile {
  let max = 0;
  for (const w of weights) max = Math.max(max, Math.abs(w));
  const scale = max / 127 || 1;
  const q = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) q[i] = Math.round(weights[i] / scale);
  return { format: 'gatehouse-directive/1', slots: weights.length, scale, weights: Buffer.from(q.buffer).toString('base64'), ...(trainedOn && { trainedOn }) };
}

let shared: DirectiveModel | undefined;

/** The model shipped with Gatehouse (./weights.json), unpacked on first use. */
export function directiveModel(): DirectiveModel {
  shared ??= DirectiveModel.fromFile(shippedWeights as WeightsFile);
  return shared;
}

/** Replaces the shared model: for measuring freshly trained weights (bench/scanner/unseen.ts --weights). */
export function useDirectiveModel(model: DirectiveModel): void {
  shared = model;
}
