import type { Buffer } from 'node:buffer';
import { fillIpv4Checksum, fillTcpChecksum } from '../../../src/core/packet/checksum.js';
import { TCP_FIN } from '../../../src/core/packet/tcp.js';

/**
 * Copy a classified ('tcp') packet at src[ipOff] into out[off] keeping only payload bytes
 * [from, from + len) — for cutting an oversize (GRO-merged) capture into MTU-sized pieces or
 * trimming already-sent bytes. The IP and TCP headers, options included, are copied as they
 * are; then the total length is set, seq advances by `from`, FIN is kept only when the piece
 * reaches the end of the payload, and both checksums are recomputed. The IP ID is left as
 * captured (the caller sets it per piece). Returns bytes written; throws RangeError on a range
 * outside the payload or a too-small `out` (caller bugs).
 */
export function copySegmentSlice(out: Buffer, off: number, src: Buffer, ipOff: number, from: number, len: number): number {
  const ipHl = ((src[ipOff] as number) & 0x0f) << 2;
  const t = ipOff + ipHl;
  const tcpHl = ((src[t + 12] as number) >>> 4) << 2;
  const headers = ipHl + tcpHl;
  const payloadLen = src.readUInt16BE(ipOff + 2) - headers;
  if (from < 0 || len < 0 || from + len > payloadLen) {
    throw new RangeError(`slice [${from}, ${from + len}) is outside the ${payloadLen}-byte payload`);
  }
  const total = headers + len;
  if (off < 0 || off + total > out.length) {
    throw new RangeError(`slice of ${total} bytes does not fit in buffer of ${out.length} at offset ${off}`);
  }
  src.copy(out, off, ipOff, ipOff + headers);
  src.copy(out, off + headers, ipOff + headers + from, ipOff + headers + from + len);
  out.writeUInt16BE(total, off + 2);
  const ot = off + ipHl;
  out.writeUInt32BE((out.readUInt32BE(ot + 4) + from) >>> 0, ot + 4);
  if (from + len < payloadLen) out[ot + 13] = (out[ot + 13] as number) & ~TCP_FIN;
  fillIpv4Checksum(out, off);
  fillTcpChecksum(out, off);
  return total;
}
