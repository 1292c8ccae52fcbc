import { Buffer } from 'node:buffer';
import { describeLinkType } from './link-types.js';

/**
 * Pure pcap encoder (the classic libpcap format, version 2.4). Layout in reader.ts. The encoder
 * produces bytes; the io layer (src/io/pcap-file.ts) puts them in a file.
 */
export type TimestampPrecision = 'us' | 'ns';
export type ByteOrder = 'le' | 'be';

export interface PcapWriterOptions {
  linkType: number;
  /** Default 'us'. 'ns' writes the 0xa1b23c4d magic and nanosecond fractions. */
  precision?: TimestampPrecision;
  /** Default 262144 (what tcpdump writes). */
  snaplen?: number;
  /** Default 'le' (what every little-endian host writes); 'be' for a byte-swapped file. */
  byteOrder?: ByteOrder;
}

export const PCAP_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;

export class PcapEncoder {
  readonly linkType: number;
  readonly precision: TimestampPrecision;
  readonly snaplen: number;
  readonly byteOrder: ByteOrder;

  constructor(opts: PcapWriterOptions) {
    if (!Number.isInteger(opts.linkType) || opts.linkType < 0 || opts.linkType > 0xffff) {
      throw new RangeError(`pcap link type must be an integer 0..65535, got ${describeLinkType(opts.linkType)}`);
    }
    this.linkType = opts.linkType;
    this.precision = opts.precision ?? 'us';
    this.snaplen = opts.snaplen ?? 262144;
    this.byteOrder = opts.byteOrder ?? 'le';
  }

  /** The 24-byte global header. */
  header(): Buffer {
    const b = Buffer.alloc(PCAP_HEADER_LENGTH);
    const le = this.byteOrder === 'le';
    const magic = this.precision === 'ns' ? 0xa1b23c4d : 0xa1b2c3d4;
    if (le) {
      b.writeUInt32LE(magic, 0);
      b.writeUInt16LE(2, 4);
      b.writeUInt16LE(4, 6);
      b.writeUInt32LE(this.snaplen, 16);
      b.writeUInt32LE(this.linkType, 20);
    } else {
      b.writeUInt32BE(magic, 0);
      b.writeUInt16BE(2, 4);
      b.writeUInt16BE(4, 6);
      b.writeUInt32BE(this.snaplen, 16);
      b.writeUInt32BE(this.linkType, 20);
    }
    return b;
  }

  /**
   * Writes a 16-byte record header at out[off]; the caller copies capLen data bytes after it.
   * tsNsec is nanoseconds within the second (truncated to microseconds for 'us' files).
   */
  writeRecordHeader(out: Buffer, off: number, tsSec: number, tsNsec: number, capLen: number, origLen: number): number {
    const frac = this.precision === 'ns' ? tsNsec : Math.floor(tsNsec / 1000);
    if (this.byteOrder === 'le') {
      out.writeUInt32LE(tsSec >>> 0, off);
      out.writeUInt32LE(frac, off + 4);
      out.writeUInt32LE(capLen, off + 8);
      out.writeUInt32LE(origLen, off + 12);
    } else {
      out.writeUInt32BE(tsSec >>> 0, off);
      out.writeUInt32BE(frac, off + 4);
      out.writeUInt32BE(capLen, off + 8);
      out.writeUInt32BE(origLen, off + 12);
    }
    return PCAP_RECORD_HEADER_LENGTH;
  }

  /**
   * Encodes header + data into out[off] (must have 16 + data.length bytes of room); returns the
   * bytes written. origLen defaults to data.length.
   */
  writeRecord(out: Buffer, off: number, tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length): number {
    this.writeRecordHeader(out, off, tsSec, tsNsec, data.length, origLen);
    out.set(data, off + PCAP_RECORD_HEADER_LENGTH);
    return PCAP_RECORD_HEADER_LENGTH + data.length;
  }

  /** One record as a new Buffer (convenience for tests and small tools). */
  record(tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length): Buffer {
    const b = Buffer.allocUnsafe(PCAP_RECORD_HEADER_LENGTH + data.length);
    this.writeRecord(b, 0, tsSec, tsNsec, data, origLen);
    return b;
  }
}

/** Splits epoch microseconds into the (sec, nsec) pair the encoder takes. */
export function usToSecNsec(tsUs: number): [number, number] {
  const sec = Math.floor(tsUs / 1e6);
  return [sec, (tsUs - sec * 1e6) * 1000];
}
