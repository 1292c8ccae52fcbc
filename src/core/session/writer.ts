import { Buffer } from 'node:buffer';
import { fillIpv4Checksum, onesSum } from '../packet/checksum.js';
import { writeTcpOptions, type OptionSpec } from '../packet/options.js';

/**
 * Builds every packet the engine sends in one reusable scratch buffer (no allocation per
 * packet). The TCP checksum is pseudo-header + header + a payload sum the caller already has
 * (derived once from the captured checksum), so a send costs O(header), not O(payload).
 *
 *   IPv4 (20, no options, DF, TTL 64) | TCP (20) | [NOP NOP TS(10)] or SYN options | payload
 */
export class PacketWriter {
  readonly buf: Buffer = Buffer.alloc(65536 + 64);

  write(
    src: number,
    dst: number,
    sport: number,
    dport: number,
    seq: number,
    ack: number,
    flags: number,
    window: number,
    ipId: number,
    tos: number,
    hasTs: boolean,
    tsVal: number,
    tsEcr: number,
    payload: Buffer | null,
    payOff: number,
    payLen: number,
    psum: number,
  ): number {
    const b = this.buf;
    const optLen = hasTs ? 12 : 0;
    const thl = 20 + optLen;
    const total = 20 + thl + payLen;
    this.ipHeader(total, ipId, tos, src, dst);
    this.tcpHeader(sport, dport, seq, ack, thl, flags, window);
    if (hasTs) {
      b[40] = 1;
      b[41] = 1;
      b[42] = 8;
      b[43] = 10;
      b.writeUInt32BE(tsVal >>> 0, 44);
      b.writeUInt32BE(tsEcr >>> 0, 48);
    }
    if (payLen > 0 && payload !== null) payload.copy(b, 20 + thl, payOff, payOff + payLen);
    if (psum < 0) psum = payLen > 0 ? onesSum(b, 20 + thl, payLen) : 0;
    this.tcpChecksum(src, dst, thl, payLen, psum);
    return total;
  }

  /** A SYN with explicit options (SYNs are rare; the spec object is fine here). */
  writeSyn(src: number, dst: number, sport: number, dport: number, seq: number, window: number, ipId: number, spec: OptionSpec): number {
    const b = this.buf;
    const optLen = writeTcpOptions(b, 40, spec);
    const thl = 20 + optLen;
    const total = 20 + thl;
    this.ipHeader(total, ipId, 0, src, dst);
    // tcpHeader zeroes the checksum; options were written first and stay in place.
    this.tcpHeader(sport, dport, seq, 0, thl, 0x02, window);
    this.tcpChecksum(src, dst, thl, 0, 0);
    return total;
  }

  private ipHeader(total: number, ipId: number, tos: number, src: number, dst: number): void {
    const b = this.buf;
    b[0] = 0x45;
    b[1] = tos & 0xff;
    b.writeUInt16BE(total, 2);
    b.writeUInt16BE(ipId & 0xffff, 4);
    b.writeUInt16BE(0x4000, 6); // DF, no fragment offset
    b[8] = 64;
    b[9] = 6;
    b[10] = 0;
    b[11] = 0;
    b.writeUInt32BE(src >>> 0, 12);
    b.writeUInt32BE(dst >>> 0, 16);
    fillIpv4Checksum(b, 0);
  }

  private tcpHeader(sport: number, dport: number, seq: number, ack: number, thl: number, flags: number, window: number): void {
    const b = this.buf;
    b.writeUInt16BE(sport, 20);
    b.writeUInt16BE(dport, 22);
    b.writeUInt32BE(seq >>> 0, 24);
    b.writeUInt32BE(ack >>> 0, 28);
    b[32] = (thl >>> 2) << 4;
    b[33] = flags & 0xff;
    b.writeUInt16BE(window & 0xffff, 34);
    b.writeUInt32BE(0, 36); // checksum + urgent
  }

  private tcpChecksum(src: number, dst: number, thl: number, payLen: number, psum: number): void {
    const tcpLen = thl + payLen;
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpLen;
    const sum = onesSum(this.buf, 20, thl, pseudo + psum);
    this.buf.writeUInt16BE(~sum & 0xffff, 36);
  }
}
