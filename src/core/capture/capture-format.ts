import type { Buffer } from 'node:buffer';
import { decodeLink, describeLinkType, isSupportedLinkType, SUPPORTED_LINK_TYPES_TEXT } from './link-types.js';
import type { CaptureRecord } from './record.js';
import { MICROSECONDS, resolutionFromByte, splitTimestamp, type TsResolution } from './timestamp.js';
import { be32, le32 } from './unit-input.js';

/*
 * Format constants and record decoders of pcap and pcapng (the parser's state machine is in
 * reader.ts).
 *
 * pcap layout (all fields in the file's byte order):
 *   global header 24 B: magic u32 | major u16 | minor u16 | thiszone i32 | sigfigs u32 |
 *                       snaplen u32 | network u32 (low 16 bits: link type)
 *   record header 16 B: ts_sec u32 | ts_usec_or_nsec u32 | incl_len u32 | orig_len u32, then data
 * pcapng block: type u32 | total_length u32 | body | total_length u32 (length multiple of 4)
 *   SHB 0x0A0D0D0A: BOM 0x1A2B3C4D u32 (defines the section byte order) | major u16 | minor u16 |
 *                   section_length i64 | options
 *   IDB 1: linktype u16 | reserved u16 | snaplen u32 | options (if_tsresol 9, if_tsoffset 14)
 *   EPB 6: if_id u32 | ts_hi u32 | ts_lo u32 | cap_len u32 | orig_len u32 | data (pad 4) | options
 *   SPB 3: orig_len u32 | data (cap_len = min(orig_len, snaplen of IDB 0, room in block))
 *   OPB 2 (obsolete): if_id u16 | drops u16 | ts_hi | ts_lo | cap_len | orig_len | data
 */

/** Largest frame accepted: libpcap's maximum snapshot length. */
export const MAX_CAPLEN = 262144;
/** Largest pcapng packet block: max frame + fixed fields + room for options. */
export const MAX_PACKET_BLOCK = MAX_CAPLEN + 65536;
/** Largest SHB/IDB we buffer to read options (anything bigger is corrupt in practice). */
export const MAX_META_BLOCK = 1 << 20;
/** Unknown blocks up to this size are buffered whole; larger ones are streamed past. */
export const SMALL_BLOCK = 4096;

export const MAGIC_US = 0xa1b2c3d4;
export const MAGIC_NS = 0xa1b23c4d;
export const MAGIC_US_SWAPPED = 0xd4c3b2a1;
export const MAGIC_NS_SWAPPED = 0x4d3cb2a1;
export const PCAPNG_SHB = 0x0a0d0d0a;
export const BOM = 0x1a2b3c4d;
export const BOM_SWAPPED = 0x4d3c2b1a;
export const BT_IDB = 1;
export const BT_OPB = 2;
export const BT_SPB = 3;
export const BT_EPB = 6;

export interface Iface {
  linkType: number;
  supported: boolean;
  snaplen: number;
  ts: TsResolution;
}

/** An interface description block at b[o, o + len); `fail(at, …)` gets the offset within the block. */
export function parseIdb(b: Buffer, o: number, len: number, le: boolean, fail: (at: number, reason: string) => Error): Iface {
  const u16 = (x: Buffer, i: number): number => (le ? x[i]! | (x[i + 1]! << 8) : (x[i]! << 8) | x[i + 1]!);
  const u32 = (x: Buffer, i: number): number => (le ? le32(x, i) : be32(x, i));
  const linkType = u16(b, o + 8);
  const snaplen = u32(b, o + 12);
  let resByte = 6;
  let offsetSec = 0;
  // Options: code u16 | length u16 | value padded to 4; opt_endofopt (0) ends the list.
  let p = o + 16;
  const end = o + len - 4;
  while (p + 4 <= end) {
    const code = u16(b, p);
    const olen = u16(b, p + 2);
    if (code === 0) break;
    const vend = p + 4 + olen;
    if (vend > end) throw fail(p - o, `interface option ${code} of length ${olen} runs past its block`);
    if (code === 9 && olen >= 1) resByte = b[p + 4]!;
    else if (code === 14 && olen >= 8) {
      const hi = le ? u32(b, p + 8) | 0 : u32(b, p + 4) | 0;
      const lo = le ? u32(b, p + 4) : u32(b, p + 8);
      offsetSec = hi * 4294967296 + lo;
    }
    p += 4 + ((olen + 3) & ~3);
  }
  const ts = resByte === 6 && offsetSec === 0 ? MICROSECONDS : resolutionFromByte(resByte, offsetSec);
  if ((resByte & 0x7f) > 63 || (!ts.base2 && ts.exponent > 18)) {
    throw fail(0, `unsupported if_tsresol 0x${resByte.toString(16)} in interface description block`);
  }
  return { linkType, supported: isSupportedLinkType(linkType), snaplen, ts };
}

/**
 * Decodes the pcapng packet block (EPB/SPB/OPB) at b[o, o + len) into `rec` as packet number
 * `index`; `start` is its file offset. Throws (through `fail`) on a block that cannot be right.
 */
export function fillPacketBlock(
  rec: CaptureRecord,
  b: Buffer,
  o: number,
  type: number,
  len: number,
  le: boolean,
  ifaces: readonly Iface[],
  index: number,
  start: number,
  sectionStart: number,
  fail: (at: number, reason: string) => Error,
): void {
  const trailer = le ? le32(b, o + len - 4) : be32(b, o + len - 4);
  if (trailer !== len) throw fail(start + len - 4, `block trailer length ${trailer} does not match header length ${len} (block at ${start})`);
  let ifId: number;
  let capLen: number;
  let origLen: number;
  let dataAt: number;
  let hi = 0;
  let lo = 0;
  if (type === BT_SPB) {
    ifId = 0;
    origLen = le ? le32(b, o + 8) : be32(b, o + 8);
    dataAt = 12;
    capLen = Math.min(origLen, len - 16);
    const first = ifaces[0];
    if (first !== undefined && first.snaplen > 0 && capLen > first.snaplen) capLen = first.snaplen;
  } else {
    ifId = type === BT_EPB ? (le ? le32(b, o + 8) : be32(b, o + 8)) : le ? b[o + 8]! | (b[o + 9]! << 8) : (b[o + 8]! << 8) | b[o + 9]!;
    hi = le ? le32(b, o + 12) : be32(b, o + 12);
    lo = le ? le32(b, o + 16) : be32(b, o + 16);
    capLen = le ? le32(b, o + 20) : be32(b, o + 20);
    origLen = le ? le32(b, o + 24) : be32(b, o + 24);
    dataAt = 28;
    if (capLen > MAX_CAPLEN) throw fail(start + 20, `impossible record length: caplen ${capLen} exceeds ${MAX_CAPLEN}`);
    if (dataAt + capLen > len - 4) throw fail(start + 20, `caplen ${capLen} does not fit in its ${len}-byte block`);
  }
  const iface = ifaces[ifId];
  if (iface === undefined) {
    throw fail(start + 8, `packet refers to interface ${ifId} but the section (at ${sectionStart}) has ${ifaces.length} interface description block(s)`);
  }
  if (!iface.supported) {
    throw fail(start, `unsupported link type ${describeLinkType(iface.linkType)} on interface ${ifId} (supported: ${SUPPORTED_LINK_TYPES_TEXT})`);
  }
  rec.resetView();
  rec.index = index;
  if (type === BT_SPB) {
    // No timestamp in a simple packet block.
    rec.tsSec = 0;
    rec.tsNsec = 0;
  } else {
    splitTimestamp(hi, lo, iface.ts, rec);
  }
  rec.tsUs = rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000);
  rec.capLen = capLen;
  rec.origLen = origLen;
  rec.linkType = iface.linkType;
  rec.interfaceId = ifId;
  rec.fileOffset = start;
  rec.buf = b;
  rec.dataOffset = o + dataAt;
  decodeLink(iface.linkType, b, o + dataAt, capLen, rec);
}

/** Decodes the pcap record (16-byte header + data) at b[o] into `rec`; `offset` is its file offset. */
export function fillPcapRecord(
  rec: CaptureRecord,
  b: Buffer,
  o: number,
  capLen: number,
  le: boolean,
  nanos: boolean,
  linkType: number,
  index: number,
  offset: number,
): void {
  rec.resetView();
  rec.index = index;
  const sec = le ? le32(b, o) : be32(b, o);
  const frac = le ? le32(b, o + 4) : be32(b, o + 4);
  rec.tsSec = sec;
  if (nanos) {
    rec.tsNsec = frac;
    rec.tsUs = sec * 1e6 + Math.floor(frac / 1000);
  } else {
    rec.tsNsec = frac * 1000;
    rec.tsUs = sec * 1e6 + frac;
  }
  rec.capLen = capLen;
  rec.origLen = le ? le32(b, o + 12) : be32(b, o + 12);
  rec.linkType = linkType;
  rec.interfaceId = 0;
  rec.fileOffset = offset;
  rec.buf = b;
  rec.dataOffset = o + 16;
  decodeLink(linkType, b, o + 16, capLen, rec);
}

/** What a file's first four bytes (read big-endian) say it is: pcap (byte order, ns stamps) or pcapng (le/nanos unused: its section headers say); null: neither. */
export function fileMagic(m: number): { format: 'pcap' | 'pcapng'; le: boolean; nanos: boolean } | null {
  if (m === PCAPNG_SHB) return { format: 'pcapng', le: false, nanos: false };
  if (m === MAGIC_US || m === MAGIC_NS) return { format: 'pcap', le: false, nanos: m === MAGIC_NS };
  if (m === MAGIC_US_SWAPPED || m === MAGIC_NS_SWAPPED) return { format: 'pcap', le: true, nanos: m === MAGIC_NS_SWAPPED };
  return null;
}

/** Throws (through `fail`) when a pcapng block's length field (at start + 4) is impossible. */
export function checkBlockLength(fail: (at: number, reason: string) => Error, start: number, len: number, min: number, max: number, what: string): void {
  if (len % 4 !== 0) throw fail(start + 4, `${what} block length ${len} is not a multiple of 4`);
  if (len < min) throw fail(start + 4, `${what} block length ${len} is below the minimum ${min}`);
  if (len > max) throw fail(start + 4, `impossible ${what} block length ${len} (limit ${max})`);
}

/** Throws (through `fail`) when the block at b[o, o + len) does not end with its own length. */
export function checkTrailer(fail: (at: number, reason: string) => Error, le: boolean, b: Buffer, o: number, start: number, len: number): void {
  const at = o + len - 4;
  const t = le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  if (t !== len) throw fail(start + len - 4, `block trailer length ${t} does not match header length ${len} (block at ${start})`);
}
