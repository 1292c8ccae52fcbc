import { Buffer } from 'node:buffer';
import { onesSum } from '../packet/checksum.js';
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
      putU32(b, 44, tsVal);
      putU32(b, 48, tsEcr);
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
    // Plain byte stores and an arithmetic header checksum: Buffer's write*/read* methods are
    // validated calls, and this runs for every packet sent.
    const b = this.buf;
    const t = tos & 0xff;
    const id = ipId & 0xffff;
    b[0] = 0x45;
    b[1] = t;
    b[2] = total >>> 8;
    b[3] = total & 0xff;
    b[4] = id >>> 8;
    b[5] = id & 0xff;
    b[6] = 0x40; // DF, no fragment offset
    b[7] = 0;
    b[8] = 64;
    b[9] = 6;
    putU32(b, 12, src);
    putU32(b, 16, dst);
    let sum = (0x4500 | t) + total + id + 0x4000 + ((64 << 8) | 6) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    b[10] = c >>> 8;
    b[11] = c & 0xff;
  }

  private tcpHeader(sport: number, dport: number, seq: number, ack: number, thl: number, flags: number, window: number): void {
    const b = this.buf;
    b[20] = sport >>> 8;
    b[21] = sport & 0xff;
    b[22] = dport >>> 8;
    b[23] = dport & 0xff;
    putU32(b, 24, seq);
    putU32(b, 28, ack);
    b[32] = (thl >>> 2) << 4;
    b[33] = flags & 0xff;
    b[34] = (window >>> 8) & 0xff;
    b[35] = window & 0xff;
    b[36] = 0; // checksum + urgent
    b[37] = 0;
    b[38] = 0;
    b[39] = 0;
  }

  private tcpChecksum(src: number, dst: number, thl: number, payLen: number, psum: number): void {
    const tcpLen = thl + payLen;
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpLen;
    const c = ~onesSum(this.buf, 20, thl, pseudo + psum) & 0xffff;
    this.buf[36] = c >>> 8;
    this.buf[37] = c & 0xff;
  }
}

function putU32(b: Buffer, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}
