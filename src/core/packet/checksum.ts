import type { Buffer } from 'node:buffer';

/**
 * Internet checksums (RFC 1071) for IPv4 and TCP, and RFC 1624 incremental updates.
 *
 * Sums are kept as plain JS numbers (exact up to 2^53) and folded once at the end, which is
 * cheaper than an end-around carry per word and is exact for any packet size.
 * A "sum" here is the folded ones'-complement sum (1..0xffff for non-zero data); a "checksum" is
 * its complement, as stored in a header.
 */

/** Fold a non-negative integer sum to 16 bits with end-around carry. */
function fold(s: number): number {
  // First step with division because s can exceed 2^32 for very large inputs.
  s = (s % 0x10000) + Math.floor(s / 0x10000);
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}

/**
 * Ones'-complement sum of `len` bytes at `off` (big-endian 16-bit words; an odd last byte is
 * padded with zero), plus `initial` (any non-negative integer, e.g. a pseudo-header sum).
 * Returns the folded 16-bit sum, not complemented.
 */
export function onesSum(buf: Buffer, off: number, len: number, initial = 0): number {
  let s = initial;
  let i = off;
  const end = off + len;
  const end4 = off + (len & ~3);
  // Two words per iteration; plain byte math keeps this free of bounds-checked calls.
  while (i < end4) {
    s += (((buf[i] as number) << 8) | (buf[i + 1] as number)) + (((buf[i + 2] as number) << 8) | (buf[i + 3] as number));
    i += 4;
  }
  if (i + 1 < end) {
    s += ((buf[i] as number) << 8) | (buf[i + 1] as number);
    i += 2;
  }
  if (i < end) s += (buf[i] as number) << 8;
  return fold(s);
}

/** Ones'-complement checksum of the IPv4 header at ipOff, treating its checksum field as zero. */
export function ipv4HeaderChecksum(buf: Buffer, ipOff: number): number {
  const hl = ((buf[ipOff] as number) & 0x0f) << 2;
  const stored = buf.readUInt16BE(ipOff + 10);
  // Subtracting the stored field (as its complement) equals summing with the field zeroed.
  return ~fold(onesSum(buf, ipOff, hl) + (~stored & 0xffff)) & 0xffff;
}

/**
 * Full TCP checksum (pseudo-header + header + payload) of the IPv4/TCP packet at ipOff, as it
 * should be stored; the stored value is ignored. The TCP length comes from the IP total length.
 */
export function tcpChecksum(buf: Buffer, ipOff: number): number {
  const hl = ((buf[ipOff] as number) & 0x0f) << 2;
  const tcpLen = buf.readUInt16BE(ipOff + 2) - hl;
  const tcpOff = ipOff + hl;
  const stored = buf.readUInt16BE(tcpOff + 16);
  const s = onesSum(buf, tcpOff, tcpLen, pseudoHeaderSum(buf, ipOff, tcpLen) + (~stored & 0xffff));
  return ~fold(s) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (src, dst, zero+protocol, TCP length) for the packet at ipOff. */
export function pseudoHeaderSum(buf: Buffer, ipOff: number, l4Len: number): number {
  return (
    buf.readUInt16BE(ipOff + 12) +
    buf.readUInt16BE(ipOff + 14) +
    buf.readUInt16BE(ipOff + 16) +
    buf.readUInt16BE(ipOff + 18) +
    (buf[ipOff + 9] as number) +
    l4Len
  );
}

/** Compute and store the IPv4 header checksum. */
export function fillIpv4Checksum(buf: Buffer, ipOff: number): void {
  buf.writeUInt16BE(ipv4HeaderChecksum(buf, ipOff), ipOff + 10);
}

/** Compute and store the TCP checksum (the IP total length and IHL must already be set). */
export function fillTcpChecksum(buf: Buffer, ipOff: number): void {
  const hl = ((buf[ipOff] as number) & 0x0f) << 2;
  buf.writeUInt16BE(tcpChecksum(buf, ipOff), ipOff + hl + 16);
}

/** True when the stored IPv4 header checksum is correct. */
export function verifyIpv4Checksum(buf: Buffer, ipOff: number): boolean {
  const hl = ((buf[ipOff] as number) & 0x0f) << 2;
  return onesSum(buf, ipOff, hl) === 0xffff;
}

/** True when the stored TCP checksum is correct. */
export function verifyTcpChecksum(buf: Buffer, ipOff: number): boolean {
  const hl = ((buf[ipOff] as number) & 0x0f) << 2;
  const tcpLen = buf.readUInt16BE(ipOff + 2) - hl;
  return onesSum(buf, ipOff + hl, tcpLen, pseudoHeaderSum(buf, ipOff, tcpLen)) === 0xffff;
}

/**
 * RFC 1624 eqn. 3: the checksum field after a 16-bit word changes from oldU16 to newU16:
 *   HC' = ~(~HC + ~m + m')
 * Eqn. 3 (not eqn. 2's subtraction form) is used because it never produces the 0x0000 / 0xffff
 * "negative zero" mismatch against a full recompute: the folded sum of non-zero data is never 0.
 */
export function csumReplace16(csum: number, oldU16: number, newU16: number): number {
  const s = (~csum & 0xffff) + (~oldU16 & 0xffff) + (newU16 & 0xffff);
  return ~fold(s) & 0xffff;
}

/** As csumReplace16 for a 32-bit field (two adjacent aligned words). */
export function csumReplace32(csum: number, oldU32: number, newU32: number): number {
  const s =
    (~csum & 0xffff) +
    (~(oldU32 >>> 16) & 0xffff) +
    (~oldU32 & 0xffff) +
    (newU32 >>> 16) +
    (newU32 & 0xffff);
  return ~fold(s) & 0xffff;
}

/** Swap the two bytes of a 16-bit value. */
function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/**
 * Write a big-endian u16 at `off` and fix, without re-summing, the checksum stored at `csumOff`
 * whose summed region starts at `regionStart`. A field on an odd offset within the region
 * contributes byte-swapped (RFC 1071 §2(B)), which is handled here, so this works for any
 * TCP option position.
 */
export function patchU16(buf: Buffer, off: number, value: number, csumOff: number, regionStart: number): void {
  const old = buf.readUInt16BE(off);
  value &= 0xffff;
  if (old === value) return;
  buf.writeUInt16BE(value, off);
  const odd = ((off - regionStart) & 1) === 1;
  const csum = buf.readUInt16BE(csumOff);
  buf.writeUInt16BE(odd ? csumReplace16(csum, swap16(old), swap16(value)) : csumReplace16(csum, old, value), csumOff);
}

/** As patchU16 for a big-endian u32 field. */
export function patchU32(buf: Buffer, off: number, value: number, csumOff: number, regionStart: number): void {
  const old = buf.readUInt32BE(off);
  value >>>= 0;
  if (old === value) return;
  buf.writeUInt32BE(value, off);
  const csum = buf.readUInt16BE(csumOff);
  if (((off - regionStart) & 1) === 0) {
    buf.writeUInt16BE(csumReplace32(csum, old, value), csumOff);
  } else {
    // Odd position: each byte-swapped half contributes; swapping halves keeps it one call.
    const so = ((swap16(old >>> 16) << 16) | swap16(old & 0xffff)) >>> 0;
    const sn = ((swap16(value >>> 16) << 16) | swap16(value & 0xffff)) >>> 0;
    buf.writeUInt16BE(csumReplace32(csum, so, sn), csumOff);
  }
}
