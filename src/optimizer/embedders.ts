/**
 * The embedders of a gateway (issue 6): one per distinct `toolSearch.embedder` config, shared by every virtual server
 * and kept across config reloads, so a reload neither starts another model nor embeds the catalog again. Each
 * remembers vectors by text; the offline model runs on a worker thread (src/optimizer/embedder-thread.ts).
 */
import { HttpEmbedder } from './embedder.ts';
import type { Embedder } from './embedder.ts';
import { ThreadEmbedder } from './embedder-thread.ts';
import type { EmbedderConfig } from './config.ts';

/** Vectors kept by text per embedder: a catalog of 5,000 tools and its recent queries, several times over. */
const MAX_VECTORS = 50_000;

export class Embedders {
  readonly #byConfig = new Map<string, { embedder: Embedder; close(): Promise<void> }>();
  readonly #create: (config: EmbedderConfig) => Embedder & { close?(): Promise<void> };

  constructor(create: (config: EmbedderConfig) => Embedder & { close?(): Promise<void> } = defaultEmbedder) {
    this.#create = create;
  }

  /** The shared, caching embedder for a config. */
  get(config: EmbedderConfig): Embedder {
    const key = JSON.stringify(config);
    let entry = this.#byConfig.get(key);
    if (entry === undefined) {
      const raw = this.#create(config);
      entry = { embedder: cachingEmbedder(raw), close: async () => raw.close?.() };
      this.#byConfig.set(key, entry);
    }
    return entry.embedder;
  }

  async close(): Promise<void> {
    const entries = [...this.#byConfig.values()];
    this.#byConfig.clear();
    await Promise.all(entries.map((e) => e.close()));
  }
}

function defaultEmbedder(config: EmbedderConfig): Embedder & { close?(): Promise<void> } {
  if (config.kind === 'local') return new ThreadEmbedder();
  return new HttpEmbedder({ url: config.url, model: config.model, ...(config.apiKey !== undefined && { apiKey: config.apiKey }) });
}

/** Remembers vectors by text, so unchanged tools and policy-filtered copies of a list are not embedded again. */
export function cachingEmbedder(embedder: Embedder, max = MAX_VECTORS): Embedder {
  const vectors = new Map<string, Float32Array>();
  return {
    async embed(texts) {
      const found = new Map<string, Float32Array>();
      const wanted = new Set<string>();
      for (const text of texts) {
        const v = vectors.get(text);
        if (v !== undefined) found.set(text, v);
        else wanted.add(text);
      }
      const missing = [...wanted];
      if (missing.length > 0) {
        const fresh = await embedder.embed(missing);
        missing.forEach((text, i) => {
          found.set(text, fresh[i]);
          if (vectors.size >= max) vectors.delete(vectors.keys().next().value!);
          vectors.set(text, fresh[i]);
        });
      }
      return texts.map((t) => found.get(t)!);
    },
  };
}
