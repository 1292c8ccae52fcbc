import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import {
  FrameDecoder,
  MAX_FRAME_RECORDS,
  MESSAGE_SIZE,
  MSG_CLIENT_ADD,
  MSG_CLIENT_DEL,
  RECORD_SIZE,
  EXT_KIND_ACK,
  EXT_KIND_RECORD_PAYLOAD,
  encodeExtRequest,
  encodeHello,
  readExtAck,
  writeMessage,
  type ChannelMessage,
} from '../core/wire/index.js';
import { ipToString } from '../core/packet/ipv4.js';
import { ChannelConnectError, type ChannelClientEvents, type ChannelClientOptions, type ChannelClientStats, type ConnectionInfo } from './channel-client-types.js';

export * from './channel-client-types.js';

/**
 * The copier's side of the interceptor channel (docs/wire-protocol.md §1, §2, §4, §6).
 *
 * - Opens `connections` (-C, 1..11) TCP connections to every interceptor in `interceptors` (-s) at
 *   once and writes the 14-byte hello first on each.
 * - sendClientAdd() tells every active interceptor (one connection each, round robin) that a
 *   client tuple is ours; true when at least one accepted the bytes.
 * - Decodes combined frames split anywhere; each 64-byte record is handed to `onRecord(buf, off)`
 *   as a view into the received chunk when it lies whole inside it (no copy) — valid only during
 *   the call. A frame count above 16 closes that one connection (stock behaviour).
 * - A lost connection is reconnected with exponential backoff (fresh hello). When no interceptor
 *   is left: with `lonely` (-L) it keeps reconnecting; without, it emits 'allDown' and stops, so
 *   the app can end the run as stock does.
 * - start() rejects with ChannelConnectError when no interceptor is reachable (unless lonely),
 *   naming every address and what to check.
 */
/** A connection that stayed up this long resets its reconnect backoff. */
const STABLE_MS = 5000;
const READ_BUFFER_BYTES = 65536; // per connection: Node's own read size

interface Conn {
  info: ConnectionInfo;
  ip: string;
  port: number;
  socket: Socket | null;
  open: boolean;
  decoder: FrameDecoder;
  /** Consecutive failures, for the backoff. */
  failures: number;
  openedAt: number;
  timer: NodeJS.Timeout | null;
  /** Resolves the start() wait for this connection's first attempt. */
  firstAttempt: ((ok: boolean, reason: string) => void) | null;
  /**
   * Messages of the current synchronous run, written as one buffer at its end (nextTick): one
   * write and one allocation per run instead of per 14-byte message.
   */
  out: Buffer;
  /** Reads land here (net `onread`): a new ArrayBuffer per read is external memory to V8 until a full GC. */
  readBuf: Buffer;
  outLen: number;
  flushQueued: boolean;
}

function flushConn(c: Conn): void {
  c.flushQueued = false;
  const n = c.outLen;
  c.outLen = 0;
  // The socket keeps what it is given until it is sent: hand it a copy, keep `out` for reuse.
  if (n > 0 && c.socket !== null && c.socket.writable) c.socket.write(Buffer.from(c.out.subarray(0, n)));
}

interface Peer {
  address: string;
  conns: Conn[];
  openCount: number;
  rr: number;
}

export class ChannelClient extends EventEmitter<ChannelClientEvents> {
  readonly stats: ChannelClientStats = {
    connectsOk: 0, connectsFailed: 0, disconnects: 0, badFrames: 0, frames: 0, records: 0, bytesIn: 0, reads: 0, clientAddSent: 0, clientAddFailed: 0,
  };
  private readonly peers: Peer[];
  private readonly onRecord: ChannelClientOptions['onRecord'];
  private readonly recordSize: number;
  private readonly maxFrameRecords: number;
  private readonly combined: boolean;
  private readonly connectTimeoutMs: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  readonly lonely: boolean;
  private closed = false;
  private readonly ext: ChannelClientOptions['extension'];
  /** Per interceptor: payload bytes granted by the extension's ACK; −1 while unanswered. */
  readonly granted: number[];
  private readonly msg: ChannelMessage = { cltIp: 0, cltPort: 0, type: 0, targetIp: 0, targetPort: 0 };

  constructor(opts: ChannelClientOptions) {
    super();
    const n = opts.connections ?? 2;
    if (!Number.isInteger(n) || n < 1 || n > 11) throw new RangeError(`connections per interceptor must be 1..11, got ${n}`);
    if (opts.interceptors.length === 0) throw new RangeError('at least one interceptor address is required');
    this.onRecord = opts.onRecord;
    this.recordSize = opts.recordSize ?? RECORD_SIZE;
    this.maxFrameRecords = opts.maxFrameRecords ?? MAX_FRAME_RECORDS;
    this.combined = opts.combined ?? true;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.reconnectMinMs = opts.reconnectMinMs ?? 100;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 12_000;
    this.lonely = opts.lonely ?? false;
    this.ext = opts.extension;
    this.granted = opts.interceptors.map(() => -1);
    this.peers = opts.interceptors.map((ep, i) => {
      const ip = ipToString(ep.ip);
      const address = `${ip}:${ep.port}`;
      const conns: Conn[] = [];
      for (let c = 0; c < n; c++) {
        conns.push({
          info: { interceptor: i, conn: c, address },
          ip,
          port: ep.port,
          socket: null,
          open: false,
          decoder: this.newDecoder(),
          failures: 0,
          openedAt: 0,
          timer: null,
          firstAttempt: null,
          out: Buffer.allocUnsafe(64 * MESSAGE_SIZE),
          readBuf: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          outLen: 0,
          flushQueued: false,
        });
      }
      return { address, conns, openCount: 0, rr: 0 };
    });
  }

  /** Interceptors with at least one open connection. */
  get activeInterceptors(): number {
    let k = 0;
    for (const p of this.peers) if (p.openCount > 0) k++;
    return k;
  }

  /** Open connections over all interceptors. */
  get openConnections(): number {
    let k = 0;
    for (const p of this.peers) k += p.openCount;
    return k;
  }

  /**
   * Connects everything at once and waits for every first attempt. Rejects with
   * ChannelConnectError when none succeeded and not lonely (the client is then closed).
   * Failed connections keep retrying in the background otherwise.
   */
  async start(): Promise<void> {
    const attempts: Promise<{ conn: Conn; ok: boolean; reason: string }>[] = [];
    for (const p of this.peers) {
      for (const c of p.conns) {
        attempts.push(new Promise((resolve) => {
          c.firstAttempt = (ok, reason) => resolve({ conn: c, ok, reason });
          this.open(c);
        }));
      }
    }
    const results = await Promise.all(attempts);
    if (this.closed) return;
    if (this.activeInterceptors === 0 && !this.lonely) {
      const failures = new Map<string, string>();
      for (const r of results) if (!r.ok && !failures.has(r.conn.info.address)) failures.set(r.conn.info.address, r.reason);
      this.close();
      throw new ChannelConnectError([...failures].map(([address, reason]) => ({ address, reason })));
    }
  }

  /** CLIENT_ADD to every active interceptor; true when at least one connection took it. */
  sendClientAdd(clientIp: number, clientPort: number, targetIp: number, targetPort: number): boolean {
    const ok = this.broadcast(MSG_CLIENT_ADD, clientIp, clientPort, targetIp, targetPort);
    if (ok) this.stats.clientAddSent++;
    else this.stats.clientAddFailed++;
    return ok;
  }

  /** CLIENT_DEL (never sent by stock copiers; stock interceptors only log it). */
  sendClientDel(clientIp: number, clientPort: number, targetIp: number, targetPort: number): boolean {
    return this.broadcast(MSG_CLIENT_DEL, clientIp, clientPort, targetIp, targetPort);
  }

  /** Stops everything: no more reconnects, all sockets destroyed. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peers) {
      for (const c of p.conns) {
        if (c.timer !== null) clearTimeout(c.timer);
        c.timer = null;
        c.socket?.destroy();
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private broadcast(type: number, cltIp: number, cltPort: number, targetIp: number, targetPort: number): boolean {
    const m = this.msg;
    m.cltIp = cltIp;
    m.cltPort = cltPort;
    m.type = type;
    m.targetIp = targetIp;
    m.targetPort = targetPort;
    let any = false;
    for (const p of this.peers) {
      if (p.openCount === 0) continue;
      const n = p.conns.length;
      for (let k = 0; k < n; k++) {
        const c = p.conns[(p.rr + k) % n] as Conn;
        if (!c.open || c.socket === null || !c.socket.writable) continue;
        p.rr = (p.rr + k + 1) % n;
        // Messages made in one synchronous run (a burst of new sessions) leave in one write at
        // the end of it; a SYN-ACK that overtakes its CLIENT_ADD waits in the interceptor's
        // delay table (wire-protocol §5.2).
        if (c.outLen + MESSAGE_SIZE > c.out.length) {
          const bigger = Buffer.allocUnsafe(c.out.length * 2);
          c.out.copy(bigger, 0, 0, c.outLen);
          c.out = bigger;
        }
        writeMessage(c.out, c.outLen, m);
        c.outLen += MESSAGE_SIZE;
        if (!c.flushQueued) {
          c.flushQueued = true;
          process.nextTick(flushConn, c);
        }
        any = true;
        break;
      }
    }
    return any;
  }

  private newDecoder(): FrameDecoder {
    return new FrameDecoder(this.recordSize, this.maxFrameRecords, this.combined, this.ext !== undefined);
  }

  /**
   * Resolves once every interceptor with an open connection answered the extension request, or
   * after `timeoutMs` (a stock interceptor never answers: its records stay plain). Returns the
   * granted bytes per interceptor (−1: no answer).
   */
  async negotiated(timeoutMs: number): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.closed && this.peers.some((p, i) => p.openCount > 0 && this.granted[i] === -1)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return [...this.granted];
  }

  /** An extension frame: the ACK, or a record with its payload. Unknown kinds are skipped. */
  private onExt(c: Conn, dec: FrameDecoder): void {
    const who = c.info.interceptor;
    if (dec.extKind === EXT_KIND_RECORD_PAYLOAD && dec.extLen >= this.recordSize && this.ext !== undefined) {
      this.stats.records++;
      this.ext.onRecordPayload(dec.record, dec.recordOff, dec.recordOff + this.recordSize, dec.extLen - this.recordSize, who);
    } else if (dec.extKind === EXT_KIND_ACK) {
      const g = readExtAck(dec.record, dec.recordOff, dec.extLen);
      if (g >= 0) {
        this.granted[who] = g;
        this.emit('extension', c.info, g);
      }
    }
  }

  private open(c: Conn): void {
    if (this.closed) return;
    c.timer = null;
    c.decoder = this.newDecoder(); // a new connection starts a new stream
    const s: Socket = connect({ host: c.ip, port: c.port, noDelay: true, onread: { buffer: c.readBuf, callback: (n, buf) => this.onRead(c, s, buf, n) } });
    c.socket = s;
    let settled = false;
    const timeout = setTimeout(() => s.destroy(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    s.once('connect', () => {
      settled = true;
      clearTimeout(timeout);
      c.open = true;
      c.openedAt = Date.now();
      this.stats.connectsOk++;
      // The hello goes first, before anything else can be written on this connection; the
      // extension's request right behind it, in the same write.
      s.write(this.ext === undefined ? encodeHello() : Buffer.concat([encodeHello(), encodeExtRequest(this.ext.payloadBytes)]));
      const p = this.peers[c.info.interceptor] as Peer;
      p.openCount++;
      this.emit('connected', c.info);
      if (p.openCount === 1) this.emit('interceptorUp', c.info.interceptor, p.address);
      this.resolveFirst(c, true, 'connected');
    });
    let reason = 'closed by the interceptor';
    s.on('error', (err: NodeJS.ErrnoException) => {
      reason = err.code ?? err.message;
    });
    s.on('close', () => {
      clearTimeout(timeout);
      if (c.socket === s) c.socket = null;
      if (!settled) {
        this.stats.connectsFailed++;
        c.failures++;
        const retry = this.scheduleRetry(c);
        this.emit('connectFailed', c.info, reason, retry);
        this.resolveFirst(c, false, reason);
        return;
      }
      this.onClosed(c, this.closed ? 'closed' : reason);
    });
    s.once('end', () => {
      reason = 'closed by the interceptor';
    });
  }

  private resolveFirst(c: Conn, ok: boolean, reason: string): void {
    const f = c.firstAttempt;
    c.firstAttempt = null;
    if (f !== null) f(ok, reason);
  }

  /** A read into c.readBuf; a stale socket's must not feed the new connection's decoder. */
  private onRead(c: Conn, s: Socket, buf: Uint8Array, n: number): boolean {
    if (c.socket === s) this.onData(c, buf as Buffer, n);
    return true;
  }

  private onData(c: Conn, chunk: Buffer, n: number): void {
    this.stats.bytesIn += n;
    this.stats.reads++;
    const dec = c.decoder;
    const framesBefore = dec.frames;
    dec.feed(chunk, n);
    const who = c.info.interceptor;
    for (;;) {
      const r = dec.next();
      if (r === 'record') {
        this.stats.records++;
        this.onRecord(dec.record, dec.recordOff, who);
        if (this.closed || c.decoder !== dec) return; // the callback closed the client
        continue;
      }
      if (r === 'ext') {
        this.onExt(c, dec);
        if (this.closed || c.decoder !== dec) return;
        continue;
      }
      if (r === 'bad-count') {
        this.stats.frames += dec.frames - framesBefore;
        this.stats.badFrames++;
        this.emit('badFrame', c.info, dec.badCount);
        c.socket?.destroy();
        return;
      }
      break;
    }
    dec.detach(); // the next read reuses the buffer
    this.stats.frames += dec.frames - framesBefore;
  }

  private onClosed(c: Conn, reason: string): void {
    if (!c.open) return;
    c.open = false;
    c.decoder = this.newDecoder();
    this.stats.disconnects++;
    const p = this.peers[c.info.interceptor] as Peer;
    p.openCount--;
    // The backoff restarts only after a connection that lasted; a peer that accepts and drops at
    // once is retried ever more slowly.
    if (Date.now() - c.openedAt >= STABLE_MS) c.failures = 0;
    c.failures++;
    this.emit('disconnected', c.info, reason);
    if (p.openCount === 0) this.emit('interceptorDown', c.info.interceptor, p.address);
    if (this.closed) return;
    if (this.activeInterceptors === 0 && !this.lonely) {
      // Stock exits here; stop reconnecting and let the app end the run.
      this.close();
      this.emit('allDown');
      return;
    }
    this.scheduleRetry(c);
  }

  /** Arms the reconnect timer; returns its delay, or -1 when none (closed). */
  private scheduleRetry(c: Conn): number {
    if (this.closed || c.timer !== null) return -1;
    const delay = Math.min(this.reconnectMaxMs, this.reconnectMinMs * 2 ** Math.min(c.failures, 20));
    c.timer = setTimeout(() => this.open(c), delay);
    return delay;
  }
}
