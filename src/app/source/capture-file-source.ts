import { statSync } from 'node:fs';
import type { CaptureWarning } from '../../core/capture/errors.js';
import { CaptureError } from '../../core/capture/errors.js';
import type { CaptureRecord } from '../../core/capture/record.js';
import type { PacketFilter } from '../../core/filter/index.js';
import { shiftLoopSeq } from '../../core/replay/loop-shift.js';
import { Pacer, type PacerOptions } from '../../core/replay/pacer.js';
import { progressFraction } from '../../core/replay/progress.js';
import { PacketSelector } from '../../core/replay/selector.js';
import type { Transfer } from '../../core/transfer.js';
import { CaptureFileReader } from '../../io/pcap-file.js';
import type { FeedResult, PacketConsumer, PacketSource, SourceEvents, SourceProgress, SourceTotals } from './packet-source.js';

/** Packets handed out per feed() call before I/O gets a chance. */
const BATCH = 512;
/** pendingIdx of a server→client packet taken for the report (not a transfer index). */
const REVERSE_IDX = 0x7fffffff;

export interface CaptureFileSourceOptions {
  path: string;
  transfers: readonly Transfer[];
  filter: PacketFilter | null;
  pacing: PacerOptions;
  onWarning: (w: CaptureWarning) => void;
  events: SourceEvents;
  /** Also deliver the services' server→client packets (consumer.reversePacket), paced alike. */
  reverse?: boolean;
}

/** The file could not be used at all (missing, not a capture, corrupt header): a usage error. */
export class CaptureFileOpenError extends Error {}

/**
 * A pcap/pcapng file as a packet source: file → -F → -x (matched once) → pacer (-a, -I, --rate),
 * over -T runs of the same open file (each run shifts the captured sequence space so the engine
 * sees new connections). Reads run ahead in the background into one reused buffer; feed() hands
 * out what is due. Pausable: it simply stops reading while the consumer pushes back.
 */
export class CaptureFileSource implements PacketSource {
  readonly pausable = true;
  readonly description: string;
  private readonly selector: PacketSelector;
  private readonly pacer: Pacer;
  private pending: CaptureRecord | null;
  private pendingIdx = -1;
  private pendingAt = 0;
  private filling = false;
  private done = false;
  private closed = false;
  /** events.error() was called: the file cannot be read on. */
  private failed = false;
  private fileOffset = 0;
  private packetsRead = 0;
  private packetsUsed = 0;
  private truncated = 0;
  private runsDone = 0;

  private constructor(
    private readonly o: CaptureFileSourceOptions,
    private readonly reader: CaptureFileReader,
    private readonly fileSize: number,
    first: CaptureRecord | null,
  ) {
    this.description = `capture file ${o.path}`;
    this.selector = new PacketSelector(o.transfers, o.filter);
    this.pacer = new Pacer(o.pacing);
    this.pending = first;
    if (first !== null) {
      this.packetsRead = 1;
      this.fileOffset = first.fileOffset;
    }
  }

  /**
   * Opens the file and reads its first record, so an unusable file is reported (with the byte
   * offset of what is wrong) before anything touches the network.
   */
  static async open(o: CaptureFileSourceOptions): Promise<CaptureFileSource> {
    let reader: CaptureFileReader | null = null;
    try {
      const st = statSync(o.path);
      if (!st.isFile()) throw new Error('not a regular file');
      reader = CaptureFileReader.open(o.path, { onWarning: o.onWarning, rewindable: true });
      const first = await reader.next();
      return new CaptureFileSource(o, reader, st.size, first);
    } catch (err) {
      reader?.close();
      const why = err instanceof CaptureError ? err.message : `${o.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      throw new CaptureFileOpenError(why);
    }
  }

  get ended(): boolean {
    return this.done;
  }

  get nextReleaseUs(): number {
    return this.pending !== null && this.pendingIdx >= 0 ? this.pendingAt : Infinity;
  }

  start(nowUs: number): void {
    this.pacer.begin(nowUs);
  }

  feed(nowUs: number, consumer: PacketConsumer): FeedResult {
    for (let n = 0; n < BATCH; n++) {
      if (this.done || this.closed || this.failed) return 'done';
      if (!consumer.accepting) return 'paused';
      let rec = this.pending;
      if (rec === null) {
        try {
          rec = this.reader.nextBuffered();
        } catch (err) {
          // A corrupt record mid-file: thrown from here it would escape the copier's event loop.
          return this.fail(err);
        }
        if (rec === null) {
          this.startFill();
          return 'io';
        }
        this.packetsRead++;
        this.fileOffset = rec.fileOffset;
        this.pending = rec;
        this.pendingIdx = -1;
      }
      if (this.pendingIdx < 0) {
        let idx = this.select(rec);
        if (idx < 0) {
          if (this.o.reverse !== true || !this.selectReverse(rec)) {
            this.pending = null;
            continue;
          }
          idx = REVERSE_IDX;
        }
        this.pendingIdx = idx;
        this.pendingAt = this.pacer.releaseTimeUs(rec.tsUs);
      }
      if (this.pendingAt > nowUs) return 'wait';
      this.pending = null;
      const buf = rec.buf;
      const ipOff = rec.dataOffset + rec.ipOffset;
      const capLen = rec.capLen - rec.ipOffset;
      if (this.pendingIdx === REVERSE_IDX) {
        consumer.reversePacket?.(buf, ipOff, capLen, rec.tsUs);
        continue;
      }
      if (this.pacer.loop > 0) shiftLoopSeq(buf, ipOff, capLen, this.pacer.loop);
      this.packetsUsed++;
      consumer.packet(buf, ipOff, capLen, rec.tsUs, this.pendingIdx);
    }
    return 'more';
  }

  progress(): SourceProgress {
    const loops = this.o.pacing.loops ?? 1;
    const bytes = Math.min(this.fileOffset, this.fileSize);
    return {
      fraction: progressFraction({ bytesRead: bytes, totalBytes: this.fileSize, elapsedUs: 0, loop: this.pacer.loop, loops }),
      packets: this.packetsRead,
      packetsUsed: this.packetsUsed,
      bytes,
      totalBytes: this.fileSize,
      drops: 0,
      loop: this.pacer.loop,
      loops,
    };
  }

  totals(): SourceTotals {
    return {
      packetsRead: this.packetsRead,
      packetsUsed: this.packetsUsed,
      ...this.selector.counters,
      truncatedRecords: this.truncated,
      drops: 0,
      runsDone: this.runsDone,
      runs: this.o.pacing.loops ?? 1,
      unmatchedDestinations: this.selector.unmatchedTop(5),
    };
  }

  close(): void {
    this.closed = true;
    this.reader.close();
  }

  /** -F and -x: the transfer index of a client→server packet we replay, or −1. */
  private select(rec: CaptureRecord): number {
    const idx = this.selector.select(rec.buf, rec.l3Kind === 'ipv4' ? rec.ipBufOffset : -1, rec.capLen - rec.ipOffset);
    if (idx >= 0 && rec.capLen < rec.origLen) this.truncated++;
    return idx;
  }

  private selectReverse(rec: CaptureRecord): boolean {
    return rec.l3Kind === 'ipv4' && this.selector.selectReverse(rec.buf, rec.ipBufOffset, rec.capLen - rec.ipOffset);
  }

  private startFill(): void {
    if (this.filling || this.closed) return;
    this.filling = true;
    this.reader.fill().then(
      (more) => {
        this.filling = false;
        if (this.closed) return;
        if (!more) this.endOfRun();
        if (!this.done) this.o.events.wake();
      },
      (err: unknown) => {
        this.filling = false;
        if (!this.closed) this.fail(err);
      },
    );
  }

  private fail(err: unknown): 'done' {
    this.failed = true;
    this.o.events.error(err instanceof Error ? err.message : String(err));
    return 'done';
  }

  private endOfRun(): void {
    this.runsDone++;
    this.fileOffset = this.fileSize;
    const finishedLoop = this.pacer.loop;
    if (this.pacer.startLoop()) {
      this.reader.rewind();
      this.fileOffset = 0;
      this.o.events.info(`run ${finishedLoop + 1} of ${this.o.pacing.loops ?? 1} done; replaying ${this.o.path} again`);
      return;
    }
    this.done = true;
    this.o.events.ended();
  }
}
