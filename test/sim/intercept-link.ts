import { Buffer } from 'node:buffer';
import { engineOptionsFrom, parseInterceptOptions, type InterceptRawOptions } from '../../src/core/config/intercept.js';
import { InterceptEngine, VERDICT_DROP, type InterceptSink } from '../../src/core/intercept/index.js';
import type { LogLevel } from '../../src/core/log-level.js';
import {
  FRAME_HEADER_SIZE,
  FrameDecoder,
  MESSAGE_SIZE,
  MSG_CLIENT_ADD,
  MSG_CLIENT_DEL,
  encodeHello,
  maxFrameRecordsFor,
  newChannelMessage,
  recordSizeFor,
  writeMessage,
} from '../../src/core/wire/index.js';
import { prng } from '../helpers/prng.js';
import { FakeTarget } from './fake-target.js';
import { Sim, TARGET, TARGET_PORT, type SimOptions } from './harness.js';
import { World } from './world.js';

/**
 * The copier ↔ interceptor channel in the simulation, byte for byte as on the TCP connections:
 *
 *   SessionEngine.routeAdd/routeDel → 14-byte messages (round robin over the copier's -C
 *     connections, as ChannelClient does) → byte stream cut at random points → InterceptEngine.onData
 *   FakeTarget packets → (NFQUEUE: copy range 64/192) → InterceptEngine.onPacket (verdict checked)
 *   InterceptEngine frames → byte stream cut at random points → FrameDecoder → SessionEngine.onResponse
 *
 * The interceptor's end-of-turn flush (FlushScheduler's setImmediate) is a world event at the
 * current time, so it runs after every packet already due at that instant: packets the target
 * emitted together form one NFQUEUE burst and share frames, as in the daemon. Several copiers
 * (each a harness Sim with its own SessionEngine) can share one interceptor and one target; drive
 * them with `run` here, not Sim.run (which only serves its own engine's timers).
 */

export interface LinkOptions {
  /** The fake target's settings (shared by every copier). */
  target: SimOptions['target'];
  /** The interceptor's command line as the daemon parses it (e.g. { withPayload: true }). */
  intercept?: InterceptRawOptions;
  /** One-way latency of the channel connections. */
  channelDelayUs?: number;
  /** Target → NFQUEUE → interceptor latency (same host). */
  nfqDelayUs?: number;
  /** Per-byte probability of a read boundary, copier → interceptor and interceptor → copier. */
  messageCutP?: number;
  frameCutP?: number;
  seed?: number;
}

/** One direction of a channel connection: FIFO bytes, coalesced per instant, cut at random points. */
class Pipe {
  private pending: Buffer[] = [];
  private flushQueued = false;
  private lastAt = 0;
  /** Bytes written and not yet delivered. */
  queued = 0;
  /** Read boundaries that fell inside a message/frame (the split-safe decoder paths). */
  innerCuts = 0;
  chunks = 0;

  constructor(
    private readonly world: World,
    private readonly delayUs: number,
    private readonly cutP: number,
    private readonly rand: () => number,
    private readonly deliver: (chunk: Buffer) => void,
    private readonly drained: () => void = () => undefined,
  ) {}

  write(b: Buffer): void {
    this.pending.push(Buffer.from(b)); // the sender may reuse its buffer
    this.queued += b.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Writes of one instant leave together (one segment may carry several messages/frames).
      this.world.after(0, () => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const bounds = new Set<number>();
    let off = 0;
    for (const p of this.pending) bounds.add((off += p.length));
    const all = Buffer.concat(this.pending);
    this.pending = [];
    const at = Math.max(this.world.now + this.delayUs, this.lastAt);
    this.lastAt = at;
    let start = 0;
    const emit = (end: number): void => {
      const piece = all.subarray(start, end);
      start = end;
      this.chunks++;
      // Equal times run in scheduling order: the stream stays in order.
      this.world.schedule(at, () => {
        this.queued -= piece.length;
        this.deliver(piece);
        if (this.queued === 0) this.drained();
      });
    };
    for (let i = 1; i < all.length; i++) {
      if (this.rand() < this.cutP) {
        if (!bounds.has(i)) this.innerCuts++;
        emit(i);
      }
    }
    emit(all.length);
  }
}

export interface LinkConn {
  readonly id: number;
  readonly copier: CopierEnd;
  readonly up: Pipe;
  readonly down: Pipe;
  readonly decoder: FrameDecoder;
}

export interface CopierCounters {
  /** Records decoded from frames and handed to SessionEngine.onResponse. */
  records: number;
  /** Records for a tuple this copier never announced with CLIENT_ADD (cross-delivery). */
  foreign: number;
  /** Records for a tuple this copier had already withdrawn with CLIENT_DEL. */
  late: number;
  synAcks: number;
  frames: number;
  multiRecordFrames: number;
  clientAdd: number;
  clientDel: number;
}

const tupleKey = (cip: number, cport: number, tip: number, tport: number): string => `${cip}:${cport}>${tip}:${tport}`;

/** A copier: a harness Sim (SessionEngine + capture feed) plus its channel connections. */
export class CopierEnd {
  readonly sim: Sim;
  readonly conns: LinkConn[] = [];
  readonly counters: CopierCounters = { records: 0, foreign: 0, late: 0, synAcks: 0, frames: 0, multiRecordFrames: 0, clientAdd: 0, clientDel: 0 };
  /** Copies of every record received, in order. */
  readonly received: Buffer[] = [];
  /** Tuples announced (and not yet withdrawn / withdrawn). */
  readonly announced = new Set<string>();
  readonly withdrawn = new Set<string>();
  private rr = 0;
  private readonly msg = newChannelMessage();

  constructor(
    readonly link: InterceptLink,
    readonly name: string,
    simOpts: Omit<SimOptions, 'channel' | 'world' | 'fakeTarget' | 'target' | 'recordStyle'>,
  ) {
    this.sim = new Sim({
      ...simOpts,
      world: link.world,
      fakeTarget: link.target,
      target: link.o.target,
      channel: {
        targetOut: link.nfqueue,
        routeAdd: (cip, cport, tip, tport) => this.send(MSG_CLIENT_ADD, cip, cport, tip, tport),
        routeDel: (cip, cport, tip, tport) => {
          this.send(MSG_CLIENT_DEL, cip, cport, tip, tport);
        },
      },
    });
  }

  /** As ChannelClient.broadcast: one message per interceptor, connections taken round robin. */
  private send(type: number, cip: number, cport: number, tip: number, tport: number): boolean {
    const n = this.conns.length;
    if (n === 0) return false;
    const c = this.conns[this.rr % n] as LinkConn;
    this.rr = (this.rr + 1) % n;
    const m = this.msg;
    m.cltIp = cip;
    m.cltPort = cport;
    m.type = type;
    m.targetIp = tip;
    m.targetPort = tport;
    const b = Buffer.alloc(MESSAGE_SIZE);
    writeMessage(b, 0, m);
    c.up.write(b);
    const k = tupleKey(cip, cport, tip, tport);
    if (type === MSG_CLIENT_ADD) {
      this.counters.clientAdd++;
      this.announced.add(k);
      this.withdrawn.delete(k);
    } else {
      this.counters.clientDel++;
      this.withdrawn.add(k);
    }
    return true;
  }

  /** @internal A chunk of the interceptor → copier stream of `c`. */
  onBytes(c: LinkConn, chunk: Buffer): void {
    const dec = c.decoder;
    const framesBefore = dec.frames;
    dec.feed(chunk);
    for (let r = dec.next(); ; r = dec.next()) {
      if (r === 'record') {
        this.onRecord(dec.record, dec.recordOff);
        continue;
      }
      if (r === 'bad-count') this.link.errors.push(`${this.name}: frame count ${dec.badCount}`);
      break;
    }
    this.counters.frames += dec.frames - framesBefore;
  }

  private onRecord(rec: Buffer, off: number): void {
    const size = this.link.recordSize;
    const k = tupleKey(rec.readUInt32BE(off + 16), rec.readUInt16BE(off + 22), rec.readUInt32BE(off + 12), rec.readUInt16BE(off + 20));
    const cn = this.counters;
    cn.records++;
    if (!this.announced.has(k)) cn.foreign++;
    else if (this.withdrawn.has(k)) cn.late++;
    if (((rec[off + 33] as number) & 0x12) === 0x12) cn.synAcks++;
    this.received.push(Buffer.from(rec.subarray(off, off + size)));
    this.sim.engine.onResponse(rec, off, this.link.world.now, size);
  }
}

export class InterceptLink {
  readonly world: World;
  readonly target: FakeTarget;
  readonly engine: InterceptEngine;
  readonly copiers: CopierEnd[] = [];
  readonly recordSize: number;
  readonly maxFrameRecords: number;
  /** Record count of every frame the interceptor wrote, in order. */
  readonly frameCounts: number[] = [];
  /** Contract violations seen on the wire (bad frames, unexpected closes, non-DROP verdicts). */
  readonly errors: string[] = [];
  readonly logs: { level: LogLevel; message: string }[] = [];
  /** Packets the target emitted (= handed to NFQUEUE), in total and per destination (client) IP. */
  nfqPackets = 0;
  readonly nfqByClientIp = new Map<number, number>();
  private readonly byId = new Map<number, LinkConn>();
  private nextId = 1;
  private tickQueued = false;
  private housekeepAt: number;
  private readonly rand: () => number;
  private readonly copyRange: number;

  constructor(readonly o: LinkOptions) {
    this.world = new World();
    const { config } = parseInterceptOptions(o.intercept ?? {});
    const opts = engineOptionsFrom(config);
    this.recordSize = recordSizeFor(opts.withPayload);
    this.maxFrameRecords = maxFrameRecordsFor(opts.withPayload);
    this.copyRange = this.recordSize; // the daemon's NFQUEUE copy range
    this.rand = prng(o.seed ?? 7);
    this.housekeepAt = this.world.now + 1_000_000;
    const sink: InterceptSink = {
      write: (id, frame, done) => this.write(id, frame, done),
      close: (id, reason) => this.errors.push(`interceptor closed connection ${id}: ${reason}`),
      log: (level, message) => this.logs.push({ level, message }),
    };
    this.engine = new InterceptEngine(opts, sink);
    this.target = new FakeTarget(this.world, { ip: TARGET, port: TARGET_PORT, ...o.target }, this.nfqueue);
  }

  /** The target's output: the NFQUEUE rule on the test server hands every response to us. */
  readonly nfqueue = (pkt: Buffer): void => {
    this.nfqPackets++;
    const dst = pkt.readUInt32BE(16);
    this.nfqByClientIp.set(dst, (this.nfqByClientIp.get(dst) ?? 0) + 1);
    this.world.after(this.o.nfqDelayUs ?? 5, () => {
      const len = Math.min(pkt.length, this.copyRange);
      const v = this.engine.onPacket(pkt.subarray(0, len), len, this.world.now);
      if (v !== VERDICT_DROP) this.errors.push(`verdict ${v} for a response`);
      this.afterInput();
    });
  };

  /** A copier with `connections` (-C) channel connections, each sending its hello first. */
  addCopier(name: string, simOpts: Omit<SimOptions, 'channel' | 'world' | 'fakeTarget' | 'target' | 'recordStyle'> = {}, connections = 2): CopierEnd {
    const cp = new CopierEnd(this, name, simOpts);
    const delay = this.o.channelDelayUs ?? 20;
    for (let i = 0; i < connections; i++) {
      const id = this.nextId++;
      const up = new Pipe(this.world, delay, this.o.messageCutP ?? 0.2, this.rand, (chunk) => {
        this.engine.onData(id, chunk, this.world.now);
        this.afterInput();
      });
      const conn: LinkConn = {
        id,
        copier: cp,
        up,
        down: new Pipe(this.world, delay, this.o.frameCutP ?? 0.02, this.rand, (chunk) => cp.onBytes(conn, chunk), () => this.engine.onDrain(id)),
        decoder: new FrameDecoder(this.recordSize, this.maxFrameRecords),
      };
      if (!this.engine.onConnect(id, 0x0a090000 + this.copiers.length, `${name}#${i}`, this.world.now)) {
        this.errors.push(`${name}#${i} refused`);
        continue;
      }
      this.byId.set(id, conn);
      cp.conns.push(conn);
      up.write(encodeHello());
    }
    this.copiers.push(cp);
    return cp;
  }

  private write(id: number, frame: Buffer, done: () => void): number {
    const n = frame.readUInt16BE(0);
    this.frameCounts.push(n);
    if (n < 1 || n > this.maxFrameRecords || frame.length !== FRAME_HEADER_SIZE + n * this.recordSize) {
      this.errors.push(`frame of ${frame.length} bytes with count ${n}`);
    }
    const c = this.byId.get(id);
    if (c === undefined) {
      this.errors.push(`frame for unknown connection ${id}`);
      done();
      return 0;
    }
    if (n > 1) c.copier.counters.multiRecordFrames++;
    c.down.write(frame); // copied: the frame's pooled buffer goes back at once
    done();
    return c.down.queued;
  }

  /** FlushScheduler.afterInput: one end-of-turn tick while frames wait. */
  private afterInput(): void {
    if (this.tickQueued || !this.engine.hasPending) return;
    this.tickQueued = true;
    this.world.after(0, () => {
      this.tickQueued = false;
      if (this.engine.onTick(this.world.now)) this.afterInput();
    });
  }

  /**
   * Runs world events, every copier engine's timers and the interceptor's once-a-second
   * housekeeping, in time order. Stops when nothing is left (housekeeping alone does not keep
   * it going) unless `idle` is set, or after `forUs`.
   */
  run(forUs = 600_000_000, idle = false, maxSteps = 20_000_000): void {
    const w = this.world;
    const limit = w.now + forUs;
    for (let i = 0; i < maxSteps; i++) {
      const te = w.nextAt();
      let td = Infinity;
      let due: CopierEnd | null = null;
      for (const c of this.copiers) {
        const d = c.sim.engine.nextDeadline();
        if (d < td) {
          td = d;
          due = c;
        }
      }
      let t = Math.min(te, td);
      if (idle) t = Math.min(t, this.housekeepAt);
      if (t === Infinity || t > limit) break;
      if (this.housekeepAt <= t) {
        w.now = Math.max(w.now, this.housekeepAt);
        this.engine.onTimer(w.now);
        this.housekeepAt = w.now + 1_000_000;
      } else if (due !== null && td <= te) {
        w.now = Math.max(w.now, td);
        due.sim.engine.onTimer(w.now);
      } else {
        w.runOne();
      }
    }
    if (idle && w.now < limit) w.now = limit;
  }

  /** Read boundaries inside messages / frames so far (proof the split paths ran). */
  get innerCuts(): { up: number; down: number } {
    let up = 0;
    let down = 0;
    for (const c of this.byId.values()) {
      up += c.up.innerCuts;
      down += c.down.innerCuts;
    }
    return { up, down };
  }
}
