import { EventEmitter } from 'node:events';
import { Buffer } from 'node:buffer';
import { loadAddon } from './native.js';
import { ipToString } from '../core/packet/ipv4.js';
import {
  countRefusal,
  emptyStats,
  rawSocketHint,
  RawSinkError,
  type PacketSink,
  type PacketSinkEvents,
  type PacketSinkOptions,
  type PacketSinkStats,
  type SendResult,
} from './packet-sink.js';

/**
 * The 'raw-socket' backend of the copier's packet sink (see packet-sink.ts; the fallback when the
 * project's sendmmsg addon is not built): a raw IPv4 socket (IPPROTO_RAW, IP_HDRINCL) through the
 * `raw-socket` addon. The caller's packet carries its own IP header; the kernel fills in the IP checksum (and
 * the ID when it is 0) and routes by the destination address.
 *
 * Send path and buffer ownership. raw-socket's JS `Socket.send()` queues the caller's buffer *by
 * reference* and sends one packet per writable event, i.e. one per event-loop turn, and a caller
 * that reuses its buffer would see later bytes go out. This sink does not use that queue: it
 * calls the addon's synchronous sendto (`socket.wrap.send`) directly, so in the normal case the
 * packet is on its way when send() returns and the caller may reuse its buffer at once — no copy.
 * Only when the kernel pushes back (EAGAIN: send buffer full; ENOBUFS: device/queue full) is the
 * packet copied into the sink's own queue; later packets are queued behind it to keep order.
 * The queue drains when the socket becomes writable again (EAGAIN, via the addon's poll watcher)
 * or after a short retry delay (ENOBUFS, which writability does not signal).
 *
 * Back-pressure: `writable` turns false once `highWater` packets are queued; wait for 'drain'.
 * A caller that ignores it still loses nothing until `maxQueued`; beyond that send() refuses
 * with reason 'queue-full'. Every refusal (kernel errno such as EPERM from a firewall, EMSGSIZE,
 * ENETUNREACH, or 'queue-full') is counted by reason in stats.refusedBy — never silent.
 *
 * The addon keeps a poll handle open: call close() when done or the process will not exit.
 */
export type { SendResult } from './packet-sink.js';
export { RawSinkError };
/** Kept names: the raw-socket sink's options, stats and events are the common ones. */
export type RawSinkOptions = PacketSinkOptions;
export type RawSinkStats = PacketSinkStats;
export type RawSinkEvents = PacketSinkEvents;

// --- the parts of raw-socket we use ---------------------------------------------------------
interface RawSocketWrap {
  send(buf: Buffer, off: number, len: number, address: string, cb: (bytes: number) => void): void;
  on(event: 'sendReady', fn: () => void): void;
  removeAllListeners(event: string): void;
}
interface RawSocket {
  wrap: RawSocketWrap;
  setOption(level: number, option: number, value: number): void;
  resumeSend(): RawSocket;
  pauseSend(): RawSocket;
  close(): RawSocket;
  on(event: 'error', fn: (err?: Error) => void): void;
  on(event: 'close', fn: () => void): void;
}
interface RawSocketModule {
  createSocket(opts: { protocol: number; addressFamily?: number }): RawSocket;
  SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number };
  SocketOption: { SO_SNDBUF: number; IP_HDRINCL: number };
}

const IPPROTO_RAW = 255;
/** Linux <netinet/in.h>; raw-socket does not export it. */
const IP_RECVERR = 11;

// The addon throws strerror() text without the number; map glibc's texts back to errno names.
const ERRNO_BY_TEXT: Record<string, string> = {
  'Resource temporarily unavailable': 'EAGAIN',
  'No buffer space available': 'ENOBUFS',
  'Operation not permitted': 'EPERM',
  'Permission denied': 'EACCES',
  'Message too long': 'EMSGSIZE',
  'Network is unreachable': 'ENETUNREACH',
  'No route to host': 'EHOSTUNREACH',
  'Network is down': 'ENETDOWN',
  'Invalid argument': 'EINVAL',
  'Cannot allocate memory': 'ENOMEM',
  'Interrupted system call': 'EINTR',
  'Bad file descriptor': 'EBADF',
  'Bad address': 'EFAULT',
  'Destination address required': 'EDESTADDRREQ',
  'Address family not supported by protocol': 'EAFNOSUPPORT',
};

/** errno name for an error thrown by the addon (its message is strerror text). */
export function errnoOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return ERRNO_BY_TEXT[msg] ?? msg;
}

export class RawSink extends EventEmitter<RawSinkEvents> implements PacketSink {
  readonly backend = 'raw-socket';
  readonly stats: RawSinkStats = emptyStats();
  readonly highWater: number;
  readonly maxQueued: number;
  private readonly retryMs: number;
  private socket: RawSocket | null;
  private wrap: RawSocketWrap;
  // FIFO of copied packets: parallel arrays with a moving head (no shift()).
  private qBuf: Buffer[] = [];
  private qDst: string[] = [];
  private qHead = 0;
  private waitingWritable = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private needDrain = false;
  private flushWaiters: (() => void)[] = [];
  // Destination strings for the addon, cached: a replay has one or a few targets.
  private readonly dstCache = new Map<number, string>();
  private lastBytes = 0;
  private readonly onSent = (bytes: number): void => {
    this.lastBytes = bytes;
  };

  private constructor(
    private readonly raw: RawSocketModule,
    private readonly opts: RawSinkOptions,
  ) {
    super();
    this.highWater = opts.highWater ?? 1024;
    this.maxQueued = Math.max(this.highWater, opts.maxQueued ?? 65536);
    this.retryMs = opts.retryMs ?? 1;
    const socket = this.createSocket();
    this.socket = socket;
    this.wrap = socket.wrap;
  }

  /** Opens the raw socket. Throws RawSinkError with the fix when that is not possible. */
  static open(opts: RawSinkOptions = {}): RawSink {
    return new RawSink(loadAddon<RawSocketModule>('raw-socket'), opts);
  }

  private createSocket(): RawSocket {
    const raw = this.raw;
    let socket: RawSocket;
    try {
      socket = raw.createSocket({ protocol: IPPROTO_RAW });
    } catch (err) {
      const code = errnoOf(err);
      throw new RawSinkError(`cannot open a raw IPv4 socket (${code})${rawSocketHint(code)}`, { cause: err });
    }
    try {
      // IPPROTO_RAW implies IP_HDRINCL on Linux; set it anyway so the header is always ours.
      socket.setOption(raw.SocketLevel.IPPROTO_IP, raw.SocketOption.IP_HDRINCL, 1);
      socket.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_SNDBUF, this.opts.sendBufferBytes ?? 4 * 1024 * 1024);
      // Without IP_RECVERR, Linux turns a raw send's ENOBUFS (device queue full, packet dropped)
      // into success: the packet would be lost silently. With it, sendto reports ENOBUFS and the
      // sink retries. The price: an oversize packet (EMSGSIZE) also leaves an entry on the
      // socket's error queue, which the addon's poll watcher reports as a socket error — see
      // onSocketError, which replaces the socket.
      if (process.platform === 'linux') socket.setOption(raw.SocketLevel.IPPROTO_IP, IP_RECVERR, 1);
    } catch (err) {
      socket.close();
      throw new RawSinkError(`cannot configure the raw socket (${errnoOf(err)})`, { cause: err });
    }
    // Take writability events away from raw-socket's own queue (unused here).
    socket.wrap.removeAllListeners('sendReady');
    socket.wrap.on('sendReady', () => {
      if (socket === this.socket) this.onWritable();
    });
    // raw-socket emits 'error' with no argument for a poll error, then closes the socket itself.
    socket.on('error', (err?: Error) => {
      if (socket === this.socket) this.onSocketError(err);
    });
    return socket;
  }

  /**
   * The poll watcher reported an error (in practice: the error-queue entry an EMSGSIZE leaves
   * behind with IP_RECVERR). raw-socket has already closed that socket; open a fresh one and
   * carry on with the queue intact. Only if that fails is the sink dead.
   */
  private onSocketError(err: Error | undefined): void {
    this.stats.reopens++;
    const wasWaiting = this.waitingWritable;
    this.waitingWritable = false;
    try {
      const s = this.createSocket();
      this.socket = s;
      this.wrap = s.wrap;
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(err ?? e)));
      return;
    }
    if (wasWaiting || this.queueLength > 0) this.waitWritable();
  }

  /** Packets waiting in the sink's queue. */
  get queueLength(): number {
    return this.qBuf.length - this.qHead;
  }

  /** False while `highWater` or more packets wait: stop sending until 'drain'. */
  get writable(): boolean {
    return this.socket !== null && this.queueLength < this.highWater;
  }

  get isClosed(): boolean {
    return this.socket === null;
  }

  /**
   * Sends the IPv4 packet buf[off, off+len) (IP header first) to dstIp (u32). 'sent': the kernel
   * took it; 'queued': copied and waiting (the caller may reuse buf either way); 'refused':
   * dropped for good and counted in stats.refusedBy.
   */
  send(buf: Buffer, off: number, len: number, dstIp: number): SendResult {
    if (this.socket === null) return this.refuse('closed');
    const dst = this.dstString(dstIp);
    if (this.queueLength === 0) {
      const r = this.trySend(buf, off, len, dst);
      if (r === 'sent') return 'sent';
      if (r !== 'retry') return this.refuse(r);
    }
    return this.enqueue(buf, off, len, dst);
  }

  /** Resolves once the queue is empty (immediately when it is). */
  flush(): Promise<void> {
    if (this.queueLength === 0 || this.socket === null) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** Closes the socket; packets still queued are refused ('closed'). Idempotent. */
  close(): void {
    const s = this.socket;
    if (s === null) return;
    this.socket = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const left = this.queueLength;
    this.clearQueue();
    for (let k = 0; k < left; k++) this.refuse('closed');
    s.close();
    this.resolveFlush();
  }

  /** One sendto. 'retry' on kernel push-back; an errno name when refused. */
  private trySend(buf: Buffer, off: number, len: number, dst: string): 'sent' | 'retry' | string {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.stats.crossings++;
        this.wrap.send(buf, off, len, dst, this.onSent);
        this.stats.sent++;
        this.stats.batches++;
        this.stats.sentBytes += this.lastBytes;
        return 'sent';
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'EINTR') continue;
        if (code === 'EAGAIN') {
          this.stats.eagain++;
          this.waitWritable();
          return 'retry';
        }
        if (code === 'ENOBUFS') {
          this.stats.enobufs++;
          this.waitRetry();
          return 'retry';
        }
        return code;
      }
    }
    return 'EINTR';
  }

  private enqueue(buf: Buffer, off: number, len: number, dst: string): SendResult {
    if (this.queueLength >= this.maxQueued) return this.refuse('queue-full');
    // The copy is what lets the caller reuse its buffer while we wait.
    const copy = Buffer.allocUnsafe(len);
    buf.copy(copy, 0, off, off + len);
    this.qBuf.push(copy);
    this.qDst.push(dst);
    this.stats.queued++;
    const depth = this.queueLength;
    if (depth > this.stats.maxQueueDepth) this.stats.maxQueueDepth = depth;
    if (depth >= this.highWater) this.needDrain = true;
    if (!this.waitingWritable && this.retryTimer === null) this.waitWritable();
    return 'queued';
  }

  private drainQueue(): void {
    while (this.socket !== null && this.qHead < this.qBuf.length) {
      const b = this.qBuf[this.qHead] as Buffer;
      const r = this.trySend(b, 0, b.length, this.qDst[this.qHead] as string);
      if (r === 'retry') return;
      if (r !== 'sent') this.refuse(r);
      this.qHead++;
      // Compact now and then so the arrays do not grow without bound.
      if (this.qHead > 4096 && this.qHead * 2 > this.qBuf.length) {
        this.qBuf = this.qBuf.slice(this.qHead);
        this.qDst = this.qDst.slice(this.qHead);
        this.qHead = 0;
      }
    }
    if (this.queueLength === 0) {
      this.clearQueue();
      this.stopWaiting();
      this.resolveFlush();
    }
    if (this.needDrain && this.queueLength < this.highWater) {
      this.needDrain = false;
      this.stats.drains++;
      this.emit('drain');
    }
  }

  private onWritable(): void {
    if (!this.waitingWritable) return;
    this.drainQueue();
  }

  private waitWritable(): void {
    if (this.waitingWritable || this.socket === null) return;
    this.waitingWritable = true;
    this.stats.crossings++;
    this.socket.resumeSend();
  }

  private waitRetry(): void {
    if (this.retryTimer !== null || this.socket === null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.drainQueue();
    }, this.retryMs);
  }

  /** Stop polling for writability: a level-triggered watcher would otherwise spin. */
  private stopWaiting(): void {
    if (this.waitingWritable && this.socket !== null) {
      this.stats.crossings++;
      this.socket.pauseSend();
    }
    this.waitingWritable = false;
  }

  private clearQueue(): void {
    this.qBuf = [];
    this.qDst = [];
    this.qHead = 0;
  }

  private refuse(reason: string): 'refused' {
    countRefusal(this.stats, reason);
    if (this.listenerCount('refused') > 0) this.emit('refused', reason);
    return 'refused';
  }

  private resolveFlush(): void {
    const w = this.flushWaiters;
    this.flushWaiters = [];
    for (const f of w) f();
  }

  private fail(err: Error): void {
    const s = this.socket;
    this.socket = null;
    s?.close();
    const left = this.queueLength;
    this.clearQueue();
    for (let k = 0; k < left; k++) this.refuse('socket-error');
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.resolveFlush();
    if (this.listenerCount('failed') > 0) this.emit('failed', err);
  }

  private dstString(ip: number): string {
    let s = this.dstCache.get(ip);
    if (s === undefined) {
      if (this.dstCache.size > 1024) this.dstCache.clear();
      s = ipToString(ip >>> 0);
      this.dstCache.set(ip, s);
    }
    return s;
  }
}
