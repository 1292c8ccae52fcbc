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

/**
 * One captured client connection (by its online 4-tuple): capture ordering, the online
 * response base, and its replicas (sessions). Capture-side state lives here once, not per copy.
 */
export class OnlineConn {
  readonly sessions: Session[] = [];
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
  deadline = Infinity;
  heapIndex = -1;

  // Timers (µs, Infinity = off); the heap deadline is their minimum.
  rtoAt = Infinity;
  delAckAt = Infinity;
  holdAt = Infinity;
  gapAt = Infinity;
  idleAt = Infinity;
  lingerUntil = Infinity;

  // Sequence translation: our seq = captured seq + seqOffset (mod 2^32).
  iss = 0;
  seqOffset = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWscale = 0;
  serverMss = 536;
  ourMss = 1460;
  wscaleOk = false;

  irs = 0;
  rcvNxt = 0;
  rcvAcked = 0;
  respBytes = 0;
  lastRespAt = 0;
  /** The last response data ended a write (PSH) or was the FIN. */
  respPush = false;
  lastServerAt = 0;

  tsOk = false;
  tsBase = 0;
  tsLast = 0;
  tsRecent = 0;
  ipId = 0;

  // Captured data still needed: items[head..] (acked ones are released).
  items: Seg[] = NO_SEGS;
  head = 0;
  sendIdx = 0;
  /** Captured seq just past the last delivered byte. */
  capEnd = 0;
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
  turnAck = 0;
  turnResp = 0;
  turnReadyAt = -1;
  waitingResponse = false;
  lastDataSentAt = -1;
  establishedAt = -1;

  // Retransmission.
  rto = 0;
  backoff = 0;
  retries = 0;
  srtt = 0;
  rttvar = 0;
  rttSeq = 0;
  rttSentAt = -1;
  synSentAt = 0;
  dupAcks = 0;
  inRecovery = false;
  recover = 0;
  staleResets = 0;

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
  ) {}

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
    return this.conn.fromSyn;
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
