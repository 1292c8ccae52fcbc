import type { Buffer } from 'node:buffer';
import type { CaptureWarning } from '../core/capture/errors.js';
import type { CaptureRecord } from '../core/capture/record.js';
import type { Transfer } from '../core/config/copier.js';
import type { PacketFilter } from '../core/filter/index.js';
import { patchU32 } from '../core/packet/checksum.js';
import { ipToString } from '../core/packet/ipv4.js';
import type { Pacer } from '../core/replay/pacer.js';
import { CaptureFileReader } from '../io/pcap-file.js';

/**
 * The offline copier's packet source: capture file → -F → -x match → pacer, over -T runs.
 * Pull-driven by the app: feed(now, deliver) hands every packet that is due to `deliver` and
 * says why it stopped; reads happen in the background (wake() is called when there is more).
 * Records are the reader's reused buffers: `deliver` must use them before returning.
 */
export type FeedResult = 'more' | 'wait' | 'io' | 'paused' | 'done';

export interface SourceCounters {
  packetsRead: number;
  packetsUsed: number;
  nonIpv4: number;
  filteredOut: number;
  notMatched: number;
  truncatedRecords: number;
  runsDone: number;
}

export interface SourceEvents {
  /** More records can be read (a background read finished, or a new run began). */
  wake(): void;
  /** Run `loop` (0-based) ended and another begins. */
  runDone(loop: number): void;
  /** The last run ended: no packet will come any more. */
  inputDone(): void;
  /** A read failed (corrupt file mid-way, I/O error). */
  error(message: string): void;
}

export interface SourceOptions {
  file: string;
  fileSize: number;
  transfers: readonly Transfer[];
  filter: PacketFilter | null;
  pacer: Pacer;
  onWarning: (w: CaptureWarning) => void;
  events: SourceEvents;
}

/** Packets handed out per feed() call before I/O gets a chance. */
const BATCH = 512;
/** Distinct unmatched destinations remembered for the diagnosis. */
const MAX_UNMATCHED_KEYS = 256;
/** Added to every captured seq of run k (k × this): each -T run is a new connection to the engine. */
const LOOP_SEQ_STEP = 0x9e3779b9;
const IPPROTO_TCP = 6;

export class ReplaySource {
  readonly counters: SourceCounters = { packetsRead: 0, packetsUsed: 0, nonIpv4: 0, filteredOut: 0, notMatched: 0, truncatedRecords: 0, runsDone: 0 };
  /** File offset of the last record taken from the reader (the progress bar; reads run ahead). */
  fileOffset = 0;
  private reader: CaptureFileReader;
  private pending: CaptureRecord | null;
  private pendingUsed = false;
  private pendingAt = 0;
  private filling = false;
  private done = false;
  private closed = false;
  private readonly unmatched = new Map<string, number>();

  /** `reader` is open with its first record already read (`first`, null for an empty file). */
  constructor(
    private readonly o: SourceOptions,
    reader: CaptureFileReader,
    first: CaptureRecord | null,
  ) {
    this.reader = reader;
    this.pending = first;
    if (first !== null) {
      this.counters.packetsRead = 1;
      this.fileOffset = first.fileOffset;
    }
  }

  get inputDone(): boolean {
    return this.done;
  }

  get loop(): number {
    return this.o.pacer.loop;
  }

  /** Release time of the next packet when it is known and waiting, else Infinity. */
  get nextReleaseUs(): number {
    return this.pending !== null && this.pendingUsed ? this.pendingAt : Infinity;
  }

  /** The most frequent TCP destinations of packets that matched no -x entry. */
  unmatchedTop(n: number): [string, number][] {
    return [...this.unmatched].sort((a, b) => b[1] - a[1]).slice(0, n);
  }

  /**
   * Hands due packets to `deliver(buf, ipOff, capLen, tsUs)`; stops at a packet not yet due
   * ('wait'), the batch size ('more'), push-back (`writable()` false: 'paused'), an empty read
   * buffer ('io': wake() follows) or the end ('done').
   */
  feed(now: number, writable: () => boolean, deliver: (buf: Buffer, ipOff: number, capLen: number, tsUs: number) => void): FeedResult {
    for (let n = 0; n < BATCH; n++) {
      if (this.done || this.closed) return 'done';
      if (!writable()) return 'paused';
      let rec = this.pending;
      if (rec === null) {
        rec = this.reader.nextBuffered();
        if (rec === null) {
          this.startFill();
          return 'io';
        }
        this.counters.packetsRead++;
        this.fileOffset = rec.fileOffset;
        this.pending = rec;
        this.pendingUsed = false;
      }
      if (!this.pendingUsed) {
        if (!this.usable(rec)) {
          this.pending = null;
          continue;
        }
        this.pendingUsed = true;
        this.pendingAt = this.o.pacer.releaseTimeUs(rec.tsUs);
      }
      if (this.pendingAt > now) return 'wait';
      this.pending = null;
      const buf = rec.buf;
      const ipOff = rec.dataOffset + rec.ipOffset;
      const capLen = rec.capLen - rec.ipOffset;
      if (this.o.pacer.loop > 0) this.shiftSeq(buf, ipOff, capLen);
      this.counters.packetsUsed++;
      deliver(buf, ipOff, capLen, rec.tsUs);
    }
    return 'more';
  }

  close(): void {
    this.closed = true;
    this.reader.close();
  }

  /** -F and -x: is this record a client→server packet we replay? (allocation-free when it is) */
  private usable(rec: CaptureRecord): boolean {
    const c = this.counters;
    if (rec.l3Kind !== 'ipv4' || rec.ipOffset < 0) {
      c.nonIpv4++;
      return false;
    }
    const buf = rec.buf;
    const ipOff = rec.dataOffset + rec.ipOffset;
    const capLen = rec.capLen - rec.ipOffset;
    const filter = this.o.filter;
    if (filter !== null && !filter.match(buf, ipOff, capLen)) {
      c.filteredOut++;
      return false;
    }
    const ihl = capLen < 20 ? 0 : ((buf[ipOff] as number) & 0x0f) << 2;
    if (ihl < 20 || buf[ipOff + 9] !== IPPROTO_TCP || capLen < ihl + 4) {
      c.notMatched++;
      return false;
    }
    const dst = buf.readUInt32BE(ipOff + 16);
    const dport = buf.readUInt16BE(ipOff + ihl + 2);
    const transfers = this.o.transfers;
    for (let i = 0; i < transfers.length; i++) {
      const t = transfers[i];
      if (t !== undefined && t.onlinePort === dport && (t.onlineIp === null || t.onlineIp === dst)) {
        if (rec.capLen < rec.origLen) c.truncatedRecords++;
        return true;
      }
    }
    c.notMatched++;
    if (c.notMatched <= 100_000) {
      const key = `${ipToString(dst)}:${dport}`;
      const k = this.unmatched.get(key);
      if (k !== undefined) this.unmatched.set(key, k + 1);
      else if (this.unmatched.size < MAX_UNMATCHED_KEYS) this.unmatched.set(key, 1);
    }
    return false;
  }

  /**
   * A later -T run: shift the client's sequence space (checksum patched incrementally) so the
   * engine sees new connections — fresh ISNs, fresh ports where the old tuple is still busy —
   * instead of retransmissions of the previous run's.
   */
  private shiftSeq(buf: Buffer, ipOff: number, capLen: number): void {
    const tcpOff = ipOff + (((buf[ipOff] as number) & 0x0f) << 2);
    if (capLen < tcpOff - ipOff + 18) return;
    const step = (this.o.pacer.loop * LOOP_SEQ_STEP) >>> 0;
    patchU32(buf, tcpOff + 4, (buf.readUInt32BE(tcpOff + 4) + step) >>> 0, tcpOff + 16, tcpOff);
  }

  private startFill(): void {
    if (this.filling || this.closed) return;
    this.filling = true;
    this.reader.fill().then(
      (more) => {
        this.filling = false;
        if (this.closed) return;
        if (!more) this.endOfRun();
        this.o.events.wake();
      },
      (err: unknown) => {
        this.filling = false;
        if (this.closed) return;
        this.o.events.error(err instanceof Error ? err.message : String(err));
      },
    );
  }

  private endOfRun(): void {
    this.counters.runsDone++;
    this.fileOffset = this.o.fileSize;
    const finishedLoop = this.o.pacer.loop;
    if (this.o.pacer.startLoop()) {
      try {
        this.reader = CaptureFileReader.open(this.o.file, { onWarning: this.o.onWarning });
      } catch (err) {
        this.o.events.error(`cannot reopen ${this.o.file} for run ${this.o.pacer.loop + 1}: ${(err as Error).message}`);
        return;
      }
      this.o.events.runDone(finishedLoop);
      return;
    }
    this.done = true;
    this.o.events.inputDone();
  }
}
