import { Buffer } from 'node:buffer';
import { INTERNAL_VERSION, MESSAGE_SIZE, MSG_CLIENT_ADD, MSG_CLIENT_DEL } from './constants.js';

/*
 * Copier → interceptor message, 14 bytes, packed (docs/wire-protocol.md §2):
 *
 *   off size field
 *    0   4   clt_ip       IPv4, network order
 *    4   2   clt_port     network order
 *    6   2   type         u16 big-endian: 1 CLIENT_ADD, 2 CLIENT_DEL, 6 hello (INTERNAL_VERSION)
 *    8   4   target_ip    IPv4, network order
 *   12   2   target_port  network order
 *
 * Addresses are handled as u32 numbers holding the big-endian value of the four network bytes
 * (the packet layer's convention), so 198.51.100.7 is 0xc6336407.
 */

/** A decoded message. Reused by the decoder: copy the fields out if you keep them. */
export interface ChannelMessage {
  cltIp: number;
  cltPort: number;
  type: number;
  targetIp: number;
  targetPort: number;
}

export function newChannelMessage(): ChannelMessage {
  return { cltIp: 0, cltPort: 0, type: 0, targetIp: 0, targetPort: 0 };
}

/** Writes one 14-byte message at `off`; returns the bytes written (14). */
export function writeMessage(out: Buffer, off: number, m: ChannelMessage): number {
  out.writeUInt32BE(m.cltIp >>> 0, off);
  out.writeUInt16BE(m.cltPort & 0xffff, off + 4);
  out.writeUInt16BE(m.type & 0xffff, off + 6);
  out.writeUInt32BE(m.targetIp >>> 0, off + 8);
  out.writeUInt16BE(m.targetPort & 0xffff, off + 12);
  return MESSAGE_SIZE;
}

/** Reads one 14-byte message at `off` (the caller guarantees 14 bytes are there). */
export function readMessage(buf: Buffer, off: number, out: ChannelMessage): ChannelMessage {
  out.cltIp = buf.readUInt32BE(off);
  out.cltPort = buf.readUInt16BE(off + 4);
  out.type = buf.readUInt16BE(off + 6);
  out.targetIp = buf.readUInt32BE(off + 8);
  out.targetPort = buf.readUInt16BE(off + 12);
  return out;
}

/** The hello every copier sends first on every connection: zeros except type = 6. */
export function encodeHello(version: number = INTERNAL_VERSION): Buffer {
  const b = Buffer.alloc(MESSAGE_SIZE);
  writeMessage(b, 0, { cltIp: 0, cltPort: 0, type: version, targetIp: 0, targetPort: 0 });
  return b;
}

/** CLIENT_ADD: responses to cltIp:cltPort from targetIp:targetPort belong to this connection. */
export function encodeClientAdd(cltIp: number, cltPort: number, targetIp: number, targetPort: number): Buffer {
  const b = Buffer.alloc(MESSAGE_SIZE);
  writeMessage(b, 0, { cltIp, cltPort, type: MSG_CLIENT_ADD, targetIp, targetPort });
  return b;
}

/** CLIENT_DEL: defined by the protocol, never sent by the stock copier. */
export function encodeClientDel(cltIp: number, cltPort: number, targetIp: number, targetPort: number): Buffer {
  const b = Buffer.alloc(MESSAGE_SIZE);
  writeMessage(b, 0, { cltIp, cltPort, type: MSG_CLIENT_DEL, targetIp, targetPort });
  return b;
}
