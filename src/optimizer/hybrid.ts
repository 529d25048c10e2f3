// Lexical plus semantic ranking (issue 6): BM25 (Ranker) and cosine over embeddings (EmbeddingRanker), fused by
// weighted reciprocal rank fusion. Both indexes follow the catalog one upstream at a time, like each ranker alone.
import type { EmbeddingRanker } from './embedder.ts';
import { type CatalogTool, type Ranked, type Ranker, reciprocalRankFusion, RRF_K } from './ranker.ts';

export interface HybridRankerOptions {
  /**
   * How deep each list goes into the fusion. Shallow lists keep the embeddings from lifting tools that BM25 did not
   * rank near the top at all: on LiveMCPBench with USE, 15–25 was a plateau, 50 lost 3–4 points on both query sets.
   */
  depth?: number;
  /** Weights of the BM25 and the embedding list. BM25 is the sharper ranker with a small offline model. */
  weights?: readonly [number, number];
  /** RRF constant. */
  k?: number;
}

export class HybridRanker {
  readonly lexical: Ranker;
  readonly semantic: EmbeddingRanker;
  readonly #depth: number;
  readonly #weights: readonly [number, number];
  readonly #k: number;

  constructor(lexical: Ranker, semantic: EmbeddingRanker, options: HybridRankerOptions = {}) {
    this.lexical = lexical;
    this.semantic = semantic;
    this.#depth = options.depth ?? 20;
    this.#weights = options.weights ?? [1, 0.5];
    this.#k = options.k ?? RRF_K;
  }

  get size(): number {
    return this.lexical.size;
  }

  /** Replaces one upstream's tools in both indexes; the lexical one changes only once the vectors are in. */
  async setUpstream(upstream: string, tools: readonly CatalogTool[]): Promise<void> {
    await this.semantic.setUpstream(upstream, tools);
    this.lexical.setUpstream(upstream, tools);
  }

  removeUpstream(upstream: string): void {
    this.lexical.removeUpstream(upstream);
    this.semantic.removeUpstream(upstream);
  }

  async search(query: string, limit: number): Promise<Ranked[]> {
    const depth = Math.max(limit, this.#depth);
    const [semantic, lexical] = [this.semantic.search(query, depth), this.lexical.search(query, depth)];
    return reciprocalRankFusion([lexical, await semantic], limit, { k: this.#k, weights: this.#weights });
  }
}
