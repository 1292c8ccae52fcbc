import { Buffer } from 'node:buffer';
import { CaptureParser } from '../../../src/core/capture/reader.js';
import type { CaptureWarning } from '../../../src/core/capture/errors.js';

/** A plain snapshot of one record (the reader's record object is reused). */
export interface RecordSnapshot {
  index: number;
  tsSec: number;
  tsNsec: number;
  tsUs: number;
  capLen: number;
  origLen: number;
  linkType: number;
  interfaceId: number;
  fileOffset: number;
  ipOffset: number;
  l3Kind: string;
  vlans: number[];
  data: string;
}

export interface ParseResult {
  records: RecordSnapshot[];
  warnings: CaptureWarning[];
}

/** Feeds `bytes` to a fresh parser in chunks of `chunk` bytes and snapshots every record. */
export function parseAll(bytes: Uint8Array, chunk = bytes.length || 1, source = 'test'): ParseResult {
  const p = new CaptureParser({ source });
  const records: RecordSnapshot[] = [];
  const drain = (): void => {
    for (let r = p.next(); r !== null; r = p.next()) {
      records.push({
        index: r.index,
        tsSec: r.tsSec,
        tsNsec: r.tsNsec,
        tsUs: r.tsUs,
        capLen: r.capLen,
        origLen: r.origLen,
        linkType: r.linkType,
        interfaceId: r.interfaceId,
        fileOffset: r.fileOffset,
        ipOffset: r.ipOffset,
        l3Kind: r.l3Kind,
        vlans: r.vlanList(),
        data: Buffer.from(r.data).toString('hex'),
      });
    }
  };
  for (let off = 0; off < bytes.length; off += chunk) {
    p.push(bytes.subarray(off, Math.min(bytes.length, off + chunk)));
    drain();
  }
  drain();
  p.end();
  return { records, warnings: p.warnings };
}

/** A minimal Ethernet + IPv4 + TCP frame (checksums not filled: the reader does not check them). */
export function tcpFrame(srcPort: number, dstPort: number, payloadLen = 0): Buffer {
  const f = Buffer.alloc(54 + payloadLen);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(40 + payloadLen, 16);
  f[22] = 64;
  f[23] = 6;
  f.writeUInt32BE(0x0a000001, 26);
  f.writeUInt32BE(0x0a000002, 30);
  f.writeUInt16BE(srcPort, 34);
  f.writeUInt16BE(dstPort, 36);
  f[46] = 0x50;
  f[47] = 0x18;
  for (let i = 0; i < payloadLen; i++) f[54 + i] = i & 0xff;
  return f;
}

export { prng } from '../../helpers/prng.js';

/** Feeds bytes in chunks; returns the records seen before a throw, and the error if any. */
export function parseUntilError(bytes: Uint8Array, chunk: number): { count: number; error: unknown; warnings: CaptureWarning[] } {
  const p = new CaptureParser({ source: 'fuzz' });
  let count = 0;
  try {
    for (let off = 0; off < bytes.length; off += chunk) {
      p.push(bytes.subarray(off, Math.min(bytes.length, off + chunk)));
      while (p.next() !== null) count++;
    }
    p.end();
  } catch (e) {
    return { count, error: e, warnings: p.warnings };
  }
  return { count, error: null, warnings: p.warnings };
}
