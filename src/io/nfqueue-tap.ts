import { readFileSync } from 'node:fs';
import type { Buffer } from 'node:buffer';
import { loadAddon } from './native.js';

/*
 * NFQUEUE adapter over the `nfqueue` npm binding (0.3.x). What the binding does and does not
 * offer, read from its C++ source (node_modules/nfqueue/src/node_nfqueue.cpp):
 *
 * - open(num, rcvbuf): unbinds/binds AF_INET, creates the queue, sets the netlink receive
 *   buffer (nfnl_rcvbufsiz; forced when root) and NETLINK_NO_ENOBUFS. With NO_ENOBUFS the socket
 *   never reports ENOBUFS: when it overflows, the kernel drops the packet and counts it as
 *   `user_dropped` in /proc/net/netfilter/nfnetlink_queue, which is where we read overruns from.
 * - Copy mode is fixed at NFQNL_COPY_PACKET with range 0xffff: whole packets are copied (≥ 64
 *   and ≥ 192 bytes as required, but more bytes per packet than stock's 64). Not configurable.
 * - The queue's maximum length is never set (no nfq_set_queue_maxlen): the kernel default of 1024
 *   applies and `-q` cannot be honoured. A second netlink socket cannot change it either (the
 *   kernel only accepts config from the socket bound to the queue). The big receive buffer and
 *   verdicting inside the callback keep the number of packets awaiting verdict low.
 * - read(cb) polls the socket on the default loop and handles ONE netlink message per poll
 *   wake-up; cb(info, payload) is called synchronously with a fresh Buffer copy and an info
 *   object ({ id, len, … and interface names looked up per packet }). The callback's return value
 *   is converted with Int32Value; if it throws, the empty handle is dereferenced and the process
 *   aborts — so our callback must never throw.
 * - setVerdict(id, verdict, null) → nfq_set_verdict. There is no close(): the poll handle keeps
 *   the event loop alive until the process exits.
 */
interface NfqInfo {
  id: number;
  len: number;
}

interface NfqBindings {
  read(cb: (info: NfqInfo, payload: Buffer) => number): void;
  setVerdict(id: number, verdict: number, buffer: null): void;
}

interface NfqQueue {
  open(num: number, rcvbuf: number): void;
  bindings: NfqBindings;
}

interface NfqModule {
  NFQueue: new () => NfqQueue;
}

/** Handler: returns the verdict (0 DROP, 1 ACCEPT). Must be fast; exceptions are caught. */
export type PacketHandler = (payload: Buffer, len: number) => number;

export interface NfqueueTapOptions {
  queueNum: number;
  /** Netlink receive buffer in bytes (stock asks for 16 MiB). */
  rcvbufBytes: number;
}

export class NfqueueTap {
  /** Handler exceptions (each still got a DROP verdict). */
  handlerErrors = 0;
  lastHandlerError: unknown = null;
  /**
   * Kept referenced on purpose: the binding's wrapper is not pinned by its native side, and the
   * poll handle uses it, so it must not be garbage-collected while the daemon runs.
   */
  readonly handle: NfqQueue;

  private constructor(queue: NfqQueue) {
    this.handle = queue;
  }

  /** Opens the queue and starts delivering packets. Throws (NativeAddonError, binding errors). */
  static open(opts: NfqueueTapOptions, handler: PacketHandler, onHandlerError: (err: unknown) => void): NfqueueTap {
    const mod = loadAddon<NfqModule>('nfqueue');
    const q = new mod.NFQueue();
    try {
      q.open(opts.queueNum, opts.rcvbufBytes);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(
        `cannot bind NFQUEUE ${opts.queueNum} (${why}): needs root (CAP_NET_ADMIN), and no other program ` +
          `(another intercept?) may hold that queue; choose another with --queue-num`,
        { cause: err },
      );
    }
    const tap = new NfqueueTap(q);
    const b = q.bindings;
    b.read((info, payload) => {
      let verdict = 0;
      try {
        verdict = handler(payload, info.len);
      } catch (err) {
        // A bug must not abort the process from inside the binding, nor let a response leak.
        verdict = 0;
        tap.handlerErrors++;
        if (tap.handlerErrors <= 10) {
          try {
            onHandlerError(err);
          } catch {
            // never rethrow into the binding
          }
        }
        tap.lastHandlerError = err;
      }
      try {
        b.setVerdict(info.id, verdict, null);
      } catch {
        tap.handlerErrors++;
      }
      return 0;
    });
    return tap;
  }
}

/** One line of /proc/net/netfilter/nfnetlink_queue. */
export interface KernelQueueStats {
  queueNum: number;
  peerPortId: number;
  /** Packets waiting for a verdict now. */
  queueTotal: number;
  copyMode: number;
  copyRange: number;
  /** Dropped because the queue was full (max length). */
  queueDropped: number;
  /** Dropped because the netlink socket buffer was full (what ENOBUFS would report). */
  userDropped: number;
  idSequence: number;
}

export function parseKernelQueueStats(text: string, queueNum: number): KernelQueueStats | null {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length < 8 || f[0] !== queueNum) continue;
    return {
      queueNum: f[0],
      peerPortId: f[1] ?? 0,
      queueTotal: f[2] ?? 0,
      copyMode: f[3] ?? 0,
      copyRange: f[4] ?? 0,
      queueDropped: f[5] ?? 0,
      userDropped: f[6] ?? 0,
      idSequence: f[7] ?? 0,
    };
  }
  return null;
}

/** Reads the kernel's counters for a queue (in this process's network namespace). */
export function readKernelQueueStats(queueNum: number): KernelQueueStats | null {
  try {
    return parseKernelQueueStats(readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8'), queueNum);
  } catch {
    return null;
  }
}
