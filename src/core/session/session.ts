import { defineBitFlags } from './bit-flags.js';
import type { Seg } from './segment.js';
import type { Timed } from './timer-heap.js';
import type { SessionInfo } from './types.js';
import type { OnlineConn } from './online-conn.js';

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

// Shared empty sentinel (most sessions hold one segment at a time, idle ones none): frozen so a
// stray push can never fill the one instance every session points at.
const NO_SEGS = Object.freeze([]) as readonly Seg[] as Seg[];

/**
 * The numeric fields of a session and the value a fresh row starts with: the tables the slab
 * layout, the row template and the Session accessors are all generated from. Times, durations
 * and counts are float64; 32-bit sequence-space values (TCP seq/ack, timestamps) are uint32,
 * half the bytes, and a store wraps them mod 2^32 as TCP arithmetic wants.
 */
const F64_FIELDS = {
  // Timers (µs, Infinity = off); the heap deadline is their minimum.
  deadline: Infinity,
  rtoAt: Infinity,
  delAckAt: Infinity,
  holdAt: Infinity,
  gapAt: Infinity,
  idleAt: Infinity,
  lingerUntil: Infinity,
  lastRespAt: 0,
  lastServerAt: 0,
  // Pacing (turns): our response count when the current turn began.
  turnResp: 0,
  turnReadyAt: -1,
  lastDataSentAt: -1,
  establishedAt: -1,
  // RTT estimation and retransmission.
  rto: 0,
  srtt: 0,
  rttvar: 0,
  rttSentAt: -1,
  synSentAt: 0,
  // Report: when the session started and ended (µs; too large for a small integer field).
  startUs: 0,
  endUs: 0,
} satisfies Record<string, number>;

const U32_FIELDS = {
  // Sequence translation: our seq = captured seq + seqOffset (mod 2^32).
  iss: 0,
  seqOffset: 0,
  sndUna: 0,
  sndNxt: 0,
  sndMax: 0,
  irs: 0,
  rcvNxt: 0,
  rcvAcked: 0,
  tsBase: 0,
  tsLast: 0,
  tsRecent: 0,
  /** Captured seq just past the last captured byte known to this session. */
  capEnd: 0,
  // Pacing (turns): the online ack of the current turn, and the captured seq it began at.
  turnAck: 0,
  turnStartCap: 0,
  rttSeq: 0,
  recover: 0,
} satisfies Record<string, number>;

/**
 * The boolean state of a session, as bits of one small-integer field (generated accessors below):
 * a boolean object field costs a pointer-sized slot each, and load mode holds 150,000 sessions.
 *   wscaleOk           window scaling negotiated
 *   respPush           the last response data ended a write (PSH) or was the FIN
 *   tsOk               timestamps negotiated
 *   finSent, finAcked  our FIN went, and was acknowledged
 *   resetSent          we reset the target (captured RST, timeout, drop): stray packets get another RST
 *   serverFin          the target's FIN arrived; targetClosedFirst: before ours
 *   turnInit, waitingResponse   pacing (turns)
 *   inRecovery         fast recovery after three duplicate ACKs
 */
const FLAG_NAMES = ['wscaleOk', 'respPush', 'tsOk', 'finSent', 'resetSent', 'finAcked', 'serverFin', 'targetClosedFirst', 'turnInit', 'waitingResponse', 'inRecovery', 'opening'] as const;
export type SessionFlags = { -readonly [K in (typeof FLAG_NAMES)[number]]: boolean };

export type SessionNumbers = { -readonly [K in keyof typeof F64_FIELDS | keyof typeof U32_FIELDS]: number };
const F64_NAMES = Object.keys(F64_FIELDS) as (keyof typeof F64_FIELDS)[];
const U32_NAMES = Object.keys(U32_FIELDS) as (keyof typeof U32_FIELDS)[];
// Row layout in float64 slots: the float64 fields, then the uint32 fields two to a slot.
const U32_BASE = F64_NAMES.length;
const STRIDE = U32_BASE + Math.ceil(U32_NAMES.length / 2);
const TEMPLATE = new Float64Array(STRIDE);
{
  const u = new Uint32Array(TEMPLATE.buffer);
  F64_NAMES.forEach((k, i) => (TEMPLATE[i] = F64_FIELDS[k]));
  U32_NAMES.forEach((k, j) => (u[U32_BASE * 2 + j] = U32_FIELDS[k]));
}

/**
 * Numeric session state for all sessions of an engine in pages, a row per session, seen as
 * float64 (times) and as uint32 (sequence numbers) over the same bytes. Sequence numbers (up to
 * 2^32) and µs times are not small integers, so as ordinary object fields each would be a
 * separate heap box; here they cost 8 or 4 bytes each and no GC work. Pages of a fixed row count,
 * not one array that doubles: at 150,000 sessions (load mode) a doubled array left up to half of
 * its rows unused and a copy behind at every growth.
 */
export class NumSlab {
  private readonly pages: Float64Array[] = [];
  private readonly pages32: Uint32Array[] = [];
  private readonly freeRows: number[] = [];
  private rows = 0;
  private readonly pageRows: number;

  constructor(pageRows = 1024) {
    this.pageRows = Math.max(1, pageRows);
  }

  /** A row initialised to the defaults; returns its number (see page(), page32() and offset()). */
  alloc(): number {
    let row = this.freeRows.pop();
    if (row === undefined) {
      row = this.rows++;
      if (row >= this.pages.length * this.pageRows) {
        const page = new Float64Array(this.pageRows * STRIDE);
        this.pages.push(page);
        this.pages32.push(new Uint32Array(page.buffer));
      }
    }
    this.page(row).set(TEMPLATE, this.offset(row));
    return row;
  }

  /** The page holding a row (as float64 and as uint32), and the row's float64 offset in it. */
  page(row: number): Float64Array {
    return this.pages[Math.floor(row / this.pageRows)] as Float64Array;
  }

  page32(row: number): Uint32Array {
    return this.pages32[Math.floor(row / this.pageRows)] as Uint32Array;
  }

  offset(row: number): number {
    return (row % this.pageRows) * STRIDE;
  }

  release(row: number): void {
    if (row >= 0) this.freeRows.push(row);
  }
}

/** One simulated client session against the target (one replica of an OnlineConn). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- its numeric fields are the generated accessors below
export class Session implements Timed, SessionInfo {
  phase: Phase = 'synSent';
  heapIndex = -1;

  /** The SessionFlags booleans (generated accessors). */
  bits = 0;

  sndWnd = 0;
  sndWscale = 0;
  serverMss = 536;
  ourMss = 1460;

  respBytes = 0;
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

  // Retransmission.
  backoff = 0;
  retries = 0;
  dupAcks = 0;
  staleResets = 0;

  /** How many reconnects led to this session (0 = the original). */
  reconnects = 0;

  // Report.
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
    startUs: number,
    /** Where this session's numeric state lives (see NumSlab; read by the generated accessors). */
    readonly slab: NumSlab = new NumSlab(1),
  ) {
    this.row = slab.alloc();
    this.f = slab.page(this.row);
    this.u = slab.page32(this.row);
    this.o = slab.offset(this.row);
    this.startUs = startUs;
  }

  /** This session's slab row, its page (as float64 and uint32) and its float64 offset there; row −1 once released. */
  row: number;
  f: Float64Array;
  u: Uint32Array;
  o: number;

  /** Give the slab row back (the session must not be used afterwards). */
  release(): void {
    this.slab.release(this.row);
    this.row = -1;
    this.o = -1;
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

// The slab fields as accessors on Session, generated from the field tables (one getter/setter
// pair per field, each reading its fixed slot of the session's row).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed by the tables
export interface Session extends SessionNumbers, SessionFlags {}
F64_NAMES.forEach((name, i) => {
  Object.defineProperty(Session.prototype, name, {
    get(this: Session): number {
      return this.f[this.o + i] as number;
    },
    set(this: Session, v: number) {
      this.f[this.o + i] = v;
    },
    enumerable: false,
    configurable: false,
  });
});
U32_NAMES.forEach((name, j) => {
  const slot = U32_BASE * 2 + j;
  Object.defineProperty(Session.prototype, name, {
    get(this: Session): number {
      return this.u[this.o * 2 + slot] as number;
    },
    set(this: Session, v: number) {
      this.u[this.o * 2 + slot] = v;
    },
    enumerable: false,
    configurable: false,
  });
});
defineBitFlags(Session.prototype, FLAG_NAMES);
