import type { Buffer } from 'node:buffer';

/*
 * The stream store's message layout (docs/recording-store.md): several captured frames per
 * message, big-endian.
 *
 *   batch   u32 magic 'TCR1' | u32 record count | records...
 *   record  u32 ts µs high | u32 ts µs low | u16 link type | u16 flags | u32 length | frame bytes
 *
 * Capture timestamps are epoch microseconds split like pcapng's (exact up to year 2255); the link
 * type is the capture's (LINKTYPE_*), so a message decodes without the stream's context.
 */
export const BATCH_MAGIC = 0x54435231;
export const BATCH_HEAD = 8;
export const RECORD_HEAD = 16;
const TWO32 = 4294967296;

export class BatchFormatError extends Error {}

/**
 * Builds one batch in place in a caller-owned buffer (reused for every batch: nothing is allocated
 * per frame). fits() first; finish() writes the header and returns the used length.
 */
export class BatchWriter {
  count = 0;
  used = BATCH_HEAD;
  firstTsUs = 0;
  lastTsUs = 0;

  constructor(readonly buf: Buffer) {
    if (buf.length < BATCH_HEAD + RECORD_HEAD) throw new RangeError('batch buffer too small');
  }

  fits(len: number): boolean {
    return this.used + RECORD_HEAD + len <= this.buf.length;
  }

  append(tsUs: number, linkType: number, flags: number, data: Uint8Array, dataOff: number, len: number): void {
    const b = this.buf;
    const o = this.used;
    const hi = Math.floor(tsUs / TWO32);
    b.writeUInt32BE(hi >>> 0, o);
    b.writeUInt32BE((Math.floor(tsUs) - hi * TWO32) >>> 0, o + 4);
    b.writeUInt16BE(linkType & 0xffff, o + 8);
    b.writeUInt16BE(flags & 0xffff, o + 10);
    b.writeUInt32BE(len, o + 12);
    b.set(data.subarray(dataOff, dataOff + len), o + RECORD_HEAD);
    this.used = o + RECORD_HEAD + len;
    if (this.count === 0) this.firstTsUs = tsUs;
    this.lastTsUs = tsUs;
    this.count++;
  }

  /** Writes the header; the batch is buf[0, returned length). */
  finish(): number {
    this.buf.writeUInt32BE(BATCH_MAGIC, 0);
    this.buf.writeUInt32BE(this.count, 4);
    return this.used;
  }

  reset(): void {
    this.count = 0;
    this.used = BATCH_HEAD;
  }
}

/**
 * Walks the records of one batch; the fields describe the current record (a reused view, nothing
 * allocated per record). open() throws BatchFormatError on a message that is not a batch.
 */
export class BatchReader {
  buf: Uint8Array = new Uint8Array(0);
  count = 0;
  index = 0;
  tsUs = 0;
  linkType = 0;
  flags = 0;
  /** The current frame is buf[dataOff, dataOff + len). */
  dataOff = 0;
  len = 0;
  private pos = 0;
  private view: DataView = new DataView(new ArrayBuffer(0));

  open(buf: Uint8Array): void {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.length < BATCH_HEAD || this.view.getUint32(0) !== BATCH_MAGIC) throw new BatchFormatError(`not a tcpcopy record batch (${buf.length} bytes)`);
    this.buf = buf;
    this.count = this.view.getUint32(4);
    this.index = 0;
    this.pos = BATCH_HEAD;
  }

  /** Advances to the next record; false at the end. Throws BatchFormatError on a cut record. */
  next(): boolean {
    if (this.index >= this.count) return false;
    const v = this.view;
    const o = this.pos;
    if (o + RECORD_HEAD > this.buf.length) throw new BatchFormatError(`record ${this.index + 1} of ${this.count}: header cut at byte ${o}`);
    this.tsUs = v.getUint32(o) * TWO32 + v.getUint32(o + 4);
    this.linkType = v.getUint16(o + 8);
    this.flags = v.getUint16(o + 10);
    this.len = v.getUint32(o + 12);
    this.dataOff = o + RECORD_HEAD;
    if (this.dataOff + this.len > this.buf.length) throw new BatchFormatError(`record ${this.index + 1} of ${this.count}: ${this.len} frame bytes past the end`);
    this.pos = this.dataOff + this.len;
    this.index++;
    return true;
  }
}
