import type { Buffer } from 'node:buffer';
import type { PacketFilter } from '../filter/program.js';
import { ipToString } from '../packet/ipv4.js';
import { findTransfer, type Transfer } from '../transfer.js';

/** Distinct unmatched destinations remembered for the diagnosis. */
const MAX_UNMATCHED_KEYS = 256;
/** Unmatched packets looked at for the diagnosis (later ones are only counted). */
const MAX_UNMATCHED_SAMPLED = 100_000;
const IPPROTO_TCP = 6;

export interface SelectorCounters {
  /** Not IPv4 (ARP, IPv6, ...) or no network layer. */
  nonIpv4: number;
  /** Rejected by -F. */
  filteredOut: number;
  /** Not TCP, or TCP to no -x destination. */
  notMatched: number;
}

/**
 * Which captured packets the copier replays, decided once per packet for every source: the -F
 * filter, then the -x match. Returns the transfer index the engine gets with the packet, or −1.
 * Allocation-free for selected packets; an unmatched destination is remembered under a numeric
 * key (address × 65536 + port) so the summary can say what the capture held instead.
 */
export class PacketSelector {
  readonly counters: SelectorCounters = { nonIpv4: 0, filteredOut: 0, notMatched: 0 };
  private readonly unmatched = new Map<number, number>();

  constructor(
    private readonly transfers: readonly Transfer[],
    private readonly filter: PacketFilter | null,
  ) {}

  /** The IPv4 packet at buf[ipOff, ipOff + capLen) (ipOff < 0: no IPv4 layer). */
  select(buf: Buffer, ipOff: number, capLen: number): number {
    const c = this.counters;
    if (ipOff < 0) {
      c.nonIpv4++;
      return -1;
    }
    if (this.filter !== null && !this.filter.match(buf, ipOff, capLen)) {
      c.filteredOut++;
      return -1;
    }
    const ihl = capLen < 20 ? 0 : ((buf[ipOff] as number) & 0x0f) << 2;
    // A later fragment (offset ≠ 0) starts with payload, not a TCP header.
    if (ihl < 20 || buf[ipOff + 9] !== IPPROTO_TCP || capLen < ihl + 4 || (buf.readUInt16BE(ipOff + 6) & 0x1fff) !== 0) {
      c.notMatched++;
      return -1;
    }
    const dst = buf.readUInt32BE(ipOff + 16);
    const dport = buf.readUInt16BE(ipOff + ihl + 2);
    const idx = findTransfer(this.transfers, dst, dport);
    if (idx >= 0) return idx;
    c.notMatched++;
    if (c.notMatched <= MAX_UNMATCHED_SAMPLED) {
      const key = dst * 65536 + dport;
      const k = this.unmatched.get(key);
      if (k !== undefined) this.unmatched.set(key, k + 1);
      else if (this.unmatched.size < MAX_UNMATCHED_KEYS) this.unmatched.set(key, 1);
    }
    return -1;
  }

  /**
   * A server→client packet of a replayed service (its source is a -x online address and port),
   * for the replay report's reference answers. Called only for packets select() turned down.
   */
  selectReverse(buf: Buffer, ipOff: number, capLen: number): boolean {
    if (ipOff < 0 || capLen < 24 || buf[ipOff + 9] !== IPPROTO_TCP) return false;
    const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
    if (capLen < ihl + 4) return false;
    return findTransfer(this.transfers, buf.readUInt32BE(ipOff + 12), buf.readUInt16BE(ipOff + ihl)) >= 0;
  }

  /** The most frequent TCP destinations of packets that matched no -x entry, as "ip:port". */
  unmatchedTop(n: number): [string, number][] {
    return [...this.unmatched]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, count]): [string, number] => [`${ipToString(Math.floor(key / 65536))}:${key % 65536}`, count]);
  }
}
