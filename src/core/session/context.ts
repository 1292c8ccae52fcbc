import { newTcpOptions } from '../packet/options.js';
import { SegmentView } from '../packet/segment.js';
import { newRecordFields } from '../wire/record.js';
import { PayloadArena } from './payload-arena.js';
import { PortAllocator } from './port-allocator.js';
import { Prng } from './prng.js';
import { Sender } from './sender.js';
import type { OnlineConn } from './online-conn.js';
import { NumSlab, type Session } from './session.js';
import { EngineStats } from './stats.js';
import { TargetRtt } from './target-rtt.js';
import { TimerHeap } from './timer-heap.js';
import { TupleMap } from './tuple-map.js';
import type { EngineConfig, EngineSink } from './types.js';

/**
 * The state one SessionEngine's parts share: the connection and session tables, the timer heap,
 * the slab, the sender and the scratch views. The engine's concerns (capture side, records,
 * sending, timers, lifecycle) are functions over this context, each in its own file:
 *
 *   lifecycle.ts  start, reconnect, finish, retire sessions      (uses context)
 *   pump.ts       send what the capture, pacing and window allow (uses lifecycle)
 *   capture.ts    captured client packets: order, buffer, hand out (uses pump, lifecycle)
 *   responses.ts  interceptor records: handshake, acks, response data (uses pump, lifecycle)
 *   timers.ts     deadlines: delayed ACK, RTO, holds, gaps, idle    (uses pump, lifecycle)
 */
export class EngineContext {
  readonly stats = new EngineStats();
  /** Captured connections by their online 4-tuple. */
  readonly byOnline = new TupleMap<OnlineConn>(1024);
  /** Sessions by their rewritten tuple (client as the target sees it, target). */
  readonly byTarget = new TupleMap<Session>(1024);
  readonly heap = new TimerHeap<Session>();
  readonly ports: PortAllocator;
  readonly tx: Sender;
  readonly slab = new NumSlab(1024);
  /** Captured payloads, until acknowledged. */
  readonly arena = new PayloadArena();
  /** Handshake RTTs per target: the RTO of new sessions' SYNs. */
  readonly targetRtt = new TargetRtt();
  /** Scratch views, reused for every packet and record. */
  readonly view = new SegmentView();
  readonly opts = newTcpOptions();
  readonly rec = newRecordFields();
  /** -f's random part, and the key of IP IDs. */
  readonly shiftR: number;
  readonly ipIdKey: number;
  /** Sessions with response data not ACKed yet, for flushAcks at the end of the turn. */
  readonly ackQueue: Session[] = [];
  /** Connections whose sessions all ended, in linger order (expired from lingerHead). */
  lingerFifo: OnlineConn[] = [];
  lingerHead = 0;
  interceptorUp = true;
  firstPacketUs = -1;
  nextId = 1;
  bufferedTotal = 0;
  /** IP offset of the captured packet being handled (the views don't expose it). */
  curIpOff = 0;

  constructor(
    readonly cfg: EngineConfig,
    readonly sink: EngineSink,
  ) {
    const rng = new Prng(cfg.seed);
    this.shiftR = rng.below(512);
    this.ipIdKey = rng.nextU32();
    this.tx = new Sender(cfg, sink, this.stats);
    this.ports = new PortAllocator((a, b, c, d) => this.byTarget.has(a, b, c, d));
  }

  /** Re-arm a live session's timer at the earliest of its deadlines (idle from its state). */
  reschedule(s: Session, nowUs: number): void {
    if (s.phase === 'closed') return;
    const pending =
      s.phase === 'synSent' ||
      s.sndUna !== s.sndMax ||
      ((s.sndNxt - s.seqOffset) >>> 0) !== s.capEnd ||
      (s.fin !== null && !s.finAcked) ||
      s.rst !== null;
    s.idleAt = s.lastServerAt + (pending ? this.cfg.sessionTimeoutUs : this.cfg.keepaliveTimeoutUs);
    let d = s.rtoAt;
    if (s.delAckAt < d) d = s.delAckAt;
    if (s.holdAt < d) d = s.holdAt;
    if (s.gapAt < d) d = s.gapAt;
    if (s.idleAt < d) d = s.idleAt;
    if (d < nowUs) d = nowUs;
    if (d !== s.deadline || (s.heapIndex < 0 && d !== Infinity)) this.heap.update(s, d);
  }
}

/** Phase check that TypeScript does not narrow (functions called in between change it). */
export function closed(s: Session): boolean {
  return s.phase === 'closed';
}
