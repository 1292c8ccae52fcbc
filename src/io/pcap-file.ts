import { closeSync, fstatSync, openSync, read, readSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { CaptureParser, type CaptureFormat } from '../core/capture/reader.js';
import type { CaptureRecord } from '../core/capture/record.js';
import type { CaptureWarning } from '../core/capture/errors.js';
import { PcapEncoder, PCAP_RECORD_HEADER_LENGTH, type PcapWriterOptions } from '../core/capture/pcap-writer.js';

/**
 * File adapter for the pure capture parser: reads a pcap/pcapng file in bounded chunks into ONE
 * reused buffer (memory stays constant on multi-GB files) and offers a pull API, sync or async.
 *
 * Records are reused: each returned record (and its buf/data) is valid until the next call on
 * this reader.
 *
 *   const r = CaptureFileReader.open('x.pcap');
 *   for await (const rec of r) { ... }          // or: for (const rec of r) (sync reads)
 *   // tight loop without a promise per packet:
 *   for (;;) { let rec; while ((rec = r.nextBuffered())) use(rec); if (!(await r.fill())) break; }
 */
export interface CaptureFileOptions {
  /** Read size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** Keep the file open at its end so rewind() can read it again (-T runs); close() still closes. */
  rewindable?: boolean;
  onWarning?: (w: CaptureWarning) => void;
}

export class CaptureFileReader {
  parser: CaptureParser;
  private fd: number;
  private readonly buf: Buffer;
  private position = 0;
  private eof = false;
  private closed = false;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly opts: CaptureFileOptions,
  ) {
    this.fd = fd;
    this.buf = Buffer.allocUnsafe(Math.max(4096, opts.chunkSize ?? 1 << 20));
    this.parser = new CaptureParser({ source: path, onWarning: opts.onWarning });
  }

  /** Opens the file (sync: opening is cheap, and errors surface at the call site). */
  static open(path: string, opts: CaptureFileOptions = {}): CaptureFileReader {
    const fd = openSync(path, 'r');
    try {
      if (fstatSync(fd).isDirectory()) throw new Error(`${path}: is a directory, not a capture file`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new CaptureFileReader(path, fd, opts);
  }

  get format(): CaptureFormat | null {
    return this.parser.format;
  }

  get warnings(): readonly CaptureWarning[] {
    return this.parser.warnings;
  }

  /** Bytes read from the file so far. */
  get bytesRead(): number {
    return this.position;
  }

  /** A record already available without I/O, or null (then call fill()/fillSync()). */
  nextBuffered(): CaptureRecord | null {
    return this.closed ? null : this.parser.next();
  }

  /** Reads the next chunk; false at end of file (after the parser checked the file's tail). */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    const n = await new Promise<number>((resolve, reject) => {
      read(this.fd, this.buf, 0, this.buf.length, this.position, (err, bytes) => (err ? reject(err) : resolve(bytes)));
    });
    return this.accept(n);
  }

  fillSync(): boolean {
    if (this.eof) return false;
    return this.accept(readSync(this.fd, this.buf, 0, this.buf.length, this.position));
  }

  private accept(n: number): boolean {
    if (n === 0) {
      this.eof = true;
      if (this.opts.rewindable !== true) this.close();
      this.parser.end();
      return false;
    }
    this.position += n;
    this.parser.push(this.buf.subarray(0, n));
    return true;
  }

  /** The next packet, or null at end of file. Throws CaptureError on corrupt input. */
  async next(): Promise<CaptureRecord | null> {
    for (;;) {
      const rec = this.nextBuffered();
      if (rec !== null) return rec;
      if (!(await this.fill())) return null;
    }
  }

  nextSync(): CaptureRecord | null {
    for (;;) {
      const rec = this.nextBuffered();
      if (rec !== null) return rec;
      if (!this.fillSync()) return null;
    }
  }

  /**
   * Async iteration without an async generator: when a record is already buffered, next()
   * returns the same pre-resolved promise of the same result object (the record is reused
   * anyway), so a packet costs one microtask instead of a generator resume and two allocations.
   */
  [Symbol.asyncIterator](): AsyncIterator<CaptureRecord, undefined> {
    const result: IteratorYieldResult<CaptureRecord> = { done: false, value: undefined as unknown as CaptureRecord };
    const ready = Promise.resolve(result);
    const finished: IteratorReturnResult<undefined> = { done: true, value: undefined };
    const afterFill = (rec: CaptureRecord | null): IteratorResult<CaptureRecord, undefined> => {
      if (rec === null) return finished;
      result.value = rec;
      return result;
    };
    return {
      next: () => {
        const rec = this.nextBuffered();
        if (rec === null) return this.next().then(afterFill, (e: unknown) => {
          this.close();
          throw e;
        });
        result.value = rec;
        return ready;
      },
      return: () => {
        this.close();
        return Promise.resolve(finished);
      },
    };
  }

  *[Symbol.iterator](): Generator<CaptureRecord, void, undefined> {
    try {
      for (;;) {
        const rec = this.nextSync();
        if (rec === null) return;
        yield rec;
      }
    } finally {
      this.close();
    }
  }

  /**
   * Starts over at the first byte of the same open file (a rewindable reader, after its end):
   * a new parser, so the header is checked again and records restart at index 1.
   */
  rewind(): void {
    if (this.closed || this.fd < 0) throw new Error(`${this.path}: cannot rewind a closed capture file`);
    this.position = 0;
    this.eof = false;
    this.parser = new CaptureParser({ source: this.path, onWarning: this.opts.onWarning });
  }

  /**
   * Closes the file (idempotent); called automatically at EOF and when an iterator stops.
   * Afterwards every next*() returns null.
   */
  close(): void {
    this.closed = true;
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      this.eof = true;
    }
  }
}

/**
 * Buffered pcap file writer over the pure PcapEncoder. Writes are synchronous and batched
 * (flushes every `bufferSize` bytes), which keeps recording simple and ordered.
 */
export class PcapFileWriter {
  readonly encoder: PcapEncoder;
  private fd: number;
  private readonly buf: Buffer;
  private used = 0;
  private count = 0;

  constructor(
    readonly path: string,
    opts: PcapWriterOptions & { bufferSize?: number },
  ) {
    this.encoder = new PcapEncoder(opts);
    this.buf = Buffer.allocUnsafe(Math.max(65536, opts.bufferSize ?? 256 * 1024));
    this.fd = openSync(path, 'w');
    writeSync(this.fd, this.encoder.header());
  }

  get packetsWritten(): number {
    return this.count;
  }

  /** Appends one packet; data is copied, so a reused buffer is fine. */
  write(tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length): void {
    if (this.fd < 0) throw new Error(`${this.path}: write after close`);
    const need = PCAP_RECORD_HEADER_LENGTH + data.length;
    if (this.used + need > this.buf.length) this.flush();
    if (need > this.buf.length) {
      writeSync(this.fd, this.encoder.record(tsSec, tsNsec, data, origLen));
    } else {
      this.used += this.encoder.writeRecord(this.buf, this.used, tsSec, tsNsec, data, origLen);
    }
    this.count++;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}
