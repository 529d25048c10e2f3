import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddingRanker, HttpEmbedder, type Embedder } from './embedder.ts';
import { HybridRanker } from './hybrid.ts';
import { type CatalogTool, feedbackTerms, interleave, Ranker, reciprocalRankFusion } from './ranker.ts';
import { splitClauses, splitIdentifier, tokenize } from './tokenize.ts';

const tool = (upstream: string, name: string, description: string, extra: Partial<CatalogTool> = {}): CatalogTool => ({
  name: `${upstream}__${name}`,
  upstreamName: name,
  description,
  inputSchema: { type: 'object', properties: {} },
  upstream,
  ...extra,
});

const weather = [
  tool('weather', 'get_forecast', 'Weather forecast for a city for the next days', { serverTitle: 'Weather Service' }),
  tool('weather', 'get_alerts', 'Severe weather alerts for a US state', { serverTitle: 'Weather Service' }),
];
const files = [
  tool('files', 'readFile', 'Read the contents of a file from disk', {
    inputSchema: { type: 'object', properties: { path: { type: 'string', description: 'Absolute path of the file' } } },
  }),
  tool('files', 'write-file', 'Create or overwrite a file with new content'),
];
const search = [
  tool('bing-cn', 'bing_search', '使用必应搜索指定的关键词，并返回搜索结果列表', { serverTitle: 'Bing 中文搜索' }),
  tool('wetter', 'vorhersage', 'Wettervorhersage für eine Stadt in Deutschland'),
  tool('crm', 'lookup', 'Поиск клиента по номеру телефона'),
];

describe('tokenize', () => {
  it('splits identifiers on case, underscores, dashes and dots', () => {
    assert.equal(splitIdentifier('getStockPrice'), 'get Stock Price');
    assert.equal(splitIdentifier('HTTPServer_list-items.v2'), 'HTTP Server list items v2');
    assert.deepEqual(tokenize('get_current_stock_price'), ['get', 'current', 'stock', 'price']);
  });

  it('drops English stop-words and stems Latin words', () => {
    assert.deepEqual(tokenize('Searching for the files'), ['search', 'file']);
  });

  it('keeps other scripts: Cyrillic, Devanagari, accented Latin', () => {
    assert.deepEqual(tokenize('Поиск клиента'), ['поиск', 'клиента']);
    assert.deepEqual(tokenize('नमस्ते दुनिया'), ['नमस्ते', 'दुनिया']);
    assert.deepEqual(tokenize('für München'), ['für', 'münchen']);
  });

  it('indexes Chinese and Japanese as character bigrams, split from adjacent Latin', () => {
    assert.deepEqual(tokenize('必应搜索'), ['必应', '应搜', '搜索']);
    assert.deepEqual(tokenize('abc中文'), ['abc', '中文']);
    assert.deepEqual(tokenize('天'), ['天']);
    assert.deepEqual(tokenize('カタカナ'), ['カタ', 'タカ', 'カナ']);
  });
});

describe('splitClauses', () => {
  it('splits at sentence ends, semicolons and "then", not inside file names or numbers', () => {
    assert.deepEqual(splitClauses('Read /root/pdf/report.pdf and find papers. Summarise the 2.5 main ideas; save them to disk'), [
      'Read /root/pdf/report.pdf and find papers',
      'Summarise the 2.5 main ideas',
      'save them to disk',
    ]);
    assert.deepEqual(splitClauses('Fetch the daily news, then write a report'), ['Fetch the daily news', 'write a report']);
    assert.deepEqual(splitClauses('plan a trip and then book hotel rooms'), ['plan a trip', 'book hotel rooms']);
  });

  it('splits at full-width sentence marks, and not at commas or line breaks', () => {
    assert.deepEqual(splitClauses('查询天气。生成报告'), ['查询天气', '生成报告']);
    assert.deepEqual(splitClauses('beat tracking, MFCC extraction, chroma features'), ['beat tracking, MFCC extraction, chroma features']);
    assert.deepEqual(splitClauses('server: maps service\ntool: find parking'), ['server: maps service\ntool: find parking']);
  });

  it('drops clauses with fewer than two index terms', () => {
    assert.deepEqual(splitClauses('Hi. Then do it. Find weather alerts'), ['Find weather alerts']);
  });
});

describe('interleave', () => {
  const list = (...names: string[]) => names.map((name, i) => ({ name, score: 10 - i }));
  it('keeps the head of the first list, then takes turns, skipping repeats, with non-increasing scores', () => {
    const out = interleave([list('a', 'b', 'c', 'd'), list('b', 'x', 'y'), list('z')], 6, 1);
    assert.deepEqual(out.map((r) => r.name), ['a', 'b', 'z', 'c', 'x', 'd']);
    assert.ok(out.every((r, i) => i === 0 || r.score <= out[i - 1].score));
  });
});

describe('Ranker', () => {
  it('ranks by name, description and parameters', () => {
    const ranker = new Ranker([...weather, ...files]);
    assert.equal(ranker.search('weather forecast for Paris', 5)[0].name, 'weather__get_forecast');
    assert.equal(ranker.search('read file', 5)[0].name, 'files__readFile');
    assert.equal(ranker.search('absolute path', 5)[0].name, 'files__readFile');
  });

  it('finds non-English tools with non-English queries', () => {
    const ranker = new Ranker([...weather, ...files, ...search]);
    assert.equal(ranker.search('必应搜索关键词', 3)[0].name, 'bing-cn__bing_search');
    assert.equal(ranker.search('Wettervorhersage Stadt', 3)[0].name, 'wetter__vorhersage');
    assert.equal(ranker.search('поиск клиента', 3)[0].name, 'crm__lookup');
  });

  it('replaces and removes one upstream incrementally', () => {
    const ranker = new Ranker([...weather, ...files]);
    assert.equal(ranker.size, 4);
    ranker.setUpstream('weather', [tool('weather', 'get_tides', 'Tide tables for a harbour')]);
    assert.equal(ranker.size, 3);
    assert.deepEqual(ranker.search('forecast', 5), []);
    assert.equal(ranker.search('tide harbour', 5)[0].name, 'weather__get_tides');
    ranker.removeUpstream('files');
    assert.equal(ranker.size, 1);
    assert.deepEqual(ranker.search('file', 5), []);
    ranker.setUpstream('files', files);
    assert.equal(ranker.search('write file', 5)[0].name, 'files__write-file');
  });

  it("finds a tool through its server's description", () => {
    const papers = [
      tool('papers', 'search', 'Search by keyword', { serverTitle: 'Papers', serverDescription: 'Preprints from arXiv' }),
      tool('web', 'search', 'Search the web by keyword'),
    ];
    assert.equal(new Ranker(papers).search('arXiv search', 2)[0].name, 'papers__search');
  });

  it('coordination sets how much matching more query terms counts against matching rarer ones', () => {
    // "alpha" is rare and sits in one name; "file" and "data" are everywhere, and one tool has both.
    const tools = [
      tool('a', 'alpha', 'Alpha channel'),
      tool('b', 'mixed', 'file data'),
      ...Array.from({ length: 8 }, (_, i) => tool('c', `t${i}`, i % 2 ? 'file store' : 'data store')),
    ];
    const top = (coordination: number) => new Ranker(tools, { coordination }).search('alpha file data', 1)[0].name;
    assert.equal(top(2), 'b__mixed');
    assert.equal(top(0), 'a__alpha');
  });

  describe('multi-step queries', () => {
    const repos = [
      tool('trending', 'get_trending_repositories', 'Trending GitHub repositories today', { serverTitle: 'GitHub Trending' }),
      tool('trending', 'get_trending_developers', 'Trending GitHub developers today', { serverTitle: 'GitHub Trending' }),
      tool('github', 'search_repositories', 'Search GitHub repositories', { serverTitle: 'GitHub' }),
      tool('github', 'get_repository', 'Details of a GitHub repository', { serverTitle: 'GitHub' }),
    ];
    const catalog = [...repos, ...weather, ...files];
    const query = 'Find the trending GitHub repositories and the trending GitHub developers, then write a file with them';

    it('gives each step a place in the top results', () => {
      const plain = new Ranker(catalog, { maxClauses: 0 }).search(query, 3).map((r) => r.name);
      assert.ok(plain.every((name) => !name.startsWith('files__')), 'the first step crowds the second out');
      const names = new Ranker(catalog).search(query, 3).map((r) => r.name);
      assert.ok(names.some((name) => name.startsWith('trending__')));
      assert.ok(names.includes('files__write-file'));
      assert.equal(names[0], plain[0]);
    });

    it('ranks a one-clause query exactly as without decomposition', () => {
      for (const q of ['trending GitHub repositories, and write a file', 'weather forecast.', 'read file; x']) {
        assert.deepEqual(new Ranker(catalog).search(q, 5), new Ranker(catalog, { maxClauses: 0 }).search(q, 5));
      }
    });

    it("scores the whole query from its clauses as one search would", () => {
      const fromClauses = new Ranker(catalog, { clauseHead: 1 }).search(query, 5);
      const single = new Ranker(catalog, { maxClauses: 0 }).search(query, 5);
      assert.deepEqual(fromClauses.map((r) => r.name), single.map((r) => r.name));
      fromClauses.forEach((r, i) => assert.ok(Math.abs(r.score - single[i].score) < 1e-9 * single[i].score));
    });
  });

  it('ranks servers and restricts the server-first pass to the top servers', () => {
    const ranker = new Ranker([...weather, ...files, ...search], { topServers: 1, serverFirst: true });
    assert.equal(ranker.searchServers('weather alerts', 3)[0].name, 'weather');
    const names = ranker.searchServerFirst('weather alerts file', 10).map((r) => r.name);
    assert.ok(names.length > 0 && names.every((n) => n.startsWith('weather__')));
    // The fused ranking still reaches tools outside the top server.
    assert.ok(ranker.search('weather alerts file', 10).some((r) => r.name.startsWith('files__')));
  });
});

describe('feedback (issue 6, off by default)', () => {
  const slides = [
    tool('deck', 'add_slide', 'Add a slide to a presentation'),
    tool('deck', 'save_presentation', 'Save the presentation to a pptx file'),
    tool('deck', 'set_theme', 'Set the colour theme of a presentation'),
    tool('notes', 'write_note', 'Write a note to the knowledge base'),
  ];

  it('feedbackTerms weighs the top tools\' rare words by their share of the scores, leaving out the query terms', () => {
    const termsOf = new Map([
      ['a', new Map([['slide', 0.5], ['present', 0.5]])],
      ['b', new Map([['present', 0.5], ['pptx', 0.5]])],
    ]);
    const df = new Map([['slide', 1], ['present', 3], ['pptx', 1]]);
    const terms = feedbackTerms([{ name: 'a', score: 3 }, { name: 'b', score: 1 }], termsOf, df, 4, new Set(['slide']), 2);
    assert.deepEqual([...terms.keys()], ['present', 'pptx']);
    assert.equal(terms.get('present'), 1);
    assert.ok(terms.get('pptx')! > 0 && terms.get('pptx')! < 1);
    assert.equal(feedbackTerms([], termsOf, df, 4, new Set(), 5).size, 0);
  });

  it('reaches a tool that shares no query word with the query through the top tools\' other words', () => {
    const plain = new Ranker(slides);
    const expanded = new Ranker(slides, { feedback: { docs: 1, terms: 3, weight: 0.5 } });
    const query = 'add slide';
    assert.deepEqual(plain.search(query, 5).map((r) => r.name), ['deck__add_slide']);
    const names = expanded.search(query, 5).map((r) => r.name);
    assert.equal(names[0], 'deck__add_slide');
    assert.ok(names.includes('deck__save_presentation') && names.includes('deck__set_theme'));
    assert.ok(!names.includes('notes__write_note'));
  });

  it('keeps its statistics through upstream replacement and removal', () => {
    const ranker = new Ranker(slides, { feedback: { docs: 1, terms: 3, weight: 0.5 } });
    ranker.removeUpstream('deck');
    assert.deepEqual(ranker.search('add slide', 5), []);
    ranker.setUpstream('deck', slides.slice(0, 2));
    assert.deepEqual(ranker.search('add slide', 5).map((r) => r.name), ['deck__add_slide', 'deck__save_presentation']);
  });

  it('termWeight lifts the tool that matches the rarer query term', () => {
    const catalog = [
      tool('a', 'list_files', 'List files in a folder'),
      tool('a', 'read_files', 'Read files'),
      tool('b', 'zip_folder', 'Compress a folder into an archive'),
      tool('c', 'files_info', 'Size of files'),
    ];
    // "files" is in three tools, "compress" in one: with rarity weighting the one rare match outranks the common one.
    const query = 'files compress';
    const plain = new Ranker(catalog, { coordination: 1 }).search(query, 4);
    const weighted = new Ranker(catalog, { coordination: 1, termWeight: 3 }).search(query, 4);
    assert.ok(weighted.findIndex((r) => r.name === 'b__zip_folder') <= plain.findIndex((r) => r.name === 'b__zip_folder'));
    assert.equal(weighted[0].name, 'b__zip_folder');
  });
});

describe('reciprocalRankFusion', () => {
  it('sums 1/(k + rank) over lists', () => {
    const fused = reciprocalRankFusion(
      [
        [{ name: 'a', score: 9 }, { name: 'b', score: 5 }],
        [{ name: 'b', score: 0.9 }, { name: 'c', score: 0.8 }],
      ],
      3,
      { k: 60 },
    );
    assert.deepEqual(fused.map((r) => r.name), ['b', 'a', 'c']);
    assert.equal(fused[0].score, 1 / 62 + 1 / 61);
  });

  it('weights lists', () => {
    const a = [{ name: 'a', score: 1 }];
    const b = [{ name: 'b', score: 1 }];
    assert.equal(reciprocalRankFusion([a, b], 2, { weights: [1, 2] })[0].name, 'b');
  });
});

describe('EmbeddingRanker', () => {
  // Vectors from a bag of three words: enough to check cosine ranking and updates without a model.
  const words = ['weather', 'file', 'search'];
  const fake: Embedder = {
    embed: async (texts) => texts.map((t) => Float32Array.from(words, (w) => (t.toLowerCase().includes(w) ? 1 : 0))),
  };

  it('ranks by cosine and follows upstream replacement', async () => {
    const ranker = new EmbeddingRanker(fake);
    await ranker.setUpstream('weather', weather);
    await ranker.setUpstream('files', files);
    assert.equal((await ranker.search('file please', 1))[0].name.startsWith('files__'), true);
    await ranker.setUpstream('files', []);
    assert.equal(ranker.size, 2);
  });

  it('keeps the top k in cosine order across removals and replacements', async () => {
    const vectors: Record<string, number[]> = { a: [1, 0], b: [0.8, 0.6], c: [0, 1], d: [-1, 0] };
    const byName: Embedder = { embed: async (texts) => texts.map((t) => Float32Array.from(vectors[t.split('.')[0]] ?? [0, 1])) };
    const ranker = new EmbeddingRanker(byName);
    await ranker.setUpstream('one', [tool('one', 'a', ''), tool('one', 'b', '')]);
    await ranker.setUpstream('two', [tool('two', 'c', ''), tool('two', 'd', '')]);
    const query = Float32Array.from([1, 0]);
    assert.deepEqual(ranker.searchVector(query, 3).map((r) => r.name), ['one__a', 'one__b', 'two__c']);
    ranker.removeUpstream('one'); // frees the first rows; the last row moves into them
    assert.deepEqual(ranker.searchVector(query, 5).map((r) => r.name), ['two__c', 'two__d']);
    await ranker.setUpstream('two', [tool('two', 'b', '')]);
    assert.equal(ranker.size, 1);
    assert.deepEqual(ranker.searchVector(query, 5), [{ name: 'two__b', score: ranker.searchVector(query, 1)[0].score }]);
    assert.ok(Math.abs(ranker.searchVector(query, 1)[0].score - 0.8) < 1e-6);
  });

  it('embeds a repeated query once, and does not remember a failed call', async () => {
    let calls = 0;
    let fail = true;
    const counting: Embedder = {
      embed: async (texts) => {
        calls++;
        if (texts.length === 1 && fail) throw new Error('down');
        return fake.embed(texts);
      },
    };
    const ranker = new EmbeddingRanker(counting);
    await ranker.setUpstream('files', files);
    await assert.rejects(ranker.search('file', 1), /down/);
    fail = false;
    await ranker.search('file', 1);
    await ranker.search('file', 1);
    assert.equal(calls, 3); // setUpstream, the failed query, one successful query
    const uncached = new EmbeddingRanker(counting, { queryCache: 0 });
    await uncached.search('file', 1);
    await uncached.search('file', 1);
    assert.equal(calls, 5);
  });

  it('HttpEmbedder posts OpenAI-style requests and orders rows by index', async () => {
    let body: unknown;
    const embedder = new HttpEmbedder({
      url: 'http://embed.local',
      model: 'm',
      fetch: (async (_url: string, init: RequestInit) => {
        body = JSON.parse(init.body as string);
        return Response.json({ data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }] });
      }) as typeof fetch,
    });
    const [first, second] = await embedder.embed(['x', 'y']);
    assert.deepEqual(body, { model: 'm', input: ['x', 'y'] });
    assert.deepEqual([...first], [1, 0]);
    assert.deepEqual([...second], [0, 1]);
  });
});

describe('HybridRanker', () => {
  // A toy embedding space where "rain" and "umbrella" are the same direction.
  const senses = [['forecast'], ['file'], ['rain', 'umbrella']];
  const fake: Embedder = {
    embed: async (texts) =>
      texts.map((t) => Float32Array.from(senses, (sense) => (sense.some((w) => t.toLowerCase().includes(w)) ? 1 : 0))),
  };
  const rainy = [...weather, tool('weather', 'umbrella', 'Tells whether to take an umbrella today')];

  it('fuses BM25 with the embedding ranking, and updates both indexes', async () => {
    const hybrid = new HybridRanker(new Ranker(), new EmbeddingRanker(fake));
    await hybrid.setUpstream('weather', rainy);
    await hybrid.setUpstream('files', files);
    assert.equal(hybrid.size, 5);
    // BM25 alone ranks the forecast first; the embeddings add the umbrella tool, which shares no term with the query.
    const names = (await hybrid.search('forecast rain', 3)).map((r) => r.name);
    assert.equal(names[0], 'weather__get_forecast');
    assert.ok(names.includes('weather__umbrella'));
    assert.ok(!hybrid.lexical.search('forecast rain', 5).some((r) => r.name === 'weather__umbrella'));
    hybrid.removeUpstream('weather');
    assert.equal(hybrid.size, 2);
    assert.equal(hybrid.semantic.size, 2);
    assert.ok((await hybrid.search('forecast rain', 3)).every((r) => r.name.startsWith('files__')));
  });
});
