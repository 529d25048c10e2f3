import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../config/schema.ts';
import { parseUpstreamFlag, parseUpstreamFlags, splitCommandLine } from './adhoc.ts';

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

  it('gives an upstream one replica per repetition of its NAME', () => {
    const upstreams = parseUpstreamFlags(['a=http://127.0.0.1:1/mcp', 'b=node server.js --x', 'a=http://127.0.0.1:2/mcp', 'b=node server.js --x']);
    assert.deepEqual(upstreams, {
      a: { transport: 'http', url: ['http://127.0.0.1:1/mcp', 'http://127.0.0.1:2/mcp'] },
      b: { transport: 'stdio', command: 'node', args: ['server.js', '--x'], replicas: 2 },
    });
    // What the flags build is a valid config.
    const config = configSchema.parse({ upstreams });
    assert.equal(config.upstreams.b.transport === 'stdio' && config.upstreams.b.replicas, 2);
    assert.throws(() => parseUpstreamFlags(['a=node x', 'a=node y']), /two different commands/);
    assert.throws(() => parseUpstreamFlags(['a=node x', 'a=http://127.0.0.1:1/mcp']), /both stdio and http/);
  });
});
