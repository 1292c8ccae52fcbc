import { Buffer } from 'node:buffer';
import { decodeLink, LinkView } from '../../core/capture/link-types.js';
import { BatchWriter } from '../../core/store/record-batch.js';
import { flowPartition } from '../../core/store/flow-hash.js';
import { addMissing, STORE_PARTITIONS, type MissingRange, type StoreDropReason, type TaskHostStats } from '../../core/store/task.js';
import type { RecordStore } from '../../core/store/types.js';
import type { FrameTap } from '../../io/pcapng-recorder.js';

/** Largest message: several frames per message, well under JetStream's 1 MiB default. */
const BATCH_BYTES = 256 * 1024;
/** Partial batches go out this often, so a quiet flow is stored (and replayable) quickly. */
export const STORE_FLUSH_MS = 20;
/** Bytes published but not acknowledged yet; beyond, batches are dropped ('store-busy'). */
const DEFAULT_MAX_IN_FLIGHT = 64 * 1048576;

export interface StoreRecorderOptions {
  store: RecordStore;
  stream: string;
  /** The online host's name: subjects STREAM.<host>.<partition>. */
  host: string;
  maxInFlightBytes?: number;
  clock: () => number;
  info: (message: string) => void;
}


/**
 * The stream-store recorder: a FrameTap that puts each frame into the batch of its flow's
 * partition (one reused buffer per partition: nothing allocated per frame) and publishes batches
 * when full and every STORE_FLUSH_MS, asynchronously. It never blocks the capture: while the store
 * is away, or too much is in flight, or a publish fails, the batch is dropped, counted by reason
 * and noted as a missing capture-time range; storing resumes by itself.
 */
/** One account of what a host stored: the recorder's total, and one per task it records into. */
export class HostTally {
  readonly stats: TaskHostStats;
  missingOpen = false;

  constructor(host: string) {
    this.stats = {
      host,
      active: true,
      packets: 0,
      bytes: 0,
      sessions: 0,
      firstUs: 0,
      lastUs: 0,
      drops: { 'store-away': 0, 'store-busy': 0, 'store-error': 0 },
      missing: [],
      updatedUs: 0,
    };
  }

  stored(count: number, bytes: number, sessions: number, first: number, last: number): void {
    const s = this.stats;
    s.packets += count;
    s.bytes += bytes;
    s.sessions += sessions;
    if (s.firstUs === 0 || first < s.firstUs) s.firstUs = first;
    if (last > s.lastUs) s.lastUs = last;
    this.missingOpen = false;
  }

  dropped(why: StoreDropReason, count: number, first: number, last: number): void {
    this.stats.drops[why] += count;
    addMissing(this.stats.missing, this.missingOpen, first, last, count, why);
    this.missingOpen = true;
  }

  /** The entry a task manifest's host key holds (a copy). */
  snapshot(nowUs: number): TaskHostStats {
    const s = this.stats;
    return { ...s, drops: { ...s.drops }, missing: s.missing.map((m): MissingRange => ({ ...m })), updatedUs: nowUs };
  }
}

export class StoreRecorder implements FrameTap {
  /** Everything since the start; tasks add their own tallies with track(). */
  readonly total: HostTally;
  private tallies: HostTally[] = [];
  /** Packets handed to the recorder, and those acknowledged by the store. */
  frames = 0;
  private readonly writers: BatchWriter[] = [];
  private readonly subjects: string[] = [];
  private readonly linkTypes: number[] = [];
  private readonly link = new LinkView();
  private readonly maxInFlight: number;
  private inFlightBytes = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];
  private lastLogUs = 0;
  /** Last sequence acknowledged. */
  lastSeq = 0;

  constructor(private readonly o: StoreRecorderOptions) {
    this.maxInFlight = o.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT;
    for (let p = 0; p < STORE_PARTITIONS; p++) {
      this.writers.push(new BatchWriter(Buffer.allocUnsafe(BATCH_BYTES)));
      this.subjects.push(`${o.stream}.${o.host}.${p}`);
    }
    this.total = new HostTally(o.host);
    this.tallies = [this.total];
  }

  get description(): string {
    return `${this.o.store.description} as host ${this.o.host}`;
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), STORE_FLUSH_MS);
    this.timer.unref();
  }

  addInterface(linkType: number): number {
    this.linkTypes.push(linkType);
    return this.linkTypes.length - 1;
  }

  frame(ifId: number, buf: Buffer, len: number, tsUs: number): void {
    this.frames++;
    const linkType = this.linkTypes[ifId] ?? 1;
    const link = this.link;
    decodeLink(linkType, buf, 0, len, link);
    const ipOff = link.l3Kind === 'ipv4' ? link.ipOffset : -1;
    const p = flowPartition(buf, ipOff, len - ipOff, STORE_PARTITIONS);
    const w = this.writers[p] as BatchWriter;
    if (!w.fits(len)) this.publish(p);
    if (!w.fits(len)) return; // larger than a batch: cannot happen with snap lengths ≤ 65535
    // A client SYN (no ACK) starts a session: counted for the task listing.
    const syn = ipOff >= 0 && len - ipOff >= 34 && buf[ipOff + 9] === 6 ? ((buf[ipOff + (((buf[ipOff] as number) & 0x0f) << 2) + 13] as number) & 0x12) === 0x02 : false;
    w.append(tsUs, linkType, syn ? 1 : 0, buf, 0, len);
  }

  /** Publishes every partial batch (the timer calls it; also before stopping a task). */
  flush(): void {
    for (let p = 0; p < STORE_PARTITIONS; p++) if ((this.writers[p] as BatchWriter).count > 0) this.publish(p);
  }

  /** True while publishing is at its in-flight limit (an import waits on drained()). */
  get busy(): boolean {
    return this.inFlightBytes >= this.maxInFlight / 2;
  }

  /** Resolves when nothing is in flight (or after timeoutMs). */
  drained(timeoutMs = 10_000): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Whether there is room for in-flight bytes again (for an import's back-pressure). */
  async room(): Promise<void> {
    while (this.busy) await new Promise((r) => setTimeout(r, 2));
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  private publish(p: number): void {
    const w = this.writers[p] as BatchWriter;
    const count = w.count;
    const first = w.firstTsUs;
    const last = w.lastTsUs;
    const len = w.finish();
    let sessions = 0;
    if (count > 0) {
      // Counting SYN flags here keeps the per-frame path free of bookkeeping per reason.
      for (let o = 8, i = 0; i < count; i++) {
        sessions += w.buf.readUInt16BE(o + 10) & 1;
        o += 16 + w.buf.readUInt32BE(o + 12);
      }
    }
    let why: StoreDropReason | null = null;
    if (!this.o.store.connected) why = 'store-away';
    else if (this.inFlightBytes + len > this.maxInFlight) why = 'store-busy';
    if (why !== null) {
      w.reset();
      this.drop(why, count, first, last);
      return;
    }
    // One copy per batch: the writer's buffer is reused at once.
    const data = Buffer.from(w.buf.subarray(0, len));
    w.reset();
    this.inFlight++;
    this.inFlightBytes += len;
    this.o.store.publish(this.subjects[p] as string, data).then(
      (seq) => {
        this.settle(len);
        if (seq > this.lastSeq) this.lastSeq = seq;
        for (const t of this.tallies) t.stored(count, len, sessions, first, last);
      },
      (err: unknown) => {
        this.settle(len);
        this.drop(this.o.store.connected ? 'store-error' : 'store-away', count, first, last, err);
      },
    );
  }

  private settle(len: number): void {
    this.inFlight--;
    this.inFlightBytes -= len;
    if (this.inFlight === 0 && this.idle.length > 0) {
      const cbs = this.idle;
      this.idle = [];
      for (const cb of cbs) cb();
    }
  }

  private drop(why: StoreDropReason, count: number, first: number, last: number, err?: unknown): void {
    for (const t of this.tallies) t.dropped(why, count, first, last);
    // At most one line per second: a long outage must not flood the log.
    const now = this.o.clock();
    if (now - this.lastLogUs >= 1_000_000) {
      this.lastLogUs = now;
      const d = this.total.stats.drops;
      const total = d['store-away'] + d['store-busy'] + d['store-error'];
      this.o.info(`store: packets not stored (${why}${err === undefined ? '' : `: ${(err as Error).message}`}); ${total} dropped so far`);
    }
  }

  /** Counts from now on into a task's own tally too (batches already in flight included). */
  track(): HostTally {
    const t = new HostTally(this.o.host);
    this.tallies.push(t);
    return t;
  }

  untrack(t: HostTally): void {
    this.tallies = this.tallies.filter((x) => x !== t);
  }

  get host(): string {
    return this.o.host;
  }
}
