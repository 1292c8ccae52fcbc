import { Buffer } from 'node:buffer';

const EMPTY = Buffer.alloc(0);

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/**
 * Zero-copy view of a TCP header (RFC 9293). Byte layout at `off`:
 *
 *   0-1 source port   2-3 destination port   4-7 sequence number   8-11 acknowledgment number
 *   12  data offset:4 reserved:3 AE:1         13  flags CWR ECE URG ACK PSH RST SYN FIN
 *   14-15 window      16-17 checksum          18-19 urgent pointer   20.. options
 *
 * No bounds checks of its own: classify the packet first. Setters leave the checksum alone.
 */
export class TcpView {
  buf: Buffer = EMPTY;
  off = 0;

  /** Point the view at another TCP header; returns this so one view serves every packet. */
  wrap(buf: Buffer, off = 0): this {
    this.buf = buf;
    this.off = off;
    return this;
  }

  get srcPort(): number {
    return this.buf.readUInt16BE(this.off);
  }
  set srcPort(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off);
  }

  get dstPort(): number {
    return this.buf.readUInt16BE(this.off + 2);
  }
  set dstPort(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 2);
  }

  get seq(): number {
    return this.buf.readUInt32BE(this.off + 4);
  }
  set seq(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.off + 4);
  }

  get ack(): number {
    return this.buf.readUInt32BE(this.off + 8);
  }
  set ack(v: number) {
    this.buf.writeUInt32BE(v >>> 0, this.off + 8);
  }

  /** Header length in 32-bit words (the low nibble of byte 12 is kept on write). */
  get dataOffset(): number {
    return (this.buf[this.off + 12] as number) >>> 4;
  }
  set dataOffset(v: number) {
    const o = this.off + 12;
    this.buf[o] = ((v & 0x0f) << 4) | ((this.buf[o] as number) & 0x0f);
  }

  /** Header length in bytes (data offset * 4). */
  get headerLength(): number {
    return ((this.buf[this.off + 12] as number) >>> 4) << 2;
  }
  set headerLength(bytes: number) {
    this.dataOffset = bytes >>> 2;
  }

  /** The 8 flag bits of byte 13 (TCP_FIN … TCP_CWR). */
  get flags(): number {
    return this.buf[this.off + 13] as number;
  }
  set flags(v: number) {
    this.buf[this.off + 13] = v & 0xff;
  }

  get window(): number {
    return this.buf.readUInt16BE(this.off + 14);
  }
  set window(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 14);
  }

  get checksum(): number {
    return this.buf.readUInt16BE(this.off + 16);
  }
  set checksum(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 16);
  }

  get urgent(): number {
    return this.buf.readUInt16BE(this.off + 18);
  }
  set urgent(v: number) {
    this.buf.writeUInt16BE(v & 0xffff, this.off + 18);
  }

  get fin(): boolean {
    return ((this.buf[this.off + 13] as number) & TCP_FIN) !== 0;
  }
  get syn(): boolean {
    return ((this.buf[this.off + 13] as number) & TCP_SYN) !== 0;
  }
  get rst(): boolean {
    return ((this.buf[this.off + 13] as number) & TCP_RST) !== 0;
  }
  get psh(): boolean {
    return ((this.buf[this.off + 13] as number) & TCP_PSH) !== 0;
  }
  get isAck(): boolean {
    return ((this.buf[this.off + 13] as number) & TCP_ACK) !== 0;
  }

  /** Buffer offset where options start (always off + 20). */
  get optionsOffset(): number {
    return this.off + 20;
  }

  /** Bytes of options (header length − 20; negative only for a malformed data offset). */
  get optionsLength(): number {
    return (((this.buf[this.off + 12] as number) >>> 4) << 2) - 20;
  }

  /** Buffer offset of the payload (off + header length). */
  get payloadOffset(): number {
    return this.off + (((this.buf[this.off + 12] as number) >>> 4) << 2);
  }
}

/** Text like "SA" / "P." in tcpdump's style, for logs and test messages (not hot path). */
export function flagsToString(flags: number): string {
  let s = '';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_URG) s += 'U';
  if (flags & TCP_ECE) s += 'E';
  if (flags & TCP_CWR) s += 'W';
  if (flags & TCP_ACK) s += '.';
  return s === '' ? 'none' : s;
}
