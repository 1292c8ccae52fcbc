import type { Buffer } from 'node:buffer';
import { csumReplace32, patchU16, patchU32 } from '../../../src/core/packet/checksum.js';

/**
 * In-place field rewrites of a classified ('tcp') IPv4/TCP packet that keep both checksums
 * valid by RFC 1624 incremental update — the payload is never re-summed. If the checksums were
 * wrong before (e.g. a capture on `lo` with checksum offload), they stay wrong by the same
 * amount: use fillTcpChecksum() for such packets instead.
 */

function tcpOff(buf: Buffer, ipOff: number): number {
  return ipOff + (((buf[ipOff] as number) & 0x0f) << 2);
}

function rewriteAddr(buf: Buffer, ipOff: number, at: number, addr: number): void {
  const old = buf.readUInt32BE(at);
  addr >>>= 0;
  if (old === addr) return;
  // The address is in the IP header and in the TCP pseudo-header; both sums change.
  patchU32(buf, at, addr, ipOff + 10, ipOff);
  const c = tcpOff(buf, ipOff) + 16;
  buf.writeUInt16BE(csumReplace32(buf.readUInt16BE(c), old, addr), c);
}

export function rewriteSrcAddr(buf: Buffer, ipOff: number, addr: number): void {
  rewriteAddr(buf, ipOff, ipOff + 12, addr);
}

export function rewriteDstAddr(buf: Buffer, ipOff: number, addr: number): void {
  rewriteAddr(buf, ipOff, ipOff + 16, addr);
}

export function rewriteTtl(buf: Buffer, ipOff: number, ttl: number): void {
  // TTL shares a 16-bit word with the protocol byte.
  const word = ((ttl & 0xff) << 8) | (buf[ipOff + 9] as number);
  patchU16(buf, ipOff + 8, word, ipOff + 10, ipOff);
}

export function rewriteIpId(buf: Buffer, ipOff: number, id: number): void {
  patchU16(buf, ipOff + 4, id, ipOff + 10, ipOff);
}

export function rewriteSrcPort(buf: Buffer, ipOff: number, port: number): void {
  const t = tcpOff(buf, ipOff);
  patchU16(buf, t, port, t + 16, t);
}

export function rewriteDstPort(buf: Buffer, ipOff: number, port: number): void {
  const t = tcpOff(buf, ipOff);
  patchU16(buf, t + 2, port, t + 16, t);
}

export function rewriteSeq(buf: Buffer, ipOff: number, seq: number): void {
  const t = tcpOff(buf, ipOff);
  patchU32(buf, t + 4, seq, t + 16, t);
}

export function rewriteAck(buf: Buffer, ipOff: number, ack: number): void {
  const t = tcpOff(buf, ipOff);
  patchU32(buf, t + 8, ack, t + 16, t);
}

export function rewriteWindow(buf: Buffer, ipOff: number, win: number): void {
  const t = tcpOff(buf, ipOff);
  patchU16(buf, t + 14, win, t + 16, t);
}

/**
 * Rewrite TSval/TSecr of the timestamps option whose kind byte is at tsOff (from
 * timestampOffset()); works for options on odd offsets too.
 */
export function rewriteTimestamps(buf: Buffer, ipOff: number, tsOff: number, val: number, ecr: number): void {
  const t = tcpOff(buf, ipOff);
  patchU32(buf, tsOff + 2, val, t + 16, t);
  patchU32(buf, tsOff + 6, ecr, t + 16, t);
}

/**
 * Rewrite any big-endian u16/u32 inside the TCP header or payload (e.g. an MSS option value at
 * its offset) with incremental TCP checksum update.
 */
export function rewriteTcpU16(buf: Buffer, ipOff: number, at: number, value: number): void {
  const t = tcpOff(buf, ipOff);
  patchU16(buf, at, value, t + 16, t);
}

export function rewriteTcpU32(buf: Buffer, ipOff: number, at: number, value: number): void {
  const t = tcpOff(buf, ipOff);
  patchU32(buf, at, value, t + 16, t);
}
