import { Buffer } from 'node:buffer';
import { EXT_HEADER_SIZE, FRAME_HEADER_SIZE, writeExtRecord } from '../wire/index.js';

/** First size of a connection's extension buffer; it doubles as a burst needs. */
const EXT_BUF_BYTES = 16 * 1024;

/**
 * A copier connection's pending extension output (docs/wire-extension.md): RECORD+PAYLOAD frames
 * and, behind them in arrival order, combined frames, written straight into one buffer that goes
 * to the socket whole at the end of the burst (`take()`; the next burst gets a new buffer, since
 * the socket keeps this one until it is sent).
 */
export class ExtFrames {
  private buf: Buffer | null = null;
  /** Bytes, records and frames pending. */
  bytes = 0;
  records = 0;
  frames = 0;

  /** Appends an already built combined frame holding `records` records. */
  appendFrame(frame: Buffer, records: number): void {
    frame.copy(this.room(frame.length), this.bytes);
    this.pushed(frame.length, records);
  }

  /** Appends a RECORD+PAYLOAD frame: the record and `payLen` bytes of pkt from payOff. */
  appendRecordPayload(record: Buffer, recordSize: number, pkt: Buffer, payOff: number, payLen: number): void {
    const b = this.room(EXT_HEADER_SIZE + recordSize + payLen);
    this.pushed(writeExtRecord(b, this.bytes, record, 0, recordSize, pkt, payOff, payLen), 1);
  }

  /** Appends a one-record combined frame (a record without payload behind pending extension frames). */
  appendRecord(record: Buffer, recordSize: number): void {
    const b = this.room(FRAME_HEADER_SIZE + recordSize);
    b.writeUInt16BE(1, this.bytes);
    record.copy(b, this.bytes + FRAME_HEADER_SIZE, 0, recordSize);
    this.pushed(FRAME_HEADER_SIZE + recordSize, 1);
  }

  /** The pending bytes, handed over (null when none); counts restart at 0. */
  take(): Buffer | null {
    const out = this.buf === null || this.bytes === 0 ? null : this.buf.subarray(0, this.bytes);
    this.buf = null;
    this.bytes = 0;
    this.records = 0;
    this.frames = 0;
    return out;
  }

  private room(n: number): Buffer {
    const need = this.bytes + n;
    let b = this.buf;
    if (b === null || b.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, EXT_BUF_BYTES, (b?.length ?? 0) * 2));
      if (b !== null) b.copy(grown, 0, 0, this.bytes);
      this.buf = b = grown;
    }
    return b;
  }

  private pushed(bytes: number, records: number): void {
    this.bytes += bytes;
    this.records += records;
    this.frames++;
  }
}
