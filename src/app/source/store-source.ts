import { Buffer } from 'node:buffer';
import { decodeLink, LinkView } from '../../core/capture/link-types.js';
import type { ShareSpec, StoreUrl } from '../../core/config/store-url.js';
import type { PacketFilter } from '../../core/filter/index.js';
import { shiftLoopSeq } from '../../core/replay/loop-shift.js';
import { Pacer, type PacerOptions } from '../../core/replay/pacer.js';
import { PacketSelector } from '../../core/replay/selector.js';
import { BatchFormatError, BatchReader } from '../../core/store/record-batch.js';
import type { RangeReader, RecordStore, StoredMessage } from '../../core/store/types.js';
import type { Transfer } from '../../core/transfer.js';
import { resolveRange, type StoreRange } from '../store/tasks.js';
import type { FeedResult, PacketConsumer, PacketSource, SourceEvents, SourceProgress, SourceTotals } from './packet-source.js';

/** Packets handed out per feed() call before I/O gets a chance. */
const BATCH = 512;
/** Messages asked for per fetch, and the bytes of fetched messages held ahead at most. */
const FETCH_MESSAGES = 256;
const AHEAD_BYTES = 32 * 1048576;

export interface StoreSourceOptions {
  store: RecordStore;
  url: StoreUrl;
  /** --share K/M: only the subjects (flow partitions) p with p mod M = K − 1. */
  share: ShareSpec | null;
  transfers: readonly Transfer[];
  filter: PacketFilter | null;
  pacing: PacerOptions;
  events: SourceEvents;
}


/**
 * A recording in the stream store as a packet source: a task's sequence range (or a time range)
 * read through the store's range reader in fetch batches, held ahead up to AHEAD_BYTES, each
 * message's records walked in place → -F → -x (matched once) → pacer (-a, -I, --rate), over -T
 * runs (each run reads the range again and shifts the sequence space like a file's). Pausable.
 * Read-only: any number of copiers may replay the same range, at once or later.
 */
export class StoreSource implements PacketSource {
  readonly pausable = true;
  readonly description: string;
  private readonly selector: PacketSelector;
  private readonly pacer: Pacer;
  private readonly batch = new BatchReader();
  private readonly link = new LinkView();
  private reader: RangeReader | null = null;
  private readonly queue: StoredMessage[] = [];
  private queueHead = 0;
  private aheadBytes = 0;
  private msgBuf: Buffer = Buffer.alloc(0);
  private inRecord = false;
  private pendingIdx = -1;
  private pendingAt = 0;
  private pendingIpOff = 0;
  private pendingCapLen = 0;
  private fetching = false;
  private rangeDone = false;
  private done = false;
  private closed = false;
  private failed = false;
  private packetsRead = 0;
  private packetsUsed = 0;
  private bytes = 0;
  private lastSeq = 0;
  private runsDone = 0;
  private messagesSkipped = 0;

  private constructor(
    private readonly o: StoreSourceOptions,
    private readonly range: StoreRange,
  ) {
    const share = o.share === null ? '' : `, share ${o.share.index}/${o.share.of}`;
    this.description = `${o.url.stream} ${range.description} on ${o.store.description.replace(/ stream .*$/, '')}${share}`;
    this.selector = new PacketSelector(o.transfers, o.filter);
    this.pacer = new Pacer(o.pacing);
  }

  /** Resolves the range and opens its reader, so an unknown task is reported before anything is sent. */
  static async open(o: StoreSourceOptions): Promise<StoreSource> {
    const range = await resolveRange(o.store, o.url);
    const src = new StoreSource(o, range);
    src.reader = await src.openReader();
    return src;
  }

  get ended(): boolean {
    return this.done;
  }

  get nextReleaseUs(): number {
    return this.inRecord && this.pendingIdx >= 0 ? this.pendingAt : Infinity;
  }

  start(nowUs: number): void {
    this.pacer.begin(nowUs);
    this.startFetch();
  }

  feed(nowUs: number, consumer: PacketConsumer): FeedResult {
    const b = this.batch;
    for (let n = 0; n < BATCH; n++) {
      if (this.done || this.closed || this.failed) return 'done';
      if (!consumer.accepting) return 'paused';
      if (!this.inRecord) {
        const got = this.nextRecord();
        if (got !== 'ok') return got;
        continue;
      }
      if (this.pendingAt > nowUs) return 'wait';
      this.inRecord = false;
      const buf = this.msgBuf;
      if (this.pacer.loop > 0) shiftLoopSeq(buf, this.pendingIpOff, this.pendingCapLen, this.pacer.loop);
      this.packetsUsed++;
      consumer.packet(buf, this.pendingIpOff, this.pendingCapLen, b.tsUs, this.pendingIdx);
    }
    return 'more';
  }

  /** Finds the next selected record ('ok'), or says why there is none now. */
  private nextRecord(): 'ok' | 'io' | 'done' {
    const b = this.batch;
    for (;;) {
      let has = false;
      try {
        has = this.msgBuf.length > 0 && b.next();
      } catch (err) {
        if (!(err instanceof BatchFormatError)) throw err;
        this.o.events.info(`store: message ${this.lastSeq} is damaged (${err.message}); its remaining records are skipped`);
      }
      if (!has) {
        const m = this.takeMessage();
        if (m === 'io' || m === 'done') return m;
        continue;
      }
      this.packetsRead++;
      this.bytes += b.len;
      if ((this.range.untilUs !== null && b.tsUs > this.range.untilUs) || (this.range.sinceUs !== null && b.tsUs < this.range.sinceUs)) continue;
      const link = this.link;
      decodeLink(b.linkType, this.msgBuf, b.dataOff, b.len, link);
      const ipOff = link.l3Kind === 'ipv4' && link.ipOffset >= 0 ? b.dataOff + link.ipOffset : -1;
      const capLen = ipOff < 0 ? 0 : b.dataOff + b.len - ipOff;
      const idx = this.selector.select(this.msgBuf, ipOff, capLen);
      if (idx < 0) continue;
      this.inRecord = true;
      this.pendingIdx = idx;
      this.pendingIpOff = ipOff;
      this.pendingCapLen = capLen;
      this.pendingAt = this.pacer.releaseTimeUs(b.tsUs);
      return 'ok';
    }
  }

  /** Opens the next queued message of our share; 'io' while fetching, 'done' at the end. */
  private takeMessage(): 'ok' | 'io' | 'done' {
    for (;;) {
      if (this.queueHead >= this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
        this.msgBuf = Buffer.alloc(0);
        if (this.rangeDone && !this.fetching) return this.endOfRun();
        this.startFetch();
        return 'io';
      }
      const m = this.queue[this.queueHead] as StoredMessage;
      this.queue[this.queueHead++] = undefined as unknown as StoredMessage;
      this.aheadBytes -= m.data.length;
      this.lastSeq = m.seq;
      if (this.aheadBytes < AHEAD_BYTES / 2) this.startFetch();
      if (!this.wanted(m.subject)) {
        this.messagesSkipped++;
        continue;
      }
      this.msgBuf = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      try {
        this.batch.open(this.msgBuf);
      } catch (err) {
        if (!(err instanceof BatchFormatError)) throw err;
        this.o.events.info(`store: message ${m.seq} on ${m.subject} is not a recording (${err.message}); skipped`);
        this.msgBuf = Buffer.alloc(0);
        continue;
      }
      return 'ok';
    }
  }

  /** Subject STREAM.<host>.<partition>: the task's hosts, and our share of the partitions. */
  private wanted(subject: string): boolean {
    const last = subject.lastIndexOf('.');
    const hosts = this.range.hosts;
    if (hosts.length > 1) {
      const first = subject.indexOf('.');
      if (!hosts.includes(subject.slice(first + 1, last))) return false;
    }
    const share = this.o.share;
    if (share === null) return true;
    const p = Number(subject.slice(last + 1));
    return p % share.of === share.index - 1;
  }

  private openReader(): Promise<RangeReader> {
    const r = this.range;
    return this.o.store.openRange({ fromSeq: r.fromSeq, startTimeUs: r.startTimeUs, toSeq: r.toSeq, subject: r.subject });
  }

  private startFetch(): void {
    if (this.fetching || this.rangeDone || this.closed || this.reader === null || this.aheadBytes >= AHEAD_BYTES) return;
    this.fetching = true;
    const reader = this.reader;
    reader.next(FETCH_MESSAGES).then(
      (msgs) => {
        this.fetching = false;
        if (this.closed) return;
        if (msgs === null) this.rangeDone = true;
        else {
          for (const m of msgs) {
            this.queue.push(m);
            this.aheadBytes += m.data.length;
          }
        }
        this.o.events.wake();
      },
      (err: unknown) => {
        this.fetching = false;
        if (!this.closed) this.fail(err);
      },
    );
  }

  private fail(err: unknown): 'done' {
    if (this.failed) return 'done';
    this.failed = true;
    this.o.events.error(`store read failed: ${err instanceof Error ? err.message : String(err)}`);
    return 'done';
  }

  private endOfRun(): 'io' | 'done' {
    this.runsDone++;
    const finished = this.pacer.loop;
    if (this.pacer.startLoop()) {
      this.o.events.info(`run ${finished + 1} of ${this.o.pacing.loops ?? 1} done; replaying ${this.range.description} again`);
      this.rangeDone = false;
      this.fetching = true;
      const old = this.reader;
      this.reader = null;
      void old?.close();
      this.openReader().then(
        (r) => {
          this.fetching = false;
          if (this.closed) {
            void r.close();
            return;
          }
          this.reader = r;
          this.startFetch();
        },
        (err: unknown) => {
          this.fetching = false;
          this.fail(err);
        },
      );
      return 'io';
    }
    this.done = true;
    this.o.events.ended();
    return 'done';
  }

  progress(): SourceProgress {
    const loops = this.o.pacing.loops ?? 1;
    const r = this.range;
    const from = r.fromSeq ?? 0;
    const span = r.toSeq - from + 1;
    const inRun = span > 0 && this.lastSeq >= from ? Math.min(1, (this.lastSeq - from + 1) / span) : 0;
    return {
      fraction: this.done ? 1 : (this.pacer.loop + inRun) / loops,
      packets: this.packetsRead,
      packetsUsed: this.packetsUsed,
      bytes: this.bytes,
      totalBytes: 0,
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
      truncatedRecords: 0,
      drops: 0,
      runsDone: this.runsDone,
      runs: this.o.pacing.loops ?? 1,
      unmatchedDestinations: this.selector.unmatchedTop(5),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.reader?.close();
    void this.o.store.close();
  }
}
