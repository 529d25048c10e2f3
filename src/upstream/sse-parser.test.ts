import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser } from './sse-parser.ts';

type Event = [type: string, data: string, id: string];

function parse(chunks: (string | Uint8Array)[], end = true): { events: Event[]; parser: SseParser } {
  const events: Event[] = [];
  const parser = new SseParser((type, data, id) => events.push([type, data, id]));
  for (const c of chunks) {
    if (typeof c === 'string') parser.feed(c);
    else parser.push(c);
  }
  if (end) parser.end();
  return { events, parser };
}

const STREAM = ': keep-alive\n\nid: 1\nevent: message\ndata: {"a":1}\n\nevent: endpoint\r\ndata: /messages?x=1\r\n\r\ndata: line one\ndata: line two\n\nretry: 250\nid: 7\ndata\n\nid\ndata:no-space\r\rdata: \u00e9t\u00e9 \u2713\n\n';
const EXPECTED: Event[] = [
  ['message', '{"a":1}', '1'],
  ['endpoint', '/messages?x=1', '1'],
  ['message', 'line one\nline two', '1'],
  ['message', '', '7'],
  ['message', 'no-space', ''],
  ['message', '\u00e9t\u00e9 \u2713', ''],
];

describe('SseParser', () => {
  it('parses fields, comments, CRLF / CR / LF endings, multi-line data and ids', () => {
    const { events, parser } = parse([STREAM]);
    assert.deepEqual(events, EXPECTED);
    assert.equal(parser.retry, 250);
  });

  it('gives the same events however the bytes are split (UTF-8 and CRLF split across chunks)', () => {
    const bytes = Buffer.from(STREAM, 'utf8');
    for (let size = 1; size <= 7; size++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      assert.deepEqual(parse(chunks).events, EXPECTED, `chunks of ${size} bytes`);
    }
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(parse([bytes.subarray(0, cut), bytes.subarray(cut)]).events, EXPECTED, `cut at ${cut}`);
    }
  });

  it('skips a BOM, ignores unknown fields and bad retry values, and drops an unterminated event at the end', () => {
    const { events, parser } = parse(['\ufeffdata: a\nfoo: bar\nretry: soon\n\ndata: never finished']);
    assert.deepEqual(events, [['message', 'a', '']]);
    assert.equal(parser.retry, -1);
  });

  it('ignores ids containing NUL and keeps the last id across events', () => {
    const { events } = parse(['id: 5\ndata: x\n\nid: a\u0000b\ndata: y\n\n']);
    assert.deepEqual(events, [['message', 'x', '5'], ['message', 'y', '5']]);
  });
});
