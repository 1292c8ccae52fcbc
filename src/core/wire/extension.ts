import { Buffer } from 'node:buffer';
import { MESSAGE_SIZE } from './constants.js';
import { writeMessage, type ChannelMessage } from './messages.js';

/*
 * Response-payload extension of the channel (docs/wire-extension.md). Neither stock program knows
 * it, so it is opt-in in both directions:
 *
 * Copier → interceptor, once per connection right after the hello: a 14-byte message of an
 * unknown type, which a stock interceptor logs and ignores (wire-protocol §2):
 *
 *   off size field
 *    0   4   magic 0x54435453 ("TCTS")        (the clt_ip slot)
 *    4   2   extension version, 1              (clt_port)
 *    6   2   type 0x7473 ("ts")                (type)
 *    8   4   payload bytes wanted per response packet; 0xffffffff = all   (target_ip)
 *   12   2   flags, 0                          (target_port)
 *
 * Interceptor → copier, only on a connection that sent the request: extension frames in the
 * record stream, told apart from combined frames by a count no stock frame can carry:
 *
 *   off size field
 *    0   2   0xffff marker (u16 big-endian, where a combined frame has its count)
 *    2   1   kind: 1 ACK, 2 RECORD+PAYLOAD
 *    3   1   flags, 0
 *    4   4   body length, u32 big-endian (≤ EXT_MAX_BODY)
 *    8   n   body
 *
 *   ACK body (12 bytes): magic u32, version u16, reserved u16, payload bytes granted per packet
 *     u32 (0: this interceptor copies no payload, only the standard records follow).
 *   RECORD+PAYLOAD body: one standard record (64 bytes, 192 in the payload variant), then the
 *     first bytes of that packet's TCP payload (at most the granted count).
 */

export const EXT_MAGIC = 0x54435453;
export const EXT_VERSION = 1;
/** Message type of the copier's request (an unknown type to stock interceptors). */
export const MSG_EXT_REQUEST = 0x7473;
/** Where a combined frame has its count: larger than any count a stock interceptor writes. */
export const EXT_FRAME_MARKER = 0xffff;
export const EXT_HEADER_SIZE = 8;
export const EXT_KIND_ACK = 1;
export const EXT_KIND_RECORD_PAYLOAD = 2;
export const EXT_ACK_BODY_SIZE = 12;
/** Payload bytes a copier asks for when it wants whole responses. */
export const EXT_ALL_PAYLOAD = 0xffffffff;
/** Largest body accepted: a 192-byte record plus an IPv4 packet's largest payload. */
export const EXT_MAX_BODY = 192 + 65535;

/** The request a copier sends after its hello. */
export function encodeExtRequest(payloadBytes: number): Buffer {
  const b = Buffer.alloc(MESSAGE_SIZE);
  writeMessage(b, 0, { cltIp: EXT_MAGIC, cltPort: EXT_VERSION, type: MSG_EXT_REQUEST, targetIp: payloadBytes >>> 0, targetPort: 0 });
  return b;
}

/** Whether a decoded copier message is our extension request (magic and type both match). */
export function isExtRequest(m: ChannelMessage): boolean {
  return m.type === MSG_EXT_REQUEST && m.cltIp === EXT_MAGIC;
}

/** Writes an extension frame header at `off`; returns the header size. */
export function writeExtHeader(out: Buffer, off: number, kind: number, bodyLen: number): number {
  out.writeUInt16BE(EXT_FRAME_MARKER, off);
  out[off + 2] = kind;
  out[off + 3] = 0;
  out.writeUInt32BE(bodyLen >>> 0, off + 4);
  return EXT_HEADER_SIZE;
}

/** The interceptor's ACK frame: the payload bytes per packet it will forward. */
export function encodeExtAck(granted: number): Buffer {
  const b = Buffer.alloc(EXT_HEADER_SIZE + EXT_ACK_BODY_SIZE);
  writeExtHeader(b, 0, EXT_KIND_ACK, EXT_ACK_BODY_SIZE);
  b.writeUInt32BE(EXT_MAGIC, 8);
  b.writeUInt16BE(EXT_VERSION, 12);
  b.writeUInt32BE(granted >>> 0, 16);
  return b;
}

/** The granted payload bytes of an ACK body, or −1 when it is not one of ours. */
export function readExtAck(body: Buffer, off: number, len: number): number {
  if (len < EXT_ACK_BODY_SIZE || body.readUInt32BE(off) !== EXT_MAGIC) return -1;
  return body.readUInt32BE(off + 8);
}

/** Writes a RECORD+PAYLOAD frame at `off`: header, the record, then `payLen` payload bytes from `pkt`; returns its size. */
export function writeExtRecord(out: Buffer, off: number, record: Buffer, recOff: number, recordSize: number, pkt: Buffer, payOff: number, payLen: number): number {
  writeExtHeader(out, off, EXT_KIND_RECORD_PAYLOAD, recordSize + payLen);
  record.copy(out, off + EXT_HEADER_SIZE, recOff, recOff + recordSize);
  pkt.copy(out, off + EXT_HEADER_SIZE + recordSize, payOff, payOff + payLen);
  return EXT_HEADER_SIZE + recordSize + payLen;
}

/** The same frame in a buffer of its own. */
export function encodeExtRecord(record: Buffer, recOff: number, recordSize: number, pkt: Buffer, payOff: number, payLen: number): Buffer {
  const b = Buffer.allocUnsafe(EXT_HEADER_SIZE + recordSize + payLen);
  writeExtRecord(b, 0, record, recOff, recordSize, pkt, payOff, payLen);
  return b;
}
