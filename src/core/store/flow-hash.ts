import { mix32 } from '../hash/mix.js';

/**
 * Partition of an IPv4 packet's flow, the same for both directions (the two endpoints' hashes are
 * added), so a TCP session and its responses land in one subject. Non-TCP/UDP packets hash by
 * address only; anything that is not IPv4 (ipOff < 0) is partition 0.
 */
export function flowPartition(buf: Uint8Array, ipOff: number, capLen: number, partitions: number): number {
  if (ipOff < 0 || capLen < 20 || partitions <= 1) return 0;
  const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
  const proto = buf[ipOff + 9] as number;
  const src = ((buf[ipOff + 12] as number) << 24) | ((buf[ipOff + 13] as number) << 16) | ((buf[ipOff + 14] as number) << 8) | (buf[ipOff + 15] as number);
  const dst = ((buf[ipOff + 16] as number) << 24) | ((buf[ipOff + 17] as number) << 16) | ((buf[ipOff + 18] as number) << 8) | (buf[ipOff + 19] as number);
  let sport = 0;
  let dport = 0;
  if ((proto === 6 || proto === 17) && ihl >= 20 && capLen >= ihl + 4) {
    const p = ipOff + ihl;
    sport = ((buf[p] as number) << 8) | (buf[p + 1] as number);
    dport = ((buf[p + 2] as number) << 8) | (buf[p + 3] as number);
  }
  const a = mix32((src ^ Math.imul(sport, 0x9e3779b1)) >>> 0);
  const b = mix32((dst ^ Math.imul(dport, 0x9e3779b1)) >>> 0);
  return mix32(((a + b) >>> 0) ^ proto) % partitions;
}
