import { EventEmitter } from 'node:events';
import { Buffer } from 'node:buffer';
import { loadAddon } from './native.js';
import {
  countRefusal,
  emptyStats,
  rawSocketHint,
  RawSinkError,
  type PacketSink,
  type PacketSinkEvents,
  type SendResult,
} from './packet-sink.js';
import {
  Batch,
  EAGAIN,
  ENOBUFS,
  errnoName,
  MAX_IPV4,
  SLOTS_PER_SLAB,
  SPARE_BATCHES,
  type BatchSinkOptions,
  type BatchSinkStats,
  type RawSendModule,
  type RawSendNative,
} from './raw-batch.js';

export * from './raw-batch.js';

const RESOLVED = Promise.resolve();

/**
 * The 'sendmmsg' backend of the copier's packet sink (see packet-sink.ts), on the project's addon
 * src/native/rawsend (contract in rawsend.c).
 *
 * Batching. send() copies the packet into the current batch's slab (one memcpy through a cached
 * view of the caller's buffer: no allocation per packet) and records its offset, length and
 * destination (a u32) in parallel typed arrays, registered with the addon once per slab. The
 * batch goes to the addon in ONE call (sendBatch(id, start, count): one sendmmsg) when the
 * current turn of JS ends — a microtask, so everything one callback sends (the copier's service
 * run, one channel read) goes together — or at once when it holds `batchSize` packets or its
 * slab is full. Not a setImmediate: that would hold the packets of a check-phase callback (the
 * copier's service run) for one more loop iteration, adding latency to every RTT the engine
 * measures, and cost ~0.1 µs per packet more at 16 packets per turn (scripts/bench/raw-send.ts).
 *
 * Push-back. The addon stops at the first EAGAIN (send buffer full) or ENOBUFS (device queue
 * full; with IP_RECVERR the packet was dropped and is sent again) and says where. The rest stays
 * in the batch; new packets go behind it (more slabs if needed) and count as 'queued'. EAGAIN
 * arms the addon's writability watcher (one-shot, in libuv's poll: no spinning); ENOBUFS, which
 * writability does not signal, retries after `retryMs`. `writable` turns false once `highWater`
 * packets wait; 'drain' follows when they fall below it; beyond `maxQueued` send() refuses with
 * 'queue-full'. Refusals (errno per packet, from the addon) are counted by name in refusedBy.
 *
 * The addon's watcher is referenced only while waiting for writability: an idle sink does not
 * keep the process alive. close() still releases the socket and the watcher.
 */

type Wait = 'none' | 'writable' | 'retry';

export class RawBatchSink extends EventEmitter<PacketSinkEvents> implements PacketSink {
  readonly backend = 'sendmmsg';
  readonly highWater: number;
  readonly maxQueued: number;
  readonly batchSize: number;
  readonly slabBytes: number;
  /** SO_SNDBUF as the kernel set it. */
  readonly sndbuf: number;
  private readonly retryMs: number;
  private readonly s: BatchSinkStats = { ...emptyStats(), sendCalls: 0, errQueue: 0, errQueueBy: {}, pollWakeups: 0, pollErrors: 0 };
  private readonly sender: RawSendNative;
  private closed = false;
  // FIFO of batches: [0] is sent from, the last one is filled.
  private batches: Batch[] = [];
  private spare: Batch[] = [];
  /** Packets accepted and not yet handed to the kernel (or refused). */
  private pending = 0;
  private wait: Wait = 'none';
  /** In a push-back episode: its waiting packets were counted as queued. */
  private episode = false;
  private needDrain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** A turn-end flush is queued (flushNow clears it, which cancels that microtask). */
  private flushQueued = false;
  private flushing = false;
  private flushWaiters: (() => void)[] = [];
  // Views of the caller's buffer by (offset, length): the engine sends from one scratch buffer.
  private viewBuf: Buffer | null = null;
  private readonly views = new Map<number, Uint8Array>();

  private readonly onWritable = (status: number): void => {
    if (this.wait !== 'writable') return;
    if (status < 0) {
      this.fail(new Error(`the raw socket's watcher failed (${errnoName(-status)})`));
      return;
    }
    this.wait = 'none';
    this.flushNow();
  };
  private readonly onRetry = (): void => {
    this.retryTimer = null;
    if (this.wait !== 'retry') return;
    this.wait = 'none';
    this.flushNow();
  };
  private readonly onTurnEnd = (): void => {
    if (this.flushQueued) this.flushNow();
  };

  /** Opens the socket through `mod` (the addon, or a fake in tests). Throws RawSinkError. */
  constructor(mod: RawSendModule, opts: BatchSinkOptions = {}) {
    super();
    this.highWater = Math.max(1, opts.highWater ?? 1024);
    this.maxQueued = Math.max(this.highWater, opts.maxQueued ?? 65536);
    // A batch never outgrows highWater, so push-back never starts above it.
    this.batchSize = Math.max(1, Math.min(opts.batchSize ?? 256, this.highWater, SLOTS_PER_SLAB));
    this.slabBytes = Math.max(MAX_IPV4 + 1, opts.slabBytes ?? 512 * 1024);
    this.retryMs = opts.retryMs ?? 1;
    try {
      this.sender = new mod.RawSender({ sndbuf: opts.sendBufferBytes ?? 4 * 1024 * 1024 }, this.onWritable);
    } catch (err) {
      const n = typeof err === 'object' && err !== null && 'errno' in err ? err.errno : undefined;
      const code = typeof n === 'number' ? errnoName(n) : err instanceof Error ? err.message : String(err);
      throw new RawSinkError(`cannot open a raw IPv4 socket (${code})${rawSocketHint(code)}`, { cause: err });
    }
    this.sndbuf = this.sender.sndbuf;
  }

  /** Opens the socket through the addon. Throws NativeAddonError (not built) or RawSinkError. */
  static open(opts: BatchSinkOptions = {}): RawBatchSink {
    return new RawBatchSink(loadAddon<RawSendModule>('rawsend'), opts);
  }

  /** Counters; the socket-side ones (syscalls, error queue) are read from the addon. */
  get stats(): BatchSinkStats {
    const c = this.sender.stats();
    this.s.sendCalls = c.sendCalls;
    this.s.errQueue = c.errQueue;
    this.s.pollWakeups = c.wakeups;
    this.s.pollErrors = c.pollErrors;
    const by: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.errQueueByErrno)) by[errnoName(Number(k))] = v;
    this.s.errQueueBy = by;
    return this.s;
  }

  get queueLength(): number {
    return this.wait === 'none' ? 0 : this.pending;
  }

  get writable(): boolean {
    return !this.closed && this.queueLength < this.highWater;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Copies the packet into the batch. 'sent': it goes out with this turn's batch; 'queued': it
   * waits behind a push-back; 'refused': dropped for good (counted in stats.refusedBy).
   */
  send(buf: Buffer, off: number, len: number, dstIp: number): SendResult {
    if (this.closed) return this.refuse('closed');
    if (this.wait !== 'none' && this.pending >= this.maxQueued) return this.refuse('queue-full');
    // What the kernel would say, without spending slab space on it.
    if (!(len > 0)) return this.refuse('EINVAL');
    if (len > MAX_IPV4) return this.refuse('EMSGSIZE');
    const b = this.batchFor(len);
    const i = b.n;
    b.offsets[i] = b.used;
    b.lengths[i] = len;
    b.dsts[i] = dstIp >>> 0;
    b.slab.set(this.view(buf, off, len), b.used);
    b.used += len;
    b.n = i + 1;
    this.pending++;
    if (this.wait !== 'none') {
      this.s.queued++;
      if (this.pending > this.s.maxQueueDepth) this.s.maxQueueDepth = this.pending;
      if (this.pending >= this.highWater) this.needDrain = true;
      return 'queued';
    }
    if (b.n - b.head >= this.batchSize) {
      this.flushNow();
      // Still here after a push-back (it was the batch's last packet) or refused by a failure.
      return this.closed ? 'refused' : this.wait === 'none' ? 'sent' : 'queued';
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      // A reaction on a settled promise: the cheapest microtask (queueMicrotask makes an
      // AsyncResource per call, ~3× the cost). A throw in there is an unhandled rejection.
      void RESOLVED.then(this.onTurnEnd);
    }
    return 'sent';
  }

  flush(): Promise<void> {
    if (!this.closed && this.wait === 'none') this.flushNow();
    if (this.pending === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  close(): void {
    if (this.closed) return;
    // This turn's batch goes out first, as its packets would have with a sendto each.
    if (this.wait === 'none') this.flushNow();
    this.shutDown('closed');
    this.sender.close();
  }

  /** A batch with room for `len` bytes: the last one, else (after sending it when we may) a fresh one. */
  private batchFor(len: number): Batch {
    // While waiting, batches fill to their slots: a queue of small packets needs few slabs.
    const max = this.wait === 'none' ? this.batchSize : SLOTS_PER_SLAB;
    let last = this.batches[this.batches.length - 1];
    if (last !== undefined && last.fits(len, max)) return last;
    if (last !== undefined && this.wait === 'none') {
      this.flushNow();
      last = this.batches[this.batches.length - 1];
      if (last !== undefined && last.fits(len, this.wait === 'none' ? this.batchSize : SLOTS_PER_SLAB)) return last;
    }
    const b = this.spare.pop() ?? new Batch(this.slabBytes, this.sender);
    this.batches.push(b);
    return b;
  }

  private view(buf: Buffer, off: number, len: number): Uint8Array {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.views.clear();
    }
    const key = off * 65536 + len;
    let v = this.views.get(key);
    if (v === undefined) {
      if (off < 0 || off + len > buf.length) throw new RangeError(`send: [${off}, ${off + len}) is outside the buffer (${buf.length} bytes)`);
      if (this.views.size >= 4096) this.views.clear();
      v = new Uint8Array(buf.buffer, buf.byteOffset + off, len);
      this.views.set(key, v);
    }
    return v;
  }

  /** Hands every waiting batch to the kernel, one call each, until done or pushed back. */
  private flushNow(): void {
    this.flushQueued = false;
    // A 'refused' listener may send or close from inside the loop: the outer loop then carries
    // on with whatever was appended (re-checked below), so nothing is sent twice.
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.closed && this.wait === 'none' && this.batches.length > 0) {
        const b = this.batches[0] as Batch;
        const from = b.head;
        const count = b.n - from;
        if (count === 0) {
          this.batches.shift();
          b.n = b.used = b.head = 0;
          if (this.spare.length < SPARE_BATCHES) this.spare.push(b);
          else this.sender.unbind(b.id);
          continue;
        }
        if (from === 0) this.s.batches++;
        this.s.crossings++;
        const handled = this.sender.sendBatch(b.id, from, count);
        b.head = from + handled;
        this.pending -= handled;
        this.account(b, from, handled);
        if (this.closed) break;
        if (handled < count) {
          this.pushedBack(b.errs[from + handled] ?? 0);
          break;
        }
      }
    } finally {
      this.flushing = false;
    }
    if (this.pending === 0) {
      this.episode = false;
      this.resolveFlush();
    }
    if (this.needDrain && this.queueLength < this.highWater && !this.closed) {
      this.needDrain = false;
      this.s.drains++;
      this.emit('drain');
    }
  }

  /** Sent and refused packets of [from, from + handled), from the addon's per-packet errnos. */
  private account(b: Batch, from: number, handled: number): void {
    const errs = b.errs;
    const lengths = b.lengths;
    let sent = 0;
    let bytes = 0;
    for (let k = from, end = from + handled; k < end; k++) {
      const e = errs[k] as number;
      if (e === 0) {
        sent++;
        bytes += lengths[k] as number;
      } else {
        this.refuse(errnoName(e));
      }
    }
    this.s.sent += sent;
    this.s.sentBytes += bytes;
  }

  private pushedBack(errno: number): void {
    if (errno === EAGAIN) this.s.eagain++;
    else if (errno === ENOBUFS) this.s.enobufs++;
    else {
      this.fail(new Error(`the raw socket failed (${errnoName(errno)})`));
      return;
    }
    if (!this.episode) {
      this.episode = true;
      this.s.queued += this.pending;
    }
    if (this.pending > this.s.maxQueueDepth) this.s.maxQueueDepth = this.pending;
    if (this.pending >= this.highWater) this.needDrain = true;
    if (errno === ENOBUFS) {
      this.wait = 'retry';
      this.retryTimer = setTimeout(this.onRetry, this.retryMs);
      return;
    }
    this.wait = 'writable';
    this.s.crossings++;
    try {
      this.sender.waitWritable();
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private refuse(reason: string): 'refused' {
    countRefusal(this.s, reason);
    if (this.listenerCount('refused') > 0) this.emit('refused', reason);
    return 'refused';
  }

  /** Stops everything; packets still waiting are refused with `reason`. */
  private shutDown(reason: string): void {
    this.closed = true;
    this.wait = 'none';
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.flushQueued = false;
    const left = this.pending;
    this.pending = 0;
    this.batches = [];
    this.spare = [];
    this.viewBuf = null;
    this.views.clear();
    for (let k = 0; k < left; k++) this.refuse(reason);
    this.resolveFlush();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.shutDown('socket-error');
    this.sender.close();
    if (this.listenerCount('failed') > 0) this.emit('failed', err);
  }

  private resolveFlush(): void {
    const w = this.flushWaiters;
    this.flushWaiters = [];
    for (const f of w) f();
  }
}
