import { Buffer } from 'node:buffer';
import { ipToString } from '../packet/ipv4.js';
import type { Outcome, SessionInfo } from '../session/types.js';
import { TupleMap } from '../session/tuple-map.js';
import { newRecordFields, readRecord } from '../wire/record.js';
import type { Exchange, ExchangeSink } from '../report/exchange.js';
import { BytePool } from './byte-pool.js';
import { answerOf, Conversation } from './conversation.js';

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const IPPROTO_TCP = 6;
/** A session whose tests are over waits this long for the capture's close before it is reported anyway. */
const REF_GRACE_US = 5_000_000;
/**
 * A session with no packet on any side for this many housekeeping ticks (250 ms each: 10 min) is
 * reported and forgotten, so connections the engine never replays (-O without a SYN, a capture
 * cut mid-connection) do not pile up on a long live run.
 */
const IDLE_TICKS = 2400;

export interface CollectorOptions {
  /** Test targets (address as u32, port), in report order (their index is the Exchange.tests index). */
  targets: readonly { ip: number; port: number }[];
  /** Response (and request) bytes kept per answer. */
  bytesCap: number;
  /** Reference answers come from the capture (false: Diffy mode, the baselines are the reference). */
  captureReference: boolean;
  /**
   * The sink keeps none of an exchange's Buffers once exchange() returns (the report aggregator
   * copies what it keeps): answer and request buffers are then reused from a pool.
   */
  recycleBytes?: boolean;
}

/** One captured session: the capture's side and one side per test target. */
interface Pair {
  key: string;
  servicePort: number;
  ref: Conversation;
  tests: (Conversation | null)[];
  /** Per target: its (last) session ended. */
  testDone: boolean[];
  /** The targets the engine started (or decided not to start) a session towards for it. */
  involved: number[];
  next: number;
  testsOverUs: number;
  /** The collector's tick count at the last packet of any side. */
  seen: number;
  clientIp: number;
  clientPort: number;
  serverIp: number;
  serverPort: number;
}

/**
 * Turns the copier's traffic into the report's exchanges (src/core/report/exchange.ts), streaming:
 * each captured session's turns are reported as soon as the capture and every test target are
 * past them, so memory holds only open sessions and their unreported turns.
 *
 * Inputs (all optional per run): captured client→server packets (`captured`) and, when the capture
 * holds them, server→client packets (`capturedReverse`) — both by capture time; the engine's
 * sessions (`testStarted` / `testClosed`); packets sent to the targets (`testSent`) and the
 * interceptor's records, with payload when the channel extension delivers it (`testRecord`) —
 * both by the copier's clock. Time flows in as arguments: no clock here.
 */
export class ExchangeCollector {
  private readonly pairs = new TupleMap<Pair>(4096);
  private readonly tests = new TupleMap<{ pair: Pair; t: number }>(4096);
  private readonly open = new Set<Pair>();
  private readonly fields = newRecordFields();
  /** A server→client packet was ever captured: reference answers exist. */
  private reverseSeen = false;
  private ticks = 0;
  exchanges = 0;
  private readonly pool: BytePool | null;

  constructor(
    private readonly o: CollectorOptions,
    private readonly sink: ExchangeSink,
  ) {
    this.pool = o.recycleBytes === true ? new BytePool(o.bytesCap) : null;
  }

  /** A captured client→server packet (IPv4 at buf[ipOff], capLen bytes), capture time tsUs. */
  captured(buf: Buffer, ipOff: number, capLen: number, tsUs: number): void {
    const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
    if (capLen < ihl + 20 || buf[ipOff + 9] !== IPPROTO_TCP) return;
    const t = ipOff + ihl;
    const src = buf.readUInt32BE(ipOff + 12);
    const dst = buf.readUInt32BE(ipOff + 16);
    const sport = buf.readUInt16BE(t);
    const dport = buf.readUInt16BE(t + 2);
    const flags = buf[t + 13] as number;
    const seq = buf.readUInt32BE(t + 4);
    let p = this.pairs.get(src, sport, dst, dport);
    if ((flags & TCP_SYN) !== 0 && (p === undefined || p.ref.count > 0 || p.ref.clientClosed)) {
      if (p !== undefined) this.end(p);
      p = this.newPair(src, sport, dst, dport);
    } else if (p === undefined) {
      p = this.newPair(src, sport, dst, dport);
    }
    const ref = p.ref;
    p.seen = this.ticks;
    if ((flags & TCP_SYN) !== 0) ref.clientSyn(seq);
    const payOff = t + (((buf[t + 12] as number) >> 4) << 2);
    const payEnd = Math.min(ipOff + capLen, ipOff + buf.readUInt16BE(ipOff + 2));
    if (payEnd > payOff) {
      const before = ref.settled;
      ref.clientData(seq, buf, payOff, payEnd - payOff, tsUs);
      if (ref.settled !== before) this.pump(p);
    }
    if ((flags & (TCP_FIN | TCP_RST)) !== 0) ref.clientClosed = true;
  }

  /** A captured server→client packet (the reference's answers). */
  capturedReverse(buf: Buffer, ipOff: number, capLen: number, tsUs: number): void {
    const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
    if (capLen < ihl + 20 || buf[ipOff + 9] !== IPPROTO_TCP) return;
    const t = ipOff + ihl;
    this.reverseSeen = true;
    const flags = buf[t + 13] as number;
    // A bare ACK tells the answers nothing (the client's packets keep the pair from idling).
    if ((flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && buf.readUInt16BE(ipOff + 2) === ihl + (((buf[t + 12] as number) >> 4) << 2)) return;
    const p = this.pairs.get(buf.readUInt32BE(ipOff + 16), buf.readUInt16BE(t + 2), buf.readUInt32BE(ipOff + 12), buf.readUInt16BE(t));
    if (p === undefined) return;
    const seq = buf.readUInt32BE(t + 4);
    const ref = p.ref;
    p.seen = this.ticks;
    if ((flags & TCP_SYN) !== 0) ref.serverSyn(seq);
    const payOff = t + (((buf[t + 12] as number) >> 4) << 2);
    const total = buf.readUInt16BE(ipOff + 2) - (payOff - ipOff);
    if (total > 0) ref.serverData(seq, total, buf, payOff, Math.max(0, Math.min(ipOff + capLen, ipOff + buf.readUInt16BE(ipOff + 2)) - payOff), tsUs);
    if ((flags & TCP_FIN) !== 0) ref.serverFin = true;
    if ((flags & TCP_RST) !== 0) ref.serverRst = true;
  }

  /** The engine started a session (SYN or fake SYN about to go). */
  testStarted(info: SessionInfo): void {
    if (info.replica !== 0) return; // -n copies are load, not comparisons
    const t = this.targetOf(info.targetIp, info.targetPort);
    if (t < 0) return;
    let p = this.pairs.get(info.onlineClientIp, info.onlineClientPort, info.onlineServerIp, info.onlineServerPort);
    if (p === undefined) p = this.newPair(info.onlineClientIp, info.onlineClientPort, info.onlineServerIp, info.onlineServerPort);
    let c = p.tests[t] ?? null;
    if (c === null) p.tests[t] = c = new Conversation(false, this.o.bytesCap, this.pool);
    else c.newConnection();
    p.testDone[t] = false;
    if (!p.involved.includes(t)) p.involved.push(t);
    this.tests.set(info.clientIp, info.clientPort, info.targetIp, info.targetPort, { pair: p, t });
  }

  /** A packet the copier sent to a target (IPv4 at buf[0]), at nowUs. */
  testSent(buf: Buffer, len: number, nowUs: number): void {
    const ihl = ((buf[0] as number) & 0x0f) << 2;
    if (len < ihl + 20) return;
    // Bare ACKs and FINs (most of what the engine sends) carry nothing the report reads.
    if (((buf[ihl + 13] as number) & TCP_SYN) === 0 && len <= ihl + (((buf[ihl + 12] as number) >> 4) << 2)) return;
    const e = this.tests.get(buf.readUInt32BE(12), buf.readUInt16BE(ihl), buf.readUInt32BE(16), buf.readUInt16BE(ihl + 2));
    if (e === undefined) return;
    const c = e.pair.tests[e.t];
    if (c === null || c === undefined) return;
    const seq = buf.readUInt32BE(ihl + 4);
    e.pair.seen = this.ticks;
    if (((buf[ihl + 13] as number) & TCP_SYN) !== 0) c.clientSyn(seq);
    const payOff = ihl + (((buf[ihl + 12] as number) >> 4) << 2);
    if (len > payOff) {
      const before = c.settled;
      c.clientData(seq, buf, payOff, len - payOff, nowUs);
      if (c.settled !== before) this.pump(e.pair);
    }
  }

  /**
   * A record from an interceptor (rec[off..], recLen bytes), with `payLen` payload bytes at
   * pay[payOff..] when the channel extension carried them (else payLen 0).
   */
  testRecord(rec: Buffer, off: number, recLen: number, pay: Buffer | null, payOff: number, payLen: number, nowUs: number): void {
    const f = this.fields;
    if (readRecord(rec, off, recLen, f) !== 'ok') return;
    if (f.payloadLength === 0 && (f.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) return; // a bare ACK
    const e = this.tests.get(f.clientIp, f.clientPort, f.serverIp, f.serverPort);
    if (e === undefined) return;
    const c = e.pair.tests[e.t];
    if (c === null || c === undefined) return;
    e.pair.seen = this.ticks;
    if ((f.flags & TCP_SYN) !== 0) c.serverSyn(f.seq);
    if (f.payloadLength > 0) c.serverData(f.seq, f.payloadLength, pay, payOff, Math.min(payLen, f.payloadLength), nowUs);
    if ((f.flags & TCP_FIN) !== 0) c.serverFin = true;
    if ((f.flags & TCP_RST) !== 0) c.serverRst = true;
  }

  /** A session's outcome (every session, and connections never started). */
  testClosed(info: SessionInfo, outcome: Outcome, nowUs: number): void {
    if (info.replica !== 0) return;
    const t = this.targetOf(info.targetIp, info.targetPort);
    if (t < 0) return;
    const e = info.clientPort === 0 ? undefined : this.tests.get(info.clientIp, info.clientPort, info.targetIp, info.targetPort);
    const p = e?.pair ?? this.pairs.get(info.onlineClientIp, info.onlineClientPort, info.onlineServerIp, info.onlineServerPort);
    if (e !== undefined) this.tests.delete(info.clientIp, info.clientPort, info.targetIp, info.targetPort);
    if (p === undefined) return;
    if (outcome === 'reconnected') return; // the next session carries on (testStarted)
    if (!p.involved.includes(t)) p.involved.push(t);
    this.sink.sessionOutcome(p.key, t, outcome);
    p.tests[t]?.finish(outcome.startsWith('timeout') || outcome === 'idle-timeout');
    p.testDone[t] = true;
    if (this.testsOver(p)) p.testsOverUs = nowUs;
    this.pump(p);
  }

  /**
   * Housekeeping (every 250 ms): sessions whose tests are over and whose capture never closed,
   * and sessions idle on every side, get reported.
   */
  tick(nowUs: number): void {
    this.ticks++;
    for (const p of this.open) {
      if ((p.testsOverUs >= 0 && nowUs - p.testsOverUs >= REF_GRACE_US) || this.ticks - p.seen > IDLE_TICKS) this.end(p);
    }
  }

  /** End of the run: report everything still open. */
  flush(): void {
    for (const p of [...this.open]) this.end(p);
  }

  /** Sessions being collected. */
  get openSessions(): number {
    return this.open.size;
  }

  private targetOf(ip: number, port: number): number {
    const ts = this.o.targets;
    for (let i = 0; i < ts.length; i++) {
      const x = ts[i] as { ip: number; port: number };
      if (x.ip === ip && x.port === port) return i;
    }
    return -1;
  }

  private newPair(cip: number, cport: number, sip: number, sport: number): Pair {
    const n = this.o.targets.length;
    const p: Pair = {
      key: `${ipToString(cip)}:${cport}>${ipToString(sip)}:${sport}`,
      servicePort: sport,
      ref: new Conversation(true, this.o.bytesCap, this.pool),
      tests: new Array<Conversation | null>(n).fill(null),
      testDone: new Array<boolean>(n).fill(false),
      involved: [],
      next: 0,
      testsOverUs: -1,
      seen: this.ticks,
      clientIp: cip,
      clientPort: cport,
      serverIp: sip,
      serverPort: sport,
    };
    this.pairs.set(cip, cport, sip, sport, p);
    this.open.add(p);
    return p;
  }

  private testsOver(p: Pair): boolean {
    for (let t = 0; t < p.tests.length; t++) if (p.tests[t] !== null && p.testDone[t] !== true) return false;
    return true;
  }

  /** Reports the turns every side is past. */
  private pump(p: Pair): void {
    if (this.testsOver(p) && p.ref.clientClosed) {
      this.end(p);
      return;
    }
    let upTo = p.ref.settled;
    for (let t = 0; t < p.tests.length; t++) {
      const c = p.tests[t];
      if (c !== null && c !== undefined && !c.finished && c.settled < upTo) upTo = c.settled;
    }
    this.emitUpTo(p, upTo);
  }

  /** The session is over on every side (or the run is): report the rest and forget it. */
  private end(p: Pair): void {
    if (!this.open.delete(p)) return;
    p.ref.finish(false);
    let upTo = p.ref.count;
    for (const c of p.tests) {
      if (c === null) continue;
      c.finish(false);
      if (c.count > upTo) upTo = c.count;
    }
    this.emitUpTo(p, upTo);
    if (this.pairs.get(p.clientIp, p.clientPort, p.serverIp, p.serverPort) === p) this.pairs.delete(p.clientIp, p.clientPort, p.serverIp, p.serverPort);
  }

  private emitUpTo(p: Pair, upTo: number): void {
    const withRef = this.o.captureReference && (this.reverseSeen || p.ref.serverSeen);
    // Every target involved (mirror mode, one -x service): leave `targets` out, as the contract allows.
    const targets = p.involved.length === p.tests.length ? undefined : [...p.involved].sort((a, b) => a - b);
    for (; p.next < upTo; p.next++) {
      const i = p.next;
      const r = p.ref.turn(i);
      const x: Exchange = {
        session: p.key,
        index: i,
        servicePort: p.servicePort,
        request: r?.req?.take() ?? Buffer.alloc(0),
        requestSize: r?.reqSize ?? 0,
        reference: withRef && r !== undefined ? answerOf(r) : null,
        tests: p.tests.map((c) => {
          const tt = c?.turn(i);
          return tt === undefined ? null : answerOf(tt);
        }),
        ...(targets === undefined ? {} : { targets }),
      };
      this.exchanges++;
      this.sink.exchange(x);
    }
    p.ref.dropBefore(p.next);
    for (const c of p.tests) c?.dropBefore(p.next);
  }
}
