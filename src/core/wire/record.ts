import type { Buffer } from 'node:buffer';
import { copyBytes } from './bytes.js';
import {
  MAX_OPTION_BYTES,
  MAX_RECORD_PAYLOAD,
  MAX_RECORD_TCP_HEADER,
  PAYLOAD_RECORD_SIZE,
  RECORD_SIZE,
} from './constants.js';

/*
 * Response record (wire-protocol.md §3), built from a response packet taken from NFQUEUE:
 *
 *   off size
 *    0   20   IPv4 header, first 20 bytes (IHL forced to 5, see below)
 *   20   20   fixed TCP header
 *   40   24   TCP options (as many whole options as fit), zero padded
 *  [64  128   payload-variant only: response payload of 1..128 bytes right after the TCP header]
 *
 * Total Length keeps the response's length so the copier can compute
 * payload = tot_len − ihl*4 − doff*4. Two departures from stock, both keeping that formula right:
 *
 * - IP options (IHL > 5): stock copies 20 bytes but leaves IHL > 5, so a stock copier looks for
 *   the TCP header past offset 20 and misparses the record. We write IHL = 5 and subtract the
 *   option bytes from Total Length; the IP checksum is recomputed for the edited header.
 * - TCP options longer than 24 bytes: stock truncates the bytes but leaves doff, so a parser that
 *   trusts doff reads past the record (and a record parser clamped to 24 bytes can hit an option
 *   cut in half). We copy only the options that fit whole, leave the rest of the 24-byte area
 *   zero (EOL), set doff = 11 (the 44 bytes the record holds) and subtract the removed header
 *   bytes from Total Length, so payload length stays exact for a stock copier. The TCP checksum
 *   is left as it was (neither side checks it; it may be a partial offload sum anyway).
 *
 * Packets that are not a complete IPv4/TCP header are rejected with a reason, never an exception.
 */
export type RecordResult =
  | 'ok'
  | 'short'
  | 'not-ipv4'
  | 'bad-ihl'
  | 'not-tcp'
  | 'fragment'
  | 'bad-tcp-offset';

/** What a built record carried over; filled by `buildRecord` (reused object, no allocation). */
export interface RecordInfo {
  /** Response payload length, as the copier will compute it. */
  payloadLength: number;
  /** TCP flags of the response. */
  flags: number;
  /** Response destination = the (fake) client. u32 big-endian value. */
  clientIp: number;
  clientPort: number;
  /** Response source = the test server. */
  serverIp: number;
  serverPort: number;
  /** True when IP options or TCP options beyond 24 bytes were removed from the record. */
  trimmed: boolean;
}

export function newRecordInfo(): RecordInfo {
  return { payloadLength: 0, flags: 0, clientIp: 0, clientPort: 0, serverIp: 0, serverPort: 0, trimmed: false };
}

/**
 * Builds one record at `out[outOff]` from the IPv4 packet at `pkt[0..len)`. Writes exactly 64
 * bytes (192 with `withPayload`) on 'ok'; writes nothing otherwise.
 */
export function buildRecord(
  pkt: Buffer,
  len: number,
  out: Buffer,
  outOff: number,
  withPayload: boolean,
  info: RecordInfo,
): RecordResult {
  if (len > pkt.length) len = pkt.length;
  if (len < 20) return 'short';
  const b0 = pkt[0] as number;
  if (b0 >> 4 !== 4) return 'not-ipv4';
  const ihl = (b0 & 0x0f) * 4;
  if (ihl < 20) return 'bad-ihl';
  if ((pkt[9] as number) !== 6) return 'not-tcp';
  if ((pkt.readUInt16BE(6) & 0x1fff) !== 0) return 'fragment';
  if (len < ihl + 20) return 'short';
  const totLen = pkt.readUInt16BE(2);
  const doff = ((pkt[ihl + 12] as number) >> 4) * 4;
  if (doff < 20 || totLen < ihl + doff) return 'bad-tcp-offset';

  const size = withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE;
  out.fill(0, outOff, outOff + size);

  // TCP header: the fixed part, then as many whole options as fit in 24 bytes.
  const avail = Math.min(doff, len - ihl);
  let tcpCopy = avail;
  let recDoff = doff;
  if (doff > MAX_RECORD_TCP_HEADER) {
    tcpCopy = 20 + wholeOptionsLength(pkt, ihl + 20, ihl + Math.min(avail, MAX_RECORD_TCP_HEADER));
    recDoff = MAX_RECORD_TCP_HEADER;
  } else if (avail < doff) {
    // Copy range shorter than the header (only with a tiny NFQUEUE copy range): keep whole options.
    tcpCopy = 20 + wholeOptionsLength(pkt, ihl + 20, ihl + avail);
  }
  copyBytes(pkt, 0, out, outOff, 20);
  copyBytes(pkt, ihl, out, outOff + 20, tcpCopy);

  const removed = ihl - 20 + (doff - recDoff);
  const trimmed = removed !== 0;
  if (trimmed) {
    out[outOff] = (b0 & 0xf0) | 5;
    out.writeUInt16BE(totLen - removed, outOff + 2);
    out[outOff + 32] = ((recDoff / 4) << 4) | ((pkt[ihl + 12] as number) & 0x0f);
    fillIpChecksum20(out, outOff);
  }

  const payloadLength = totLen - ihl - doff;
  if (withPayload && payloadLength > 0 && payloadLength <= MAX_RECORD_PAYLOAD) {
    const start = ihl + doff;
    const have = Math.min(payloadLength, len - start);
    // Only a complete payload is carried, as stock does; a partial copy would mislead the reader.
    if (have === payloadLength) copyBytes(pkt, start, out, outOff + 20 + recDoff, have);
  }

  info.payloadLength = payloadLength;
  info.flags = pkt[ihl + 13] as number;
  info.serverIp = pkt.readUInt32BE(12);
  info.clientIp = pkt.readUInt32BE(16);
  info.serverPort = pkt.readUInt16BE(ihl);
  info.clientPort = pkt.readUInt16BE(ihl + 2);
  info.trimmed = trimmed;
  return 'ok';
}

/**
 * Length of the options in buf[start..end) made of whole options only (stops before an option
 * that would cross `end`, at EOL, or at a malformed length), at most 24 bytes.
 */
export function wholeOptionsLength(buf: Buffer, start: number, end: number): number {
  if (end - start > MAX_OPTION_BYTES) end = start + MAX_OPTION_BYTES;
  let p = start;
  while (p < end) {
    const kind = buf[p] as number;
    if (kind === 0) break; // EOL: the zero padding says the same
    if (kind === 1) {
      p++;
      continue;
    }
    if (p + 1 >= end) break;
    const olen = buf[p + 1] as number;
    if (olen < 2 || p + olen > end) break;
    p += olen;
  }
  return p - start;
}

/** Recomputes the checksum of a 20-byte IPv4 header at `off`. */
function fillIpChecksum20(buf: Buffer, off: number): void {
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += buf.readUInt16BE(off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  buf.writeUInt16BE(~sum & 0xffff, off + 10);
}

/**
 * The copier's side of a record (layout above): the fields the session engine needs, decoded in
 * place into a reused object. Tolerant of stock interceptors: the TCP header is read at +20 even
 * when IHL says more (stock leaves IHL > 5 but copies only 20 bytes), and options are clamped to
 * what the record holds (24 bytes, or 152 in the 192-byte payload variant).
 */
export interface RecordFields {
  /** Response source = the test server; destination = the (fake) client. */
  serverIp: number;
  serverPort: number;
  clientIp: number;
  clientPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Response payload length (tot_len − ihl − doff); 0 on 'bad-length'. */
  payloadLength: number;
  /** TCP options at rec[optStart, optEnd). */
  optStart: number;
  optEnd: number;
}

/**
 * 'short': under the 40 bytes of two fixed headers; 'bad-tcp-offset': doff < 20 (nothing usable);
 * 'bad-length': Total Length smaller than the headers (decoded, with payloadLength 0).
 */
export type RecordReadResult = 'ok' | 'short' | 'bad-tcp-offset' | 'bad-length';

export function newRecordFields(): RecordFields {
  return { serverIp: 0, serverPort: 0, clientIp: 0, clientPort: 0, seq: 0, ack: 0, flags: 0, window: 0, payloadLength: 0, optStart: 0, optEnd: 0 };
}

/** Decodes the record at rec[off, off + recLen) (64 or 192 bytes) into `out`. */
export function readRecord(rec: Buffer, off: number, recLen: number, out: RecordFields): RecordReadResult {
  const lim = Math.min(rec.length, off + recLen);
  if (lim - off < 40) return 'short';
  const ihl = ((rec[off] as number) & 0x0f) << 2;
  const t = off + 20;
  const doff = ((rec[t + 12] as number) >>> 4) << 2;
  if (doff < 20) return 'bad-tcp-offset';
  out.serverIp = rec.readUInt32BE(off + 12);
  out.clientIp = rec.readUInt32BE(off + 16);
  out.serverPort = rec.readUInt16BE(t);
  out.clientPort = rec.readUInt16BE(t + 2);
  out.seq = rec.readUInt32BE(t + 4);
  out.ack = rec.readUInt32BE(t + 8);
  out.flags = rec[t + 13] as number;
  out.window = rec.readUInt16BE(t + 14);
  out.optStart = t + 20;
  out.optEnd = Math.min(t + doff, lim, t + 20 + (recLen > RECORD_SIZE ? PAYLOAD_RECORD_SIZE - 40 : MAX_OPTION_BYTES));
  const payLen = rec.readUInt16BE(off + 2) - (ihl < 20 ? 20 : ihl) - doff;
  if (payLen < 0) {
    out.payloadLength = 0;
    return 'bad-length';
  }
  out.payloadLength = payLen;
  return 'ok';
}
