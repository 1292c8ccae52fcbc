import type { Buffer } from 'node:buffer';

/**
 * TCP options (RFC 9293 §3.2, RFC 7323 window scale/timestamps, RFC 2018 SACK).
 *
 *   kind 0 EOL (1 byte)          kind 1 NOP (1 byte)
 *   kind 2 MSS len 4: u16        kind 3 window scale len 3: u8 shift
 *   kind 4 SACK-permitted len 2  kind 5 SACK len 2+8n: n × (left u32, right u32), n ≤ 4
 *   kind 8 timestamps len 10: TSval u32, TSecr u32
 * Every other kind is skipped by its length byte.
 */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TS = 8;

/** Largest options area a TCP header can carry (data offset 15 → 60 − 20). */
export const TCP_MAX_OPTIONS = 40;

/** Parsed options; reused across packets (parse into a caller-owned instance). */
export interface TcpOptions {
  /** Maximum segment size, -1 when absent. */
  mss: number;
  /** Window scale shift as sent (not clamped to 14), -1 when absent. */
  wscale: number;
  sackOk: boolean;
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  /** Number of SACK blocks in `sack` (0..4). */
  sackBlocks: number;
  /** SACK blocks as left,right pairs: sack[2i] = left edge, sack[2i+1] = right edge. */
  sack: Uint32Array;
  /** True when parsing stopped early or skipped an option because of a bad length. */
  malformed: boolean;
}

export function newTcpOptions(): TcpOptions {
  return {
    mss: -1,
    wscale: -1,
    sackOk: false,
    hasTs: false,
    tsVal: 0,
    tsEcr: 0,
    sackBlocks: 0,
    sack: new Uint32Array(8),
    malformed: false,
  };
}

/**
 * Parse the options in buf[start, end) into `out` (reset first) and return it. Never throws and
 * never reads outside [start, end): an option whose length byte is missing, < 2 or runs past
 * `end` stops the parse with out.malformed = true. A known option with the wrong length (e.g.
 * MSS with length 5) is skipped by its length and also sets malformed — the same thing Linux
 * does, which ignores such options.
 */
export function parseTcpOptions(buf: Buffer, start: number, end: number, out: TcpOptions): TcpOptions {
  out.mss = -1;
  out.wscale = -1;
  out.sackOk = false;
  out.hasTs = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.sackBlocks = 0;
  out.malformed = false;
  if (end > buf.length) end = buf.length;
  let i = start;
  while (i < end) {
    const kind = buf[i] as number;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) {
      out.malformed = true;
      break;
    }
    const len = buf[i + 1] as number;
    if (len < 2 || i + len > end) {
      out.malformed = true;
      break;
    }
    switch (kind) {
      case TCPOPT_MSS:
        if (len === 4) out.mss = ((buf[i + 2] as number) << 8) | (buf[i + 3] as number);
        else out.malformed = true;
        break;
      case TCPOPT_WSCALE:
        if (len === 3) out.wscale = buf[i + 2] as number;
        else out.malformed = true;
        break;
      case TCPOPT_SACK_PERM:
        if (len === 2) out.sackOk = true;
        else out.malformed = true;
        break;
      case TCPOPT_SACK: {
        const n = (len - 2) >>> 3;
        if (n === 0 || (len - 2) % 8 !== 0) {
          out.malformed = true;
          break;
        }
        let j = i + 2;
        let k = out.sackBlocks;
        // A header can hold at most 4 blocks; more only in a caller-supplied oversize region.
        for (let b = 0; b < n && k < 4; b++, k++) {
          out.sack[2 * k] = buf.readUInt32BE(j);
          out.sack[2 * k + 1] = buf.readUInt32BE(j + 4);
          j += 8;
        }
        out.sackBlocks = k;
        break;
      }
      case TCPOPT_TS:
        if (len === 10) {
          out.hasTs = true;
          out.tsVal = buf.readUInt32BE(i + 2);
          out.tsEcr = buf.readUInt32BE(i + 6);
        } else {
          out.malformed = true;
        }
        break;
      default:
        break;
    }
    i += len;
  }
  return out;
}

/**
 * Offset of the timestamps option's kind byte within buf[start, end), or -1 when there is none
 * (or the options are malformed before it). TSval is at +2 and TSecr at +6, for in-place rewrite.
 */
export function timestampOffset(buf: Buffer, start: number, end: number): number {
  if (end > buf.length) end = buf.length;
  let i = start;
  while (i < end) {
    const kind = buf[i] as number;
    if (kind === TCPOPT_EOL) return -1;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const len = buf[i + 1] as number;
    if (len < 2 || i + len > end) return -1;
    if (kind === TCPOPT_TS) return len === 10 ? i : -1;
    i += len;
  }
  return -1;
}

/** Options to write. Negative mss/wscale mean "absent", so parsed TcpOptions values pass through. */
export interface OptionSpec {
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: { val: number; ecr: number };
  /** [left, right] edges; as many as fit in 40 bytes are written (3 with timestamps). */
  sack?: [number, number][];
}

/** Number of SACK blocks writeTcpOptions will emit for this spec. */
function sackBlocksFitting(spec: OptionSpec, fixed: number): number {
  const want = spec.sack === undefined ? 0 : spec.sack.length;
  if (want === 0) return 0;
  // Each SACK option is NOP NOP 5 len + 8 bytes per block.
  const room = Math.floor((TCP_MAX_OPTIONS - fixed - 4) / 8);
  return Math.max(0, Math.min(want, room, 4));
}

function fixedLength(spec: OptionSpec): number {
  let n = 0;
  if (spec.mss !== undefined && spec.mss >= 0) n += 4;
  if (spec.ts !== undefined) n += 12; // SACK_PERM+TS or NOP NOP TS
  else if (spec.sackOk === true) n += 4; // NOP NOP SACK_PERM
  if (spec.wscale !== undefined && spec.wscale >= 0) n += 4; // NOP WS
  return n;
}

/** Bytes writeTcpOptions will write for `spec` (a multiple of 4, at most 40). */
export function optionSpecLength(spec: OptionSpec): number {
  const fixed = fixedLength(spec);
  const blocks = sackBlocksFitting(spec, fixed);
  return fixed + (blocks > 0 ? 4 + 8 * blocks : 0);
}

/**
 * Write options at buf[off] in the layout Linux uses, each item padded with NOPs to 4 bytes:
 *   MSS | SACK_PERM TS (or NOP NOP TS) | NOP WS | NOP NOP SACK_PERM (without TS) | NOP NOP SACK…
 * Returns bytes written (a multiple of 4). SACK blocks that do not fit in 40 bytes are dropped.
 */
export function writeTcpOptions(buf: Buffer, off: number, spec: OptionSpec): number {
  let i = off;
  if (spec.mss !== undefined && spec.mss >= 0) {
    buf[i] = TCPOPT_MSS;
    buf[i + 1] = 4;
    buf.writeUInt16BE(spec.mss & 0xffff, i + 2);
    i += 4;
  }
  if (spec.ts !== undefined) {
    if (spec.sackOk === true) {
      buf[i] = TCPOPT_SACK_PERM;
      buf[i + 1] = 2;
    } else {
      buf[i] = TCPOPT_NOP;
      buf[i + 1] = TCPOPT_NOP;
    }
    buf[i + 2] = TCPOPT_TS;
    buf[i + 3] = 10;
    buf.writeUInt32BE(spec.ts.val >>> 0, i + 4);
    buf.writeUInt32BE(spec.ts.ecr >>> 0, i + 8);
    i += 12;
  }
  if (spec.wscale !== undefined && spec.wscale >= 0) {
    buf[i] = TCPOPT_NOP;
    buf[i + 1] = TCPOPT_WSCALE;
    buf[i + 2] = 3;
    buf[i + 3] = spec.wscale & 0xff;
    i += 4;
  }
  if (spec.ts === undefined && spec.sackOk === true) {
    buf[i] = TCPOPT_NOP;
    buf[i + 1] = TCPOPT_NOP;
    buf[i + 2] = TCPOPT_SACK_PERM;
    buf[i + 3] = 2;
    i += 4;
  }
  const blocks = sackBlocksFitting(spec, i - off);
  if (blocks > 0 && spec.sack !== undefined) {
    buf[i] = TCPOPT_NOP;
    buf[i + 1] = TCPOPT_NOP;
    buf[i + 2] = TCPOPT_SACK;
    buf[i + 3] = 2 + 8 * blocks;
    i += 4;
    for (let b = 0; b < blocks; b++) {
      const blk = spec.sack[b] as [number, number];
      buf.writeUInt32BE(blk[0] >>> 0, i);
      buf.writeUInt32BE(blk[1] >>> 0, i + 4);
      i += 8;
    }
  }
  return i - off;
}
