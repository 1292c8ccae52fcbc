import { seqGt, seqLeq } from '../packet/seq.js';
import type { EngineContext } from './context.js';
import { hash4 } from './prng.js';
import { baseRto } from './rtt.js';
import type { Seg } from './segment.js';
import { NO_SESSIONS, type OnlineConn } from './online-conn.js';
import { Session } from './session.js';
import type { Outcome, SessionInfo } from './types.js';
import type { Transfer } from '../transfer.js';

/** Fixed hash keys: ISNs and TS values must keep rising across runs for the same tuple. */
const ISN_KEY = 0x1f2e3d4c;
const TS_KEY = 0x5a6b7c8d;
/** Reconnects per captured connection before a target that keeps closing wins. */
const MAX_RECONNECTS = 8;

/**
 * Session lifecycle: create the replicas of a captured connection, reconnect when the target
 * closes early, report outcomes, linger, and free tuples.
 */

/** Report a captured connection that never got a session (sampled out, no port, no interceptor). */
export function neverStarted(
  e: EngineContext,
  conn: OnlineConn,
  tip: number,
  tport: number,
  nowUs: number,
  outcome: Outcome,
): void {
  const info: SessionInfo = {
    id: e.nextId++,
    onlineClientIp: conn.clientIp,
    onlineClientPort: conn.clientPort,
    onlineServerIp: conn.serverIp,
    onlineServerPort: conn.serverPort,
    clientIp: 0,
    clientPort: 0,
    targetIp: tip,
    targetPort: tport,
    replica: 0,
    fromSyn: false,
    startUs: nowUs,
    endUs: nowUs,
    bytesDelivered: 0,
    responseBytes: 0,
    turns: 0,
    responseWaitsExpired: 0,
    retransmits: 0,
    iss: 0,
  };
  e.stats.countOutcome(outcome);
  e.sink.sessionClosed(info, outcome);
}

/** Create the replicas of a new captured connection and send their SYNs. */
export function startConn(e: EngineContext, conn: OnlineConn, nowUs: number): boolean {
  const cfg = e.cfg;
  const tr = cfg.transfers[conn.transferIdx];
  if (tr === undefined) return false;
  e.byOnline.set(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort, conn);
  const targets = cfg.mirror ? mirrorGroup(cfg.transfers, conn.transferIdx) : [conn.transferIdx];
  if (!e.interceptorUp && !cfg.lonely) {
    for (const ti of targets) {
      const t = cfg.transfers[ti] as Transfer;
      neverStarted(e, conn, t.targetIp, t.targetPort, nowUs, 'no-interceptor');
    }
    markIgnored(e, conn, nowUs);
    return false;
  }
  const basePort = shiftPort(e, conn.clientPort);
  for (const ti of targets) {
    for (let r = 0; r < cfg.replicas; r++) {
      const pool = cfg.clientPool;
      const cip = pool.length === 0 ? conn.localClientIp : (pool[hash4(conn.localClientIp, r, 0, 0, cfg.seed) % pool.length] as number);
      const preferred = r === 0 ? basePort : wrapPort(basePort + (2 * r - 1) * 32 + e.shiftR);
      const s = openSession(e, conn, ti, r, cip, preferred, conn.capIsn, conn.capNxt, nowUs);
      if (s !== null) {
        if (conn.fromSyn) e.stats.sessionsFromSyn++;
        else e.stats.sessionsWithoutSyn++;
      }
    }
  }
  if (conn.live === 0) {
    markIgnored(e, conn, nowUs);
    return false;
  }
  return true;
}

/** --mirror: the -x entries sharing the matched entry's online address and port, in -x order. */
export function mirrorGroup(transfers: readonly Transfer[], idx: number): number[] {
  const m = transfers[idx] as Transfer;
  const out: number[] = [];
  transfers.forEach((t, i) => {
    if (t.onlinePort === m.onlinePort && t.onlineIp === m.onlineIp) out.push(i);
  });
  return out;
}

/**
 * Allocate a port, announce the route and send the SYN of one session whose captured stream
 * continues after capIsn. null (with the outcome reported) when it cannot start.
 */
function openSession(
  e: EngineContext,
  conn: OnlineConn,
  ti: number,
  r: number,
  cip: number,
  preferred: number,
  capIsn: number,
  capEnd: number,
  nowUs: number,
): Session | null {
  const cfg = e.cfg;
  const tr = cfg.transfers[ti];
  if (tr === undefined) return null;
  const port = e.ports.allocate(cip, preferred, tr.targetIp, tr.targetPort, nowUs);
  if (port < 0) {
    e.sink.log?.(`no free port for client ${cip >>> 0} towards target ${tr.targetIp}:${tr.targetPort}`);
    neverStarted(e, conn, tr.targetIp, tr.targetPort, nowUs, 'port-exhausted');
    return null;
  }
  if (port !== preferred) e.stats.portReassigned++;
  if (!e.sink.routeAdd(cip, port, tr.targetIp, tr.targetPort) && !cfg.lonely) {
    neverStarted(e, conn, tr.targetIp, tr.targetPort, nowUs, 'no-interceptor');
    return null;
  }
  const s = new Session(e.nextId++, conn, r, cip, port, tr.targetIp, tr.targetPort, nowUs, e.slab);
  if (conn.sessions.length === 0) conn.sessions = [s];
  else conn.sessions.push(s);
  conn.started = true;
  conn.live++;
  e.byTarget.set(cip, port, tr.targetIp, tr.targetPort, s);
  e.stats.sessionsStarted++;
  e.stats.activeSessions++;
  // Opening until the target answers the handshake and the first request (or the session ends):
  // what a file replay may bound (--max-opening), since a target that falls behind holds exactly
  // these, in its SYN and accept queues.
  s.opening = true;
  e.stats.openingSessions++;
  s.iss = clockIsn(nowUs, cip, port, tr.targetIp, tr.targetPort);
  s.seqOffset = (s.iss - capIsn) >>> 0;
  s.sndUna = s.iss;
  s.sndNxt = s.iss;
  s.sndMax = s.iss;
  s.capEnd = capEnd;
  s.tsBase = hash4(cip, port, tr.targetIp, tr.targetPort, TS_KEY);
  s.ipId = hash4(cip, port, s.iss, 0, e.ipIdKey) & 0xffff;
  s.ourMss = Math.min(conn.synMss > 0 ? conn.synMss : cfg.mss, cfg.mss);
  s.lastServerAt = nowUs;
  s.rto = cfg.fixedRttUs > 0 ? baseRto(s, cfg) : e.targetRtt.synRto(tr.targetIp, tr.targetPort, cfg);
  e.sink.sessionStarted?.(s);
  e.tx.sendSyn(s, nowUs);
  e.reschedule(s, nowUs);
  return s;
}

/**
 * The target closed (FIN or RST) while captured requests remain: carry them on in a new
 * session (new port, fake handshake) from the first byte the target did not acknowledge —
 * only at a request boundary, so the target never sees a request cut in half. The stock
 * copier reconnects the same way. Returns false when that is not possible.
 */
export function tryReconnect(e: EngineContext, s: Session, nowUs: number): boolean {
  if (s.reconnects >= MAX_RECONNECTS || s.finSent || s.rst !== null || s.phase !== 'established') return false;
  const resume = (s.sndUna - s.seqOffset) >>> 0;
  if (resume === s.capEnd) return false;
  const items = s.items;
  let i = s.head;
  while (i < items.length && seqLeq((items[i] as Seg).end, resume)) i++;
  const it = items[i];
  if (it === undefined || it.seq !== resume) return false;
  if (!(seqGt(it.origAck, s.turnAck) || (s.turnInit && resume === s.turnStartCap))) return false;
  // The same target as the closed session (with --mirror, not necessarily the matched -x entry).
  const ti = e.cfg.transfers.findIndex((t) => t.targetIp === s.targetIp && t.targetPort === s.targetPort);
  const n = openSession(e, s.conn, ti, s.replica, s.clientIp, s.clientPort, (resume - 1) >>> 0, s.capEnd, nowUs);
  if (n === null) return false;
  n.items = items.slice(i);
  for (const x of n.items) n.buffered += x.len;
  e.bufferedTotal += n.buffered;
  n.fin = s.fin;
  n.rst = s.rst;
  // The response this request waited for came on the old connection: it may go at once.
  n.turnInit = true;
  n.turnAck = it.origAck;
  n.reconnects = s.reconnects + 1;
  e.stats.reconnects++;
  return true;
}

/** A connection that could not start: its later packets are ignored while it keeps talking. */
export function markIgnored(e: EngineContext, conn: OnlineConn, nowUs: number): void {
  conn.lingerUntil = nowUs + e.cfg.lingerUs;
  e.lingerFifo.push(conn);
}

function shiftPort(e: EngineContext, port: number): number {
  if (e.cfg.portShift === 0) return port;
  return wrapPort(port + e.cfg.portShift * 2048 + e.shiftR);
}

/** Take a connection out of the online table (a new incarnation, or its linger ended). */
export function detach(e: EngineContext, conn: OnlineConn): void {
  if (!conn.detached) {
    conn.detached = true;
    if (e.byOnline.get(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort) === conn) {
      e.byOnline.delete(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort);
    }
  }
}

export function expireLingering(e: EngineContext, nowUs: number): void {
  const q = e.lingerFifo;
  while (e.lingerHead < q.length) {
    const c = q[e.lingerHead] as OnlineConn;
    if (c.lingerUntil > nowUs && !c.detached) break;
    e.lingerHead++;
    if (c.lingerUntil >= 0 && c.lingerUntil <= nowUs) detach(e, c);
  }
  if (e.lingerHead > 1024 && e.lingerHead * 2 > q.length) {
    e.lingerFifo = q.slice(e.lingerHead);
    e.lingerHead = 0;
  }
}

/** Report the outcome, release buffers, and linger (tuple kept, stray packets ACKed). */
export function finish(e: EngineContext, s: Session, outcome: Outcome, nowUs: number, sendRst: boolean): void {
  if (s.phase === 'closed') return;
  if (sendRst) {
    e.tx.sendRst(s, s.sndMax, s.phase === 'established', nowUs);
    s.resetSent = true;
  }
  if (s.phase === 'established') e.stats.establishedSessions--;
  if (s.opening) {
    s.opening = false;
    e.stats.openingSessions--;
  }
  s.phase = 'closed';
  s.endUs = nowUs;
  e.bufferedTotal -= s.buffered;
  e.stats.bufferedBytes = e.bufferedTotal;
  s.dropItems();
  s.rtoAt = s.delAckAt = s.holdAt = s.gapAt = s.idleAt = Infinity;
  // Only a target that closed first (and got our FIN) holds the tuple in TIME_WAIT.
  if (!(outcome === 'completed' && s.targetClosedFirst)) s.targetClosedFirst = false;
  // A target in TIME_WAIT that acknowledged our FIN sends nothing more on the tuple: nothing to
  // linger for, and retiring at once frees the session (at 5x, 30,000 lingering ones held ~25 MB).
  // The tuple still stays out of the port allocator for timeWaitUs.
  s.lingerUntil = s.targetClosedFirst && s.finAcked && !s.resetSent ? nowUs : nowUs + e.cfg.lingerUs;
  s.fin = null;
  s.rst = null;
  e.heap.update(s, s.lingerUntil);
  e.stats.activeSessions--;
  e.stats.lingeringSessions++;
  e.stats.countOutcome(outcome);
  const conn = s.conn;
  if (--conn.live === 0) {
    conn.lingerUntil = nowUs + e.cfg.lingerUs;
    e.lingerFifo.push(conn);
    // Late captured packets of a lingering connection are ignored: its FIN is not needed.
    conn.fin = null;
  }
  e.sink.sessionClosed(s, outcome);
}

/** The target answered the session's opening: no longer counted as opening. */
export function answered(e: EngineContext, s: Session): void {
  if (!s.opening) return;
  s.opening = false;
  e.stats.openingSessions--;
  e.stats.openingAnswered++;
}

/** End of linger: free the tuple (into TIME_WAIT if the target holds it). */
export function retire(e: EngineContext, s: Session): void {
  e.stats.lingeringSessions--;
  if (e.byTarget.get(s.clientIp, s.clientPort, s.targetIp, s.targetPort) === s) {
    e.byTarget.delete(s.clientIp, s.clientPort, s.targetIp, s.targetPort);
  }
  if (s.targetClosedFirst) {
    e.ports.addTimeWait(s.clientIp, s.clientPort, s.targetIp, s.targetPort, s.endUs + e.cfg.timeWaitUs);
  }
  e.stats.timeWaitTuples = e.ports.timeWaitCount;
  e.sink.routeDel(s.clientIp, s.clientPort, s.targetIp, s.targetPort);
  s.release();
  // Let the session go while its connection lingers on (capture leftovers).
  const list = s.conn.sessions;
  const i = list.indexOf(s);
  if (i >= 0) {
    if (list.length === 1) s.conn.sessions = NO_SESSIONS;
    else list.splice(i, 1);
  }
}

/** End every live session now, with `outcome`. */
export function closeAll(e: EngineContext, nowUs: number, outcome: Outcome): void {
  const live: Session[] = [];
  e.byTarget.forEach((s) => {
    if (s.phase !== 'closed') live.push(s);
  });
  for (const s of live) finish(e, s, outcome, nowUs, true);
}

/**
 * Clock-driven ISN (RFC 6528 shape: 4 µs ticks plus a per-tuple hash with a fixed key), so the
 * ISN of a tuple keeps rising across sessions and runs and a new incarnation is accepted by a
 * target still holding the old one in TIME_WAIT.
 */
export function clockIsn(nowUs: number, cip: number, cport: number, tip: number, tport: number): number {
  return (Math.floor(nowUs / 4) + hash4(cip, cport, tip, tport, ISN_KEY)) >>> 0;
}

function wrapPort(p: number): number {
  return p >= 65536 ? 1024 + ((p - 65536) % 64512) : p;
}
