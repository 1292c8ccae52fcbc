import { Buffer } from 'node:buffer';
import type { ByteOrder } from './pcap-writer.js';

/**
 * Minimal pure pcapng encoder (block layouts in reader.ts): section headers, interface
 * descriptions with if_tsresol / if_tsoffset, enhanced and simple packet blocks, and arbitrary
 * blocks (to produce files with blocks a reader must skip). Used by tests and fixture tools, and
 * by the live recorder (io/pcapng-recorder.ts: its section and interface blocks).
 */
export interface InterfaceSpec {
  linkType: number;
  snaplen?: number;
  /** Raw if_tsresol byte: n → 10^-n s, 0x80|n → 2^-n s. Omitted → microseconds (no option). */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class PcapngEncoder {
  constructor(readonly byteOrder: ByteOrder = 'le') {}

  private u32(b: Buffer, v: number, o: number): void {
    if (this.byteOrder === 'le') b.writeUInt32LE(v >>> 0, o);
    else b.writeUInt32BE(v >>> 0, o);
  }

  private u16(b: Buffer, v: number, o: number): void {
    if (this.byteOrder === 'le') b.writeUInt16LE(v, o);
    else b.writeUInt16BE(v, o);
  }

  /** Any block: type, total length, body (padded to 4), total length. */
  block(type: number, body: Uint8Array): Buffer {
    const len = 12 + pad4(body.length);
    const b = Buffer.alloc(len);
    this.u32(b, type, 0);
    this.u32(b, len, 4);
    b.set(body, 8);
    this.u32(b, len, len - 4);
    return b;
  }

  sectionHeader(): Buffer {
    const body = Buffer.alloc(16);
    this.u32(body, 0x1a2b3c4d, 0);
    this.u16(body, 1, 4);
    this.u16(body, 0, 6);
    body.fill(0xff, 8, 16); // section length -1: unknown
    return this.block(0x0a0d0d0a, body);
  }

  interfaceDescription(spec: InterfaceSpec): Buffer {
    const opts: Buffer[] = [];
    if (spec.tsresol !== undefined) {
      const o = Buffer.alloc(8);
      this.u16(o, 9, 0);
      this.u16(o, 1, 2);
      o[4] = spec.tsresol;
      opts.push(o);
    }
    if (spec.tsoffset !== undefined) {
      const o = Buffer.alloc(12);
      this.u16(o, 14, 0);
      this.u16(o, 8, 2);
      const hi = Math.floor(spec.tsoffset / 4294967296);
      const lo = spec.tsoffset - hi * 4294967296;
      if (this.byteOrder === 'le') {
        this.u32(o, lo, 4);
        this.u32(o, hi, 8);
      } else {
        this.u32(o, hi, 4);
        this.u32(o, lo, 8);
      }
      opts.push(o);
    }
    if (opts.length > 0) opts.push(Buffer.alloc(4)); // opt_endofopt
    const fixed = Buffer.alloc(8);
    this.u16(fixed, spec.linkType, 0);
    this.u32(fixed, spec.snaplen ?? 262144, 4);
    return this.block(1, Buffer.concat([fixed, ...opts]));
  }

  /** Enhanced packet block with a raw 64-bit timestamp in interface units (hi:lo). */
  enhancedPacket(interfaceId: number, tsHi: number, tsLo: number, data: Uint8Array, origLen = data.length): Buffer {
    const body = Buffer.alloc(20 + pad4(data.length));
    this.u32(body, interfaceId, 0);
    this.u32(body, tsHi, 4);
    this.u32(body, tsLo, 8);
    this.u32(body, data.length, 12);
    this.u32(body, origLen, 16);
    body.set(data, 20);
    return this.block(6, body);
  }

  /** Enhanced packet block; the timestamp is converted to `unitsPerSec` units with BigInt (tools only). */
  enhancedPacketAt(interfaceId: number, tsSec: number, tsNsec: number, unitsPerSec: bigint, data: Uint8Array, origLen = data.length): Buffer {
    const units = (BigInt(tsSec) * unitsPerSec) + (BigInt(tsNsec) * unitsPerSec) / 1000000000n;
    return this.enhancedPacket(interfaceId, Number(units >> 32n), Number(units & 0xffffffffn), data, origLen);
  }

  simplePacket(data: Uint8Array, origLen = data.length): Buffer {
    const body = Buffer.alloc(4 + pad4(data.length));
    this.u32(body, origLen, 0);
    body.set(data, 4);
    return this.block(3, body);
  }
}
