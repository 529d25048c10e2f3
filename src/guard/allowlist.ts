/**
 * Allowlists (issue 4 item 4): which upstreams may be registered — URL schemes and hosts, stdio commands — and the
 * SSRF guard: an upstream URL, or the address its host name resolves to when the gateway dials it, that is
 * link-local (the cloud metadata endpoints live there) or unspecified is refused unless allowed explicitly.
 * Checked when a config is loaded (the error names the key) and again on every connect (DNS can change).
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { basename } from 'node:path';
import { z } from 'zod';
import { matchesAny } from '../catalog/glob.ts';

const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

export const allowlistSchema = z.strictObject({
  /** URL schemes an HTTP/SSE upstream may use. */
  schemes: z.array(z.enum(['http', 'https'])).min(1).default(['http', 'https']),
  /** Host names or addresses (globs, e.g. "*.example.com") an HTTP/SSE upstream may point at. */
  hosts: z.array(z.string().min(1)).default(['*']),
  /** Commands a stdio upstream may run: globs over the command as written and over its file name ("node", "/usr/bin/*"). */
  commands: z.array(z.string().min(1)).default(['*']),
  /** Private networks (10/8, 172.16/12, 192.168/16, fc00::/7) and loopback; off for a gateway facing the internet. */
  privateNetworks: flag.default(true),
  /** Link-local addresses (169.254/16, fe80::/10: cloud metadata endpoints) and unspecified ones (0.0.0.0, ::). */
  linkLocal: flag.default(false),
}).prefault({});

export type AllowlistConfig = z.output<typeof allowlistSchema>;

/** Host names that always mean a metadata service, whatever they resolve to here. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LINK_LOCAL.addSubnet('100.100.100.200', 32, 'ipv4'); // Alibaba Cloud's metadata address
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
LINK_LOCAL.addSubnet('fd00:ec2::254', 128, 'ipv6'); // AWS's IPv6 metadata address
LINK_LOCAL.addAddress('::', 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addAddress('::1', 'ipv6');

/** Why an address may not be dialled, or null. IPv4-mapped IPv6 (::ffff:169.254.169.254) is judged as IPv4. */
export function refusedAddress(address: string, allow: Pick<AllowlistConfig, 'privateNetworks' | 'linkLocal'>): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (!allow.linkLocal && LINK_LOCAL.check(ip, family)) return `${address} is link-local or unspecified (cloud metadata lives there); set allowlist.linkLocal: true to allow it`;
  if (!allow.privateNetworks && PRIVATE.check(ip, family)) return `${address} is a private or loopback address; set allowlist.privateNetworks: true to allow it`;
  return null;
}

/**
 * Why an HTTP/SSE upstream URL is refused, or null. Only static facts: resolved addresses are checked on connect.
 * The reason names the scheme, host or address, never the whole URL (its user info may hold a password).
 */
export function refusedUrl(raw: string, allow: AllowlistConfig): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null; // the schema says it is not a URL (without echoing a value that may come from a secret)
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!(allow.schemes as string[]).includes(scheme)) return `scheme "${scheme}:" is not allowed (allowlist.schemes: ${allow.schemes.join(', ')})`;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host) && !allow.linkLocal) return `${host} is a cloud metadata service; set allowlist.linkLocal: true to allow it`;
  if (!matchesAny(host, allow.hosts)) return `host ${host} is not in allowlist.hosts (${allow.hosts.join(', ')})`;
  if (isIP(host) !== 0) return refusedAddress(host, allow);
  return null;
}

/** Why a stdio command is refused, or null. */
export function refusedCommand(command: string, allow: AllowlistConfig): string | null {
  if (matchesAny(command, allow.commands) || matchesAny(basename(command), allow.commands)) return null;
  return `command ${command} is not in allowlist.commands (${allow.commands.join(', ')})`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `dns.lookup` for undici's connector that refuses addresses the allowlist forbids, so a host name that resolves
 * to a metadata address (or is rebound to one later) is never dialled.
 */
export function guardedLookup(allow: Pick<AllowlistConfig, 'privateNetworks' | 'linkLocal'>, lookup = dnsLookup) {
  return function lookupAllowed(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      for (const { address } of list) {
        const why = refusedAddress(address, allow);
        if (why !== null) {
          const refused = Object.assign(new Error(`refusing to connect to ${hostname}: ${why}`), { code: 'EGATEHOUSEREFUSED' });
          return callback(refused, []);
        }
      }
      if (options.all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
