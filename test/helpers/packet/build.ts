import { Buffer } from 'node:buffer';
import { fillIpv4Checksum, fillTcpChecksum } from '../../../src/core/packet/checksum.js';
import { optionSpecLength, writeTcpOptions, type OptionSpec } from '../../../src/core/packet/options.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/core/packet/tcp.js';

/** Everything needed to build one IPv4/TCP segment (no IP options). */
export interface SegmentSpec {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP flag bits (TCP_SYN | TCP_ACK …). */
  flags: number;
  window: number;
  /** IP identification, written as given (the caller keeps the per-flow counter). */
  ipId: number;
  /** Default 64 (Linux's default). */
  ttl?: number;
  /** Default 0. */
  tos?: number;
  /** Don't-fragment; default true, as Linux sets it on TCP with path-MTU discovery. */
  df?: boolean;
  options?: OptionSpec;
  /** Payload bytes, copied in; may be a subarray view of a captured packet. */
  payload?: Buffer;
}

/** Spec for the conveniences: flags given there are OR-ed into the builder's own. */
export type PartialFlagsSpec = Omit<SegmentSpec, 'flags'> & { flags?: number };

const IP_HEADER = 20;
const TCP_HEADER = 20;

/** Total bytes writeSegment will write for `spec`. */
export function segmentLength(spec: SegmentSpec): number {
  const opt = spec.options === undefined ? 0 : optionSpecLength(spec.options);
  const pay = spec.payload === undefined ? 0 : spec.payload.length;
  return IP_HEADER + TCP_HEADER + opt + pay;
}

/**
 * Write the IPv4 + TCP segment described by `spec` at out[off], with both checksums filled in.
 * Returns the bytes written. Throws RangeError when `out` is too small or the packet would exceed
 * 65535 bytes — both are caller bugs, not packet-data conditions.
 */
export function writeSegment(out: Buffer, off: number, spec: SegmentSpec): number {
  const optLen = spec.options === undefined ? 0 : optionSpecLength(spec.options);
  const payLen = spec.payload === undefined ? 0 : spec.payload.length;
  const tcpHl = TCP_HEADER + optLen;
  const total = IP_HEADER + tcpHl + payLen;
  if (total > 0xffff) throw new RangeError(`segment of ${total} bytes exceeds the IPv4 maximum of 65535`);
  if (off < 0 || off + total > out.length) {
    throw new RangeError(`segment of ${total} bytes does not fit in buffer of ${out.length} at offset ${off}`);
  }
  // IPv4 header.
  out[off] = 0x45;
  out[off + 1] = (spec.tos ?? 0) & 0xff;
  out.writeUInt16BE(total, off + 2);
  out.writeUInt16BE(spec.ipId & 0xffff, off + 4);
  out.writeUInt16BE(spec.df === false ? 0 : 0x4000, off + 6);
  out[off + 8] = (spec.ttl ?? 64) & 0xff;
  out[off + 9] = 6;
  out.writeUInt16BE(0, off + 10);
  out.writeUInt32BE(spec.src >>> 0, off + 12);
  out.writeUInt32BE(spec.dst >>> 0, off + 16);
  // TCP header.
  const t = off + IP_HEADER;
  out.writeUInt16BE(spec.srcPort & 0xffff, t);
  out.writeUInt16BE(spec.dstPort & 0xffff, t + 2);
  out.writeUInt32BE(spec.seq >>> 0, t + 4);
  out.writeUInt32BE(spec.ack >>> 0, t + 8);
  out[t + 12] = (tcpHl >>> 2) << 4;
  out[t + 13] = spec.flags & 0xff;
  out.writeUInt16BE(spec.window & 0xffff, t + 14);
  out.writeUInt32BE(0, t + 16); // checksum + urgent pointer
  if (spec.options !== undefined) writeTcpOptions(out, t + TCP_HEADER, spec.options);
  if (spec.payload !== undefined) spec.payload.copy(out, t + tcpHl);
  fillIpv4Checksum(out, off);
  fillTcpChecksum(out, off);
  return total;
}

/** A new Buffer holding the segment. */
export function buildSegment(spec: SegmentSpec): Buffer {
  const out = Buffer.allocUnsafe(segmentLength(spec));
  writeSegment(out, 0, spec);
  return out;
}

function withFlags(spec: PartialFlagsSpec, flags: number): SegmentSpec {
  return { ...spec, flags: flags | (spec.flags ?? 0) };
}

/** SYN (add TCP_ACK via spec.flags for a SYN-ACK); carries spec.options, e.g. MSS/WS/TS. */
export function buildSyn(spec: PartialFlagsSpec): Buffer {
  return buildSegment(withFlags(spec, TCP_SYN));
}

/** Pure ACK: no payload even if the spec has one. */
export function buildAck(spec: PartialFlagsSpec): Buffer {
  const s = withFlags(spec, TCP_ACK);
  s.payload = undefined;
  return buildSegment(s);
}

/** RST (add TCP_ACK via spec.flags for RST-ACK); no payload. */
export function buildRst(spec: PartialFlagsSpec): Buffer {
  const s = withFlags(spec, TCP_RST);
  s.payload = undefined;
  return buildSegment(s);
}

/** Data segment: ACK + PSH with spec.payload. */
export function buildData(spec: PartialFlagsSpec): Buffer {
  return buildSegment(withFlags(spec, TCP_ACK | TCP_PSH));
}
