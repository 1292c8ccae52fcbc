import type { Seg } from './segment.js';
import type { Timed } from './timer-heap.js';
import type { SessionInfo } from './types.js';

/**
 * Where a session is in its life. Everything else is a handful of named fields, not flag bits.
 *   synSent      SYN (captured or fake) sent, waiting for the target's SYN-ACK
 *   established  handshake done; data, FIN and RST follow the capture
 *   closed       outcome reported; lingers to ACK stray target packets, then its tuple is freed
 */
export type Phase = 'synSent' | 'established' | 'closed';

/** A captured control packet (FIN or RST) waiting for its turn. */
export interface PendingControl {
  /** Captured sequence number of the FIN/RST. */
  seq: number;
  origAck: number;
  thinkUs: number;
}

const NO_SEGS: Seg[] = [];
const NO_SESSIONS: Session[] = [];

/** Values a fresh session row starts with, in accessor order (see Session). */
const ROW_DEFAULTS = [
  Infinity, // deadline
  Infinity, // rtoAt
  Infinity, // delAckAt
  Infinity, // holdAt
  Infinity, // gapAt
  Infinity, // idleAt
  Infinity, // lingerUntil
  0, // iss
  0, // seqOffset
  0, // sndUna
  0, // sndNxt
  0, // sndMax
  0, // irs
  0, // rcvNxt
  0, // rcvAcked
  0, // lastRespAt
  0, // lastServerAt
  0, // tsBase
  0, // tsLast
  0, // tsRecent
  0, // capEnd
  0, // turnAck
  0, // turnResp
  -1, // turnReadyAt
  -1, // lastDataSentAt
  -1, // establishedAt
  0, // rto
  0, // srtt
  0, // rttvar
  0, // rttSeq
  -1, // rttSentAt
  0, // synSentAt
  0, // recover
  0, // turnStartCap
];
const STRIDE = ROW_DEFAULTS.length;
const TEMPLATE = Float64Array.from(ROW_DEFAULTS);

/**
 * Numeric session state for all sessions of an engine in one Float64Array, a row per session.
 * Sequence numbers (up to 2^32) and µs times are not small integers, so as ordinary object
 * fields each would be a separate heap box; here they cost 8 bytes each and no GC work.
 */
export class NumSlab {
  f: Float64Array;
  private readonly freeRows: number[] = [];
  private rows = 0;

  constructor(initialRows = 1024) {
    this.f = new Float64Array(Math.max(1, initialRows) * STRIDE);
  }

  /** A row initialised to the defaults; returns its offset. */
  alloc(): number {
    let row = this.freeRows.pop();
    if (row === undefined) {
      row = this.rows++;
      if ((row + 1) * STRIDE > this.f.length) {
        const bigger = new Float64Array(this.f.length * 2);
        bigger.set(this.f);
        this.f = bigger;
      }
    }
    const off = row * STRIDE;
    this.f.set(TEMPLATE, off);
    return off;
  }

  release(off: number): void {
    if (off >= 0) this.freeRows.push(off / STRIDE);
  }
}

/**
 * One captured client connection (by its online 4-tuple): capture ordering, the online
 * response base, and its replicas (sessions). Capture-side state lives here once, not per copy.
 */
export class OnlineConn {
  /** Shared empty until the first session (most connections have exactly one). */
  sessions: Session[] = NO_SESSIONS;
  /** Live (not closed) sessions. */
  live = 0;
  /** ≥ 0 once every session closed: late packets are ignored until then. */
  lingerUntil = -1;
  /** Detached from the online table (a new incarnation took the tuple). */
  detached = false;

  /** Captured ISN (or first seq − 1 without a SYN). */
  capIsn: number;
  /** Next captured seq expected in order. */
  capNxt: number;
  /** Captured out-of-order segments, sorted by seq (capture gaps); shared empty until needed. */
  ooo: Seg[] = NO_SEGS;
  gapSinceUs = -1;
  fin: PendingControl | null = null;
  /** Captured TCP checksums of this connection: -1 not checked yet, 1 valid, 0 not (re-sum). */
  capturedCsumValid = -1;

  /** Online server ISN + 1: the ack of the first ACK-bearing client packet. */
  base = 0;
  hasBase = false;
  lastCapTs = 0;
  lastCapAck = 0;
  hasLast = false;

  // Handshake options as captured (fake SYN: inferred).
  synWindow = 65535;
  synMss = -1;
  synWscale = -1;
  synSackOk = false;
  synTs = false;

  constructor(
    readonly clientIp: number,
    readonly clientPort: number,
    readonly serverIp: number,
    readonly serverPort: number,
    /** Client address after -H (pool mapping happens per replica). */
    readonly localClientIp: number,
    readonly transferIdx: number,
    readonly fromSyn: boolean,
    capIsn: number,
  ) {
    this.capIsn = capIsn;
    this.capNxt = (capIsn + 1) >>> 0;
  }
}

/** One simulated client session against the target (one replica of an OnlineConn). */
export class Session implements Timed, SessionInfo {
  phase: Phase = 'synSent';
  heapIndex = -1;

  // Timers (µs, Infinity = off); the heap deadline is their minimum.

  // Sequence translation: our seq = captured seq + seqOffset (mod 2^32).
  sndWnd = 0;
  sndWscale = 0;
  serverMss = 536;
  ourMss = 1460;
  wscaleOk = false;

  respBytes = 0;
  /** The last response data ended a write (PSH) or was the FIN. */
  respPush = false;

  tsOk = false;
  ipId = 0;

  // Captured data still needed: items[head..] (acked ones are released).
  items: Seg[] = NO_SEGS;
  head = 0;
  sendIdx = 0;
  /** Captured seq just past the last delivered byte. */
  buffered = 0;
  gatedItem: Seg | null = null;

  fin: PendingControl | null = null;
  rst: PendingControl | null = null;
  finSent = false;
  /** We reset the target (captured RST, timeout, drop): stray packets get another RST. */
  resetSent = false;
  finAcked = false;
  serverFin = false;
  targetClosedFirst = false;

  // Pacing (turns): the online ack of the current turn and our response count when it began.
  turnInit = false;
  waitingResponse = false;

  // Retransmission.
  backoff = 0;
  retries = 0;
  dupAcks = 0;
  inRecovery = false;
  staleResets = 0;

  /** How many reconnects led to this session (0 = the original). */
  reconnects = 0;

  // Report.
  endUs = 0;
  bytesDelivered = 0;
  turns = 0;
  responseWaitsExpired = 0;
  retransmits = 0;

  constructor(
    readonly id: number,
    readonly conn: OnlineConn,
    readonly replica: number,
    readonly clientIp: number,
    readonly clientPort: number,
    readonly targetIp: number,
    readonly targetPort: number,
    readonly startUs: number,
    /** Where this session's numeric state lives (see NumSlab). */
    private readonly slab: NumSlab = new NumSlab(1),
  ) {
    this.o = slab.alloc();
  }

  /** Offset of this session's row in the slab; −1 once released. */
  private o: number;

  /** Give the slab row back (the session must not be used afterwards). */
  release(): void {
    this.slab.release(this.o);
    this.o = -1;
  }


  // Numeric state kept in the slab (no per-field heap boxes for seq numbers and µs times).
  get deadline(): number {
    return this.slab.f[this.o + 0] as number;
  }
  set deadline(v: number) {
    this.slab.f[this.o + 0] = v;
  }
  get rtoAt(): number {
    return this.slab.f[this.o + 1] as number;
  }
  set rtoAt(v: number) {
    this.slab.f[this.o + 1] = v;
  }
  get delAckAt(): number {
    return this.slab.f[this.o + 2] as number;
  }
  set delAckAt(v: number) {
    this.slab.f[this.o + 2] = v;
  }
  get holdAt(): number {
    return this.slab.f[this.o + 3] as number;
  }
  set holdAt(v: number) {
    this.slab.f[this.o + 3] = v;
  }
  get gapAt(): number {
    return this.slab.f[this.o + 4] as number;
  }
  set gapAt(v: number) {
    this.slab.f[this.o + 4] = v;
  }
  get idleAt(): number {
    return this.slab.f[this.o + 5] as number;
  }
  set idleAt(v: number) {
    this.slab.f[this.o + 5] = v;
  }
  get lingerUntil(): number {
    return this.slab.f[this.o + 6] as number;
  }
  set lingerUntil(v: number) {
    this.slab.f[this.o + 6] = v;
  }
  get iss(): number {
    return this.slab.f[this.o + 7] as number;
  }
  set iss(v: number) {
    this.slab.f[this.o + 7] = v;
  }
  get seqOffset(): number {
    return this.slab.f[this.o + 8] as number;
  }
  set seqOffset(v: number) {
    this.slab.f[this.o + 8] = v;
  }
  get sndUna(): number {
    return this.slab.f[this.o + 9] as number;
  }
  set sndUna(v: number) {
    this.slab.f[this.o + 9] = v;
  }
  get sndNxt(): number {
    return this.slab.f[this.o + 10] as number;
  }
  set sndNxt(v: number) {
    this.slab.f[this.o + 10] = v;
  }
  get sndMax(): number {
    return this.slab.f[this.o + 11] as number;
  }
  set sndMax(v: number) {
    this.slab.f[this.o + 11] = v;
  }
  get irs(): number {
    return this.slab.f[this.o + 12] as number;
  }
  set irs(v: number) {
    this.slab.f[this.o + 12] = v;
  }
  get rcvNxt(): number {
    return this.slab.f[this.o + 13] as number;
  }
  set rcvNxt(v: number) {
    this.slab.f[this.o + 13] = v;
  }
  get rcvAcked(): number {
    return this.slab.f[this.o + 14] as number;
  }
  set rcvAcked(v: number) {
    this.slab.f[this.o + 14] = v;
  }
  get lastRespAt(): number {
    return this.slab.f[this.o + 15] as number;
  }
  set lastRespAt(v: number) {
    this.slab.f[this.o + 15] = v;
  }
  get lastServerAt(): number {
    return this.slab.f[this.o + 16] as number;
  }
  set lastServerAt(v: number) {
    this.slab.f[this.o + 16] = v;
  }
  get tsBase(): number {
    return this.slab.f[this.o + 17] as number;
  }
  set tsBase(v: number) {
    this.slab.f[this.o + 17] = v;
  }
  get tsLast(): number {
    return this.slab.f[this.o + 18] as number;
  }
  set tsLast(v: number) {
    this.slab.f[this.o + 18] = v;
  }
  get tsRecent(): number {
    return this.slab.f[this.o + 19] as number;
  }
  set tsRecent(v: number) {
    this.slab.f[this.o + 19] = v;
  }
  get capEnd(): number {
    return this.slab.f[this.o + 20] as number;
  }
  set capEnd(v: number) {
    this.slab.f[this.o + 20] = v;
  }
  get turnAck(): number {
    return this.slab.f[this.o + 21] as number;
  }
  set turnAck(v: number) {
    this.slab.f[this.o + 21] = v;
  }
  get turnResp(): number {
    return this.slab.f[this.o + 22] as number;
  }
  set turnResp(v: number) {
    this.slab.f[this.o + 22] = v;
  }
  get turnReadyAt(): number {
    return this.slab.f[this.o + 23] as number;
  }
  set turnReadyAt(v: number) {
    this.slab.f[this.o + 23] = v;
  }
  get lastDataSentAt(): number {
    return this.slab.f[this.o + 24] as number;
  }
  set lastDataSentAt(v: number) {
    this.slab.f[this.o + 24] = v;
  }
  get establishedAt(): number {
    return this.slab.f[this.o + 25] as number;
  }
  set establishedAt(v: number) {
    this.slab.f[this.o + 25] = v;
  }
  get rto(): number {
    return this.slab.f[this.o + 26] as number;
  }
  set rto(v: number) {
    this.slab.f[this.o + 26] = v;
  }
  get srtt(): number {
    return this.slab.f[this.o + 27] as number;
  }
  set srtt(v: number) {
    this.slab.f[this.o + 27] = v;
  }
  get rttvar(): number {
    return this.slab.f[this.o + 28] as number;
  }
  set rttvar(v: number) {
    this.slab.f[this.o + 28] = v;
  }
  get rttSeq(): number {
    return this.slab.f[this.o + 29] as number;
  }
  set rttSeq(v: number) {
    this.slab.f[this.o + 29] = v;
  }
  get rttSentAt(): number {
    return this.slab.f[this.o + 30] as number;
  }
  set rttSentAt(v: number) {
    this.slab.f[this.o + 30] = v;
  }
  get synSentAt(): number {
    return this.slab.f[this.o + 31] as number;
  }
  set synSentAt(v: number) {
    this.slab.f[this.o + 31] = v;
  }
  get recover(): number {
    return this.slab.f[this.o + 32] as number;
  }
  set recover(v: number) {
    this.slab.f[this.o + 32] = v;
  }

  get turnStartCap(): number {
    return this.slab.f[this.o + 33] as number;
  }
  set turnStartCap(v: number) {
    this.slab.f[this.o + 33] = v;
  }

  get onlineClientIp(): number {
    return this.conn.clientIp;
  }
  get onlineClientPort(): number {
    return this.conn.clientPort;
  }
  get onlineServerIp(): number {
    return this.conn.serverIp;
  }
  get onlineServerPort(): number {
    return this.conn.serverPort;
  }
  get fromSyn(): boolean {
    return this.conn.fromSyn && this.reconnects === 0;
  }
  get responseBytes(): number {
    return this.respBytes;
  }

  /** Release every buffered segment (after close). */
  dropItems(): void {
    this.items = NO_SEGS;
    this.head = 0;
    this.sendIdx = 0;
    this.buffered = 0;
    this.gatedItem = null;
  }
}
