import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { allowlistSchema, guardedLookup, refusedAddress, refusedCommand, refusedUrl } from './allowlist.ts';
import { parseConfig } from '../config/load.ts';

const defaults = allowlistSchema.parse({});
const strict = allowlistSchema.parse({ schemes: ['https'], hosts: ['*.example.com'], commands: ['node', '/usr/local/bin/*'], privateNetworks: false });

describe('allowlist', () => {
  it('refuses metadata and link-local targets by default, in every spelling', () => {
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://[fd00:ec2::254]/', 'http://metadata.google.internal/computeMetadata/v1', 'http://0.0.0.0:8080/mcp', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/mcp', 'http://100.100.100.200/']) {
      assert.match(refusedUrl(url, defaults) ?? 'allowed', /link-local|metadata/, url);
    }
    assert.equal(refusedUrl('http://169.254.169.254/', { ...defaults, linkLocal: true }), null, 'unless allowed explicitly');
    assert.equal(refusedUrl('http://127.0.0.1:3000/mcp', defaults), null, 'loopback and private networks are allowed by default');
    assert.equal(refusedUrl('https://10.1.2.3/mcp', defaults), null);
  });

  it('admits only the configured schemes, hosts and private ranges', () => {
    assert.equal(refusedUrl('https://mcp.example.com/mcp', strict), null);
    assert.match(refusedUrl('http://mcp.example.com/mcp', strict)!, /scheme "http:" is not allowed/);
    assert.match(refusedUrl('https://evil.test/mcp', strict)!, /host evil.test is not in allowlist.hosts/);
    assert.match(refusedUrl('file:///etc/passwd', defaults)!, /scheme "file:" is not allowed/);
    assert.match(refusedUrl('gopher://x/', defaults)!, /scheme "gopher:"/);
    assert.match(refusedAddress('192.168.1.10', strict)!, /private or loopback/);
    assert.match(refusedAddress('::1', strict)!, /private or loopback/);
    assert.equal(refusedAddress('93.184.216.34', strict), null);
  });

  it('admits stdio commands by name or path glob', () => {
    assert.equal(refusedCommand('node', strict), null);
    assert.equal(refusedCommand('/usr/bin/node', strict), null, 'the file name matches');
    assert.equal(refusedCommand('/usr/local/bin/my-server', strict), null);
    assert.match(refusedCommand('bash', strict)!, /command bash is not in allowlist.commands/);
    assert.equal(refusedCommand('anything', defaults), null);
  });

  it('refuses, when dialling, a host name that resolves to a forbidden address', async () => {
    const resolveTo = (address: string, family = 4) => ((_h: string, _o: unknown, cb: (e: null, a: LookupAddress[]) => void) => cb(null, [{ address, family }])) as never;
    const dial = (address: string, allow = defaults) =>
      new Promise<string>((resolve) => guardedLookup(allow, resolveTo(address))('upstream.test', {}, (err, addr) => resolve(err ? err.message : String(addr))));
    assert.equal(await dial('93.184.216.34'), '93.184.216.34');
    assert.match(await dial('169.254.169.254'), /refusing to connect to upstream\.test: 169\.254\.169\.254 is link-local/);
    assert.match(await dial('10.0.0.5', strict), /private or loopback/);
  });

  it('names the file, line and key of an upstream the allowlist refuses', () => {
    const text = 'allowlist:\n  commands: [node]\nupstreams:\n  meta:\n    url: http://169.254.169.254/mcp\n  shell:\n    command: bash\n';
    assert.throws(() => parseConfig(text, 'gatehouse.yaml'), (err: Error) => {
      assert.match(err.message, /gatehouse\.yaml:5:10: upstreams\.meta\.url: expected an upstream the allowlist admits: 169\.254\.169\.254 is link-local/);
      assert.match(err.message, /gatehouse\.yaml:7:14: upstreams\.shell\.command: expected an upstream the allowlist admits: command bash is not in allowlist\.commands/);
      return true;
    });
  });
});
