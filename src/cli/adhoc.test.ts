import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUpstreamFlag, splitCommandLine } from './adhoc.ts';

describe('--upstream flags', () => {
  it('turns URLs into HTTP or legacy SSE upstreams', () => {
    assert.deepEqual(parseUpstreamFlag('w=http://127.0.0.1:3000/mcp'), { name: 'w', upstream: { transport: 'http', url: 'http://127.0.0.1:3000/mcp' } });
    assert.deepEqual(parseUpstreamFlag('c=https://x.example/sse'), { name: 'c', upstream: { transport: 'sse', url: 'https://x.example/sse' } });
  });
  it('splits commands like a shell', () => {
    assert.deepEqual(parseUpstreamFlag('e=npx -y "@scope/server x" \'a b\' c\\ d'), {
      name: 'e',
      upstream: { transport: 'stdio', command: 'npx', args: ['-y', '@scope/server x', 'a b', 'c d'] },
    });
    assert.deepEqual(splitCommandLine('  a   b  '), ['a', 'b']);
    assert.deepEqual(splitCommandLine('a ""'), ['a', '']);
  });
  it('explains malformed flags', () => {
    assert.throws(() => parseUpstreamFlag('nonsense'), /NAME=COMMAND_OR_URL/);
    assert.throws(() => parseUpstreamFlag('bad name=x'), /letters, digits/);
    assert.throws(() => parseUpstreamFlag('x='), /needs a command or a URL/);
    assert.throws(() => splitCommandLine('a "b'), /unterminated/);
  });
});
