/**
 * Token accounting (issue 6): what a tools/list costs a model's context, in o200k tokens (gpt-tokenizer). A list's
 * size is the sum over its definitions, each counted once and remembered, so a list served again costs lookups only.
 * Definitions not seen before are counted off the request path, a few milliseconds at a time.
 */
import { createRequire } from 'node:module';
import type { JsonObject } from '../core/jsonrpc.ts';

type O200k = typeof import('gpt-tokenizer/encoding/o200k_base');
const require = createRequire(import.meta.url);
let encoding: O200k | null = null;

/** The o200k encoding, loaded on first use: its tables take about 70 MB that a gateway pays only once it counts. */
export function o200k(): O200k {
  return (encoding ??= require('gpt-tokenizer/encoding/o200k_base') as O200k);
}

/**
 * Tokens of the `{"tools":[` … `]}` around the definitions. The commas between them merge into their neighbours'
 * tokens (`},{`), so the sum of the parts is within a few tokens of tokenizing the whole answer.
 */
const ENVELOPE_TOKENS = 4;

/** Definitions remembered by their text (a rebuilt view has new objects for unchanged tools). */
const MAX_REMEMBERED = 50_000;
/** Longest stretch of counting before yielding to the event loop. */
const SLICE_MS = 4;

export class ToolTokenCounter {
  readonly #byObject = new WeakMap<JsonObject, number>();
  readonly #byText = new Map<string, number>();

  /** Tokens of one definition, counting it now if it was never seen. */
  countOne(tool: JsonObject): number {
    const known = this.#byObject.get(tool);
    if (known !== undefined) return known;
    const text = JSON.stringify(tool);
    let tokens = this.#byText.get(text);
    if (tokens === undefined) {
      tokens = o200k().countTokens(text);
      if (this.#byText.size >= MAX_REMEMBERED) this.#byText.delete(this.#byText.keys().next().value!);
      this.#byText.set(text, tokens);
    }
    this.#byObject.set(tool, tokens);
    return tokens;
  }

  /** The list's tokens if every definition is known already, else undefined. */
  tryCount(tools: readonly JsonObject[]): number | undefined {
    let sum = ENVELOPE_TOKENS;
    for (const tool of tools) {
      const known = this.#byObject.get(tool);
      if (known === undefined) return undefined;
      sum += known;
    }
    return sum;
  }

  /** The list's tokens: at once when every definition is known, otherwise after counting the rest in slices. */
  count(tools: readonly JsonObject[]): number | Promise<number> {
    return this.tryCount(tools) ?? this.#countInSlices(tools);
  }

  async #countInSlices(tools: readonly JsonObject[]): Promise<number> {
    let sum = ENVELOPE_TOKENS;
    let sliceStart = performance.now();
    for (const tool of tools) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      sum += this.countOne(tool);
    }
    return sum;
  }
}
