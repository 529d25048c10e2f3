import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ThreadEmbedder } from './embedder-thread.ts';

const cosine = (a: Float32Array, b: Float32Array) => {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
};

describe('ThreadEmbedder (the offline model on a worker thread)', () => {
  const embedder = new ThreadEmbedder();
  after(() => embedder.close());

  it('embeds with the real model: related texts are closer than unrelated ones', async () => {
    const [forecast, weather, file] = await embedder.embed(['weather forecast for tomorrow', 'will it rain in Lisbon this week', 'read the contents of a file']);
    assert.equal(forecast.length, 512);
    assert.ok(cosine(forecast, weather) > cosine(forecast, file), 'weather texts are neighbours');
  });

  it('keeps the calling thread free while it computes', async () => {
    const texts = Array.from({ length: 256 }, (_, i) => `tool number ${i} that does task ${i % 17} for the user`);
    let turns = 0;
    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      turns++;
    }, 5);
    const vectors = await embedder.embed(texts);
    clearInterval(ticker);
    assert.equal(vectors.length, 256);
    assert.ok(turns > 3, `the event loop turned ${turns} times`);
    assert.ok(longest < 250, `no stall longer than 250 ms (longest ${Math.round(longest)} ms)`);
  });

  it('fails pending calls when closed, and starts a fresh worker after', async () => {
    const failed = assert.rejects(embedder.embed(['something to embed']), /stopped/);
    await embedder.close();
    await failed;
    assert.equal((await embedder.embed(['again'])).length, 1);
  });
});
