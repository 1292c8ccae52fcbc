import { Buffer } from 'node:buffer';

const EMPTY = Buffer.alloc(0);

/**
 * Zero-copy view of an IPv4 header (RFC 791). Byte layout at `off`:
 *
 *   0  version:4 ihl:4     1  tos            2-3  total length
 *   4-5  identification    6-7  flags:3 (0, DF, MF) fragment offset:13 (8-byte units)
 *   8  ttl                 9  protocol       10-11 header checksum
 *   12-15 source address   16-19 destination address   20.. options (ihl*4 - 20 bytes)
 *
 * The view does no bounds checking of its own (Buffer methods throw on out-of-range reads):
 * run classifyIpv4() first on untrusted input. Setters do not update the checksum; use
 * fillIpv4Checksum() or the incremental rewrite helpers.
 */
export class Ipv4View {
  buf: Buffer = EMPTY;
  off = 0;

  /** Point the view at another packet; returns this so one view serves every packet. */
  wrap(buf: Buffer, off = 0): this {
    this.buf = buf;
    this.off = off;
    return this;
  }

  get version(): number {
    return (this.buf[this.off] as number) >>> 4;
  }
  set version(v: number) {
    const o = this.off;
    this.buf[o] = ((v & 0x0f) << 4) | ((this.buf[o] as number) & 0x0f);
  }

  /** Header length in 32-bit words. */
  get ihl(): number {
    return (this.buf[this.off] as number) & 0x0f;
  }
  set ihl(v: number) {
    const o = this.off;
    this.buf[o] = ((this.buf[o] as number) & 0xf0) | (v & 0x0f);
  }

  /** Header length in bytes (ihl * 4). */
  get headerLength(): number {
    return ((this.buf[this.off] as number) & 0x0f) << 2;
  }
  set headerLength(bytes: number) {
    this.ihl = bytes >>> 2;
  }

  get tos(): number {
    return this.buf[this.off + 1] as number;
  }
  set tos(v: number) {
    this.buf[this.off + 1] = v & 0xff;
  }

  get totalLength(): number {
    return this.buf.readUInt16BE(this.off + 2);
  }
  set totalLength(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 2);
  }

  get id(): number {
    return this.buf.readUInt16BE(this.off + 4);
  }
  set id(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 4);
  }

  /** Don't-fragment flag. */
  get df(): boolean {
    return ((this.buf[this.off + 6] as number) & 0x40) !== 0;
  }
  set df(v: boolean) {
    const o = this.off + 6;
    const b = this.buf[o] as number;
    this.buf[o] = v ? b | 0x40 : b & ~0x40;
  }

  /** More-fragments flag. */
  get mf(): boolean {
    return ((this.buf[this.off + 6] as number) & 0x20) !== 0;
  }
  set mf(v: boolean) {
    const o = this.off + 6;
    const b = this.buf[o] as number;
    this.buf[o] = v ? b | 0x20 : b & ~0x20;
  }

  /** Fragment offset in 8-byte units (13 bits). */
  get fragOffset(): number {
    return this.buf.readUInt16BE(this.off + 6) & 0x1fff;
  }
  set fragOffset(v: number) {
    const o = this.off + 6;
    this.buf.writeUInt16BE((this.buf.readUInt16BE(o) & 0xe000) | (v & 0x1fff), o);
  }

  /** True for any fragment: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (this.buf.readUInt16BE(this.off + 6) & 0x3fff) !== 0;
  }

  get ttl(): number {
    return this.buf[this.off + 8] as number;
  }
  set ttl(v: number) {
    this.buf[this.off + 8] = v & 0xff;
  }

  get protocol(): number {
    return this.buf[this.off + 9] as number;
  }
  set protocol(v: number) {
    this.buf[this.off + 9] = v & 0xff;
  }

  get checksum(): number {
    return this.buf.readUInt16BE(this.off + 10);
  }
  set checksum(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 10);
  }

  /** Source address as an unsigned 32-bit number. */
  get src(): number {
    return this.buf.readUInt32BE(this.off + 12);
  }
  set src(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.off + 12);
  }

  /** Destination address as an unsigned 32-bit number. */
  get dst(): number {
    return this.buf.readUInt32BE(this.off + 16);
  }
  set dst(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.off + 16);
  }

  /** Offset of the layer-4 header (off + header length). */
  get payloadOffset(): number {
    return this.off + (((this.buf[this.off] as number) & 0x0f) << 2);
  }

  /** Bytes after the IP header according to the total length field. */
  get payloadLength(): number {
    return this.buf.readUInt16BE(this.off + 2) - (((this.buf[this.off] as number) & 0x0f) << 2);
  }
}


export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Dotted-quad text of an unsigned 32-bit address. */
export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/**
 * Parse a strict dotted quad ("10.0.0.2") into an unsigned 32-bit number; null when malformed.
 * Leading zeros ("010") are rejected because other tools read them as octal.
 */
export function parseIpv4(str: string): number | null {
  const parts = str.split('.');
  if (parts.length !== 4) return null;
  let ip = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    ip = ip * 256 + n;
  }
  return ip;
}
