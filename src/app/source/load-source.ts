import { Buffer } from 'node:buffer';
import { statSync } from 'node:fs';
import { CaptureError, type CaptureWarning } from '../../core/capture/errors.js';
import type { LoadConfig } from '../../core/config/tcpcopy-cli.js';
import type { PacketFilter } from '../../core/filter/index.js';
import { SessionStoreBuilder, STORE_MAX_PACKET, type SessionStore } from '../../core/load/session-store.js';
import { loadCapacity, UserScheduler, type LoadCounters } from '../../core/load/user-scheduler.js';
import { PacketSelector } from '../../core/replay/selector.js';
import type { Outcome, SessionInfo } from '../../core/session/types.js';
import type { Transfer } from '../../core/transfer.js';
import { CaptureFileReader } from '../../io/pcap-file.js';
import type { FeedResult, PacketConsumer, PacketSource, SourceEvents, SourceProgress, SourceTotals } from './packet-source.js';

/** Packets handed out per feed() call before I/O gets a chance. */
const BATCH = 512;

export interface LoadSourceOptions {
  path: string;
  transfers: readonly Transfer[];
  filter: PacketFilter | null;
  load: LoadConfig;
  /** -a */
  acceleration: number;
  /** -n */
  replicas: number;
  /** -O */
  onlyFromSyn: boolean;
  onWarning: (w: CaptureWarning) => void;
  events: SourceEvents;
}

/** The capture or the user range cannot serve the run: a usage error naming the flags. */
export class LoadOpenError extends Error {}

/** Never-started outcomes: the user's session is over as a whole (one report for all replicas). */
const WHOLE: ReadonlySet<Outcome> = new Set<Outcome>(['sampled-out', 'no-interceptor']);

/**
 * Load mode (-u): the capture read once into a SessionStore, then N users replaying its sessions
 * concurrently (UserScheduler), each from its own client address and port, paced by the
 * captured gaps (÷ -a); the engine gives every session fresh ISNs. Pausable. Ends at --duration
 * or after -T passes over the sessions; the copier then gives sessions in flight --end-grace.
 */
export class LoadSource implements PacketSource {
  readonly pausable = true;
  /** At its end, sessions in flight get --end-grace and are then ended (a load run is timed). */
  readonly graceAtEnd = true;
  readonly description: string;
  readonly scheduler: UserScheduler;
  /** Session outcomes of the users' sessions, by outcome (not those ended by the run's end). */
  readonly outcomes = new Map<Outcome, number>();
  /** Sessions still open when the run ended (--duration and --end-grace over, or a signal): reset then. */
  closedAtEnd = 0;
  private readonly scratch = Buffer.allocUnsafe(STORE_MAX_PACKET);
  private done = false;
  private closed = false;

  private constructor(
    private readonly o: LoadSourceOptions,
    readonly store: SessionStore,
    private readonly selector: PacketSelector,
    private readonly packetsRead: number,
    private readonly fileSize: number,
    readonly addresses: readonly number[],
  ) {
    this.description = `load from ${o.path} (${o.load.users} users, ${store.sessions} captured sessions)`;
    this.scheduler = new UserScheduler(
      {
        users: o.load.users,
        addresses,
        rampUs: o.load.rampUs,
        durationUs: o.load.durationUs,
        maxSessions: o.load.passes === null ? Infinity : o.load.passes * store.sessions,
        acceleration: o.acceleration,
        replicas: o.replicas,
      },
      store,
    );
  }

  /** Reads the whole capture into the store; throws LoadOpenError when it cannot serve the run. */
  static async open(o: LoadSourceOptions): Promise<LoadSource> {
    let reader: CaptureFileReader | null = null;
    const builder = new SessionStoreBuilder({ comet: o.load.comet, onlyFromSyn: o.onlyFromSyn });
    const selector = new PacketSelector(o.transfers, o.filter);
    let read = 0;
    let size: number;
    try {
      const st = statSync(o.path);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
      reader = CaptureFileReader.open(o.path, { onWarning: o.onWarning });
      for (;;) {
        const rec = reader.nextBuffered();
        if (rec === null) {
          if (!(await reader.fill())) break;
          continue;
        }
        read++;
        const ipOff = rec.l3Kind === 'ipv4' ? rec.ipBufOffset : -1;
        const idx = selector.select(rec.buf, ipOff, rec.capLen - rec.ipOffset);
        if (idx >= 0) builder.add(rec.buf, ipOff, rec.capLen - rec.ipOffset, rec.tsUs, idx);
      }
    } catch (err) {
      const why = err instanceof CaptureError ? err.message : `${o.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      throw new LoadOpenError(`-i ${JSON.stringify(o.path)}: cannot read the capture: ${why} (expected a readable pcap or pcapng file)`);
    } finally {
      reader?.close();
    }
    const store = builder.finish();
    if (store.sessions === 0) {
      throw new LoadOpenError(
        `-i ${JSON.stringify(o.path)}: no session to replay (${read} packets read, none of a connection matching -x${o.filter === null ? '' : ' and -F'}; ` +
          `${store.p.skips.truncated} truncated): load mode (-u) needs captured client→server connections`,
      );
    }
    const addresses = o.load.addresses.length > 0 ? o.load.addresses : store.clientIps;
    const capacity = loadCapacity(addresses.length, o.replicas);
    if (o.load.users > capacity) {
      const range = o.load.addresses.length > 0 ? `-c gives ${addresses.length} address(es)` : `no -c: the capture's ${addresses.length} client address(es) are used`;
      throw new LoadOpenError(
        `-u ${o.load.users}: too many users for the client range: ${range} × 64512 ports${o.replicas > 1 ? ` ÷ -n ${o.replicas}` : ''} ` +
          `= at most ${capacity} concurrent users; give a wider -c (e.g. a.b.c.0/24 or a /16) or fewer -u${o.replicas > 1 ? ' / -n' : ''}`,
      );
    }
    return new LoadSource(o, store, selector, read, size, addresses);
  }

  get ended(): boolean {
    return this.done;
  }

  get counters(): LoadCounters {
    return this.scheduler.counters;
  }

  get nextReleaseUs(): number {
    return this.done ? Infinity : this.scheduler.nextReleaseUs();
  }

  start(nowUs: number): void {
    this.scheduler.begin(nowUs);
    this.checkEnd();
  }

  feed(nowUs: number, consumer: PacketConsumer): FeedResult {
    const sch = this.scheduler;
    for (let n = 0; n < BATCH; n++) {
      if (this.done || this.closed) return 'done';
      if (!consumer.accepting) return 'paused';
      const p = sch.take(nowUs);
      if (p < 0) return this.checkEnd() ? 'done' : 'wait';
      const len = this.store.write(p, this.scratch, sch.curIp, sch.curPort);
      consumer.packet(this.scratch, 0, len, sch.curTsUs, sch.transferOf(sch.curUser));
    }
    return 'more';
  }

  /** An engine outcome (the copier's sessionClosed): a user's session may be over. */
  sessionClosed(info: SessionInfo, outcome: Outcome, nowUs: number, atRunEnd: boolean): void {
    const ended = this.scheduler.sessionEnded(info.onlineClientIp, info.onlineClientPort, outcome === 'reconnected', WHOLE.has(outcome), nowUs);
    if (atRunEnd) this.closedAtEnd++;
    else if (outcome !== 'reconnected') this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (ended) {
      this.checkEnd();
      this.o.events.wake();
    }
  }

  progress(): SourceProgress {
    const c = this.scheduler.counters;
    const maxSessions = this.o.load.passes === null ? 0 : this.o.load.passes * this.store.sessions;
    return {
      fraction: maxSessions > 0 ? Math.min(1, c.sessionsStarted / maxSessions) : null,
      packets: c.packetsReleased,
      packetsUsed: c.packetsReleased,
      bytes: 0,
      totalBytes: 0,
      drops: 0,
      loop: 0,
      loops: 1,
    };
  }

  totals(): SourceTotals {
    return {
      packetsRead: this.packetsRead,
      packetsUsed: this.scheduler.counters.packetsReleased,
      ...this.selector.counters,
      truncatedRecords: this.store.p.skips.truncated,
      drops: 0,
      runsDone: 1,
      runs: 1,
      unmatchedDestinations: this.selector.unmatchedTop(5),
    };
  }

  /** The store's size, for the start-up log line. */
  describeStore(): string {
    const s = this.store;
    const pay = s.payloadBytes;
    const sk = s.p.skips;
    const skipped = Object.entries(sk).filter(([, v]) => v > 0);
    return (
      `session store: ${s.sessions} sessions, ${s.packets} packets from ${(this.fileSize / 1048576).toFixed(1)} MB of capture; ` +
      `payloads ${pay.seen} B → ${pay.unique} B deduplicated; store ${(s.memoryBytes / 1024).toFixed(1)} KiB, ` +
      `user state ${(this.scheduler.memoryBytes / 1024).toFixed(1)} KiB for ${this.o.load.users} users over ${this.addresses.length} client address(es)` +
      (skipped.length === 0 ? '' : `; not stored: ${skipped.map(([k, v]) => `${k} ${v}`).join(', ')}`)
    );
  }

  close(): void {
    this.closed = true;
  }

  private checkEnd(): boolean {
    if (!this.done && this.scheduler.ended) {
      this.done = true;
      this.o.events.ended();
    }
    return this.done;
  }
}
