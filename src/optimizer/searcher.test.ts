import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../core/jsonrpc.ts';
import type { Embedder } from './embedder.ts';
import { cachingEmbedder, Embedders } from './embedders.ts';
import { createHybridSearcher } from './searcher.ts';

const TOOLS: JsonObject[] = [
  { name: 'weather__forecast', description: 'Daily weather forecast for a city', inputSchema: { type: 'object' } },
  { name: 'weather__alerts', description: 'Severe weather alerts for a region', inputSchema: { type: 'object' } },
  { name: 'files__read', description: 'Read a file from disk', inputSchema: { type: 'object' } },
];
const upstreamOf = (t: JsonObject) => String(t.name).split('__')[0];

/**
 * Test double for an embedding model (named so: no model is loaded): a vector per text from the words it holds, so
 * texts sharing words are close; `gate` holds every answer until released, to see what a search does meanwhile.
 */
function wordEmbedder(options: { gated?: boolean; fail?: boolean } = {}) {
  const words = ['weather', 'forecast', 'alerts', 'file', 'disk', 'rain', 'city'];
  let release!: () => void;
  const gate = options.gated ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  const calls: string[][] = [];
  const embedder: Embedder = {
    async embed(texts) {
      calls.push(texts);
      await gate;
      if (options.fail) throw new Error('model unavailable');
      return texts.map((t) => Float32Array.from(words, (w) => (t.toLowerCase().includes(w) ? 1 : 0.01)));
    },
  };
  return { embedder, calls, release: () => release?.() };
}

describe('hybrid searcher', () => {
  it('ranks with BM25 while tools are being embedded, then fuses both rankings', async () => {
    const model = wordEmbedder({ gated: true });
    const searcher = createHybridSearcher({ weather: { title: 'Weather' } }, '__', model.embedder);
    const early = await searcher.search(TOOLS, 'forecast', 3, upstreamOf);
    assert.equal(early[0].name, 'weather__forecast');
    assert.ok(early[0].score > 0.1, `a BM25 score (${early[0].score}) while embeddings are pending`);
    model.release();
    await searcher.idle();
    const fused = await searcher.search(TOOLS, 'forecast', 3, upstreamOf);
    assert.equal(fused[0].name, 'weather__forecast');
    assert.ok(fused[0].score < 0.05, `a reciprocal-rank score (${fused[0].score}) once every tool has a vector`);
    // "rain" is in no tool's text: BM25 finds nothing, the embedding ranker still answers.
    assert.ok((await searcher.search(TOOLS, 'rain', 3, upstreamOf)).length > 0);
  });

  it('falls back to BM25 when the embedder fails', async () => {
    const searcher = createHybridSearcher({}, '__', wordEmbedder({ fail: true }).embedder);
    await searcher.search(TOOLS, 'read a file', 2, upstreamOf);
    await searcher.idle();
    const ranked = await searcher.search(TOOLS, 'read a file', 2, upstreamOf);
    assert.equal(ranked[0].name, 'files__read');
  });
});

describe('embedders', () => {
  it('embed each distinct text once, across calls and duplicates', async () => {
    const model = wordEmbedder();
    const cached = cachingEmbedder(model.embedder);
    const [a, b] = await cached.embed(['weather city', 'weather city']);
    assert.equal(a, b);
    await cached.embed(['weather city', 'file on disk']);
    assert.deepEqual(model.calls, [['weather city'], ['file on disk']]);
  });

  it('share one embedder per config and close what they started', async () => {
    const closed: string[] = [];
    const embedders = new Embedders((config) => ({ embed: async () => [], close: async () => void closed.push(config.kind) }));
    const local = embedders.get({ kind: 'local' });
    assert.equal(embedders.get({ kind: 'local' }), local);
    assert.notEqual(embedders.get({ kind: 'http', url: 'http://127.0.0.1:1', model: 'm' }), local);
    await embedders.close();
    assert.deepEqual(closed.sort(), ['http', 'local']);
  });
});
