import { isIP } from 'node:net';

/**
 * A client address as limits count it: an IPv4 address as is (also when written IPv4-mapped), an IPv6 address by
 * its /64 network — one subscriber usually holds a whole /64, so counting each address would give them 2^64.
 */
export function addressBucket(raw: string): string {
  const ip = raw.replace(/%.*$/, '').toLowerCase();
  if (isIP(ip) !== 6) return raw;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) return mapped[1];
  // Expanded to eight groups (an embedded IPv4 tail counts as two), of which the first four name the network.
  const [head, tail = ''] = ip.split('::');
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = ip.includes('::') ? groups(tail) : [];
  const all = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
