import type { Buffer } from 'node:buffer';
import { seqGt } from '../packet/seq.js';
import type { Answer, AnswerEnd } from '../report/exchange.js';
import { ByteAcc } from './byte-acc.js';
import type { BytePool } from './byte-pool.js';
import { HttpFraming } from './http-framing.js';

/** One request (a client data burst) and the answer to it, as one side saw them. */
export interface Turn {
  req: ByteAcc | null;
  reqSize: number;
  /** When the request's last byte was sent (test) or captured (reference), µs. */
  reqLastUs: number;
  ans: ByteAcc;
  size: number;
  firstUs: number;
  lastUs: number;
  end: AnswerEnd | null;
}

/**
 * One side of a captured session — the capture itself (reference) or one test target — cut into
 * requests and answers the way the engine paces them (src/core/session/README.md "Pacing"): a
 * client data packet that follows response data starts a new request; same-turn packets
 * (multi-segment and pipelined requests) join the current one, and so does the rest of an HTTP
 * request the server answered early (before its whole head or Content-Length body was in). Only
 * new bytes count (retransmits are skipped by sequence number). Settled turns are taken out as
 * they are reported, so a long session holds only its unreported turns.
 */
export class Conversation {
  readonly turns: Turn[] = [];
  /** Index (in the session) of turns[0]. */
  base = 0;
  finished = false;
  serverFin = false;
  serverRst = false;
  clientClosed = false;
  /** Any packet from the server side was seen (SYN-ACK, data, FIN). */
  serverSeen = false;
  private cliNext = 0;
  private cliInit = false;
  private srvNext = 0;
  private srvInit = false;
  private readonly http = new HttpFraming();

  constructor(
    /** Keep the request bytes (the reference side; the test side only counts). */
    private readonly keepRequest: boolean,
    private readonly cap: number,
    /** Answer and request buffers come from (and go back to) this pool; null: plain allocations. */
    private readonly pool: BytePool | null = null,
  ) {}

  /** Requests seen so far. */
  get count(): number {
    return this.base + this.turns.length;
  }

  /** Requests whose answer is over: a later request began, or the side finished. */
  get settled(): number {
    return this.finished ? this.count : this.count - (this.turns.length > 0 ? 1 : 0);
  }

  clientSyn(seq: number): void {
    this.cliNext = (seq + 1) >>> 0;
    this.cliInit = true;
  }

  serverSyn(seq: number): void {
    this.serverSeen = true;
    this.srvNext = (seq + 1) >>> 0;
    this.srvInit = true;
  }

  /** Client payload `buf[off, off + len)` with sequence number `seq`, at `t` µs. */
  clientData(seq: number, buf: Buffer, off: number, len: number, t: number): void {
    const end = (seq + len) >>> 0;
    if (!this.cliInit) {
      this.cliNext = seq;
      this.cliInit = true;
    }
    if (!seqGt(end, this.cliNext)) return; // a retransmission
    const skip = seqGt(this.cliNext, seq) ? (this.cliNext - seq) >>> 0 : 0;
    this.cliNext = end;
    let cur = this.turns[this.turns.length - 1];
    if (cur === undefined || cur.end !== null || (cur.size > 0 && !this.http.midRequest)) {
      if (cur !== undefined && cur.end === null) cur.end = 'complete';
      cur = {
        req: this.keepRequest ? new ByteAcc(this.cap, this.pool) : null,
        reqSize: 0,
        reqLastUs: t,
        ans: new ByteAcc(this.cap, this.pool),
        size: 0,
        firstUs: -1,
        lastUs: -1,
        end: null,
      };
      this.turns.push(cur);
    }
    this.http.feed(buf, off + skip, len - skip);
    cur.req?.add(buf, off + skip, len - skip);
    cur.reqSize += len - skip;
    cur.reqLastUs = t;
  }

  /**
   * Server payload of `total` bytes at `seq`, at `t` µs; `carried` of them are at buf[off..]
   * (0 when only the size is known).
   */
  serverData(seq: number, total: number, buf: Buffer | null, off: number, carried: number, t: number): void {
    this.serverSeen = true;
    const end = (seq + total) >>> 0;
    if (!this.srvInit) {
      this.srvNext = seq;
      this.srvInit = true;
    }
    if (!seqGt(end, this.srvNext)) return;
    const skip = seqGt(this.srvNext, seq) ? (this.srvNext - seq) >>> 0 : 0;
    this.srvNext = end;
    const cur = this.turns[this.turns.length - 1];
    if (cur === undefined || cur.end !== null) return; // a greeting before any request, or after the close
    if (cur.firstUs < 0) cur.firstUs = t;
    cur.lastUs = t;
    cur.size += total - skip;
    if (buf !== null && carried > skip) cur.ans.add(buf, off + skip, carried - skip);
  }

  /** The connection ended; a reconnect continues on the same Conversation with new sequence spaces. */
  newConnection(): void {
    const cur = this.turns[this.turns.length - 1];
    if (cur !== undefined && cur.end === null) cur.end = cur.size > 0 ? 'complete' : this.serverRst ? 'reset' : 'closed';
    this.cliInit = this.srvInit = false;
    this.http.reset();
    this.serverFin = this.serverRst = false;
  }

  /** No more packets; `timedOut`: the side ended on a timeout while waiting. */
  finish(timedOut: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const cur = this.turns[this.turns.length - 1];
    if (cur === undefined || cur.end !== null) return;
    cur.end = cur.size > 0 ? 'complete' : this.serverRst ? 'reset' : this.serverFin ? 'closed' : timedOut ? 'timeout' : 'no-response';
  }

  /** Turn `i` (session index), or undefined when this side never got there or it was taken. */
  turn(i: number): Turn | undefined {
    return this.turns[i - this.base];
  }

  /** Drops the turns before session index `i` (reported). */
  dropBefore(i: number): void {
    const n = i - this.base;
    if (n <= 0) return;
    if (this.pool !== null) {
      for (let k = 0; k < n && k < this.turns.length; k++) {
        const t = this.turns[k] as Turn;
        t.req?.release();
        t.ans.release();
      }
    }
    this.turns.splice(0, n);
    this.base = i;
  }
}

/** The report's view of a settled turn. */
export function answerOf(t: Turn): Answer {
  return {
    bytes: t.ans.take(),
    size: t.size,
    firstByteUs: t.firstUs < 0 ? null : Math.max(0, t.firstUs - t.reqLastUs),
    lastByteUs: t.lastUs < 0 ? null : Math.max(0, t.lastUs - t.reqLastUs),
    end: t.end ?? 'no-response',
  };
}
