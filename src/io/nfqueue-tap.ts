import { readFileSync } from 'node:fs';
import type { Buffer } from 'node:buffer';
import { loadAddon } from './native.js';

/*
 * NFQUEUE adapter with two backends behind one interface:
 *
 * - 'fast': the project's addon (src/native/nfq/nfq.c, raw netlink). Sets the copy range and the
 *   queue's maximum length (-q) in the bind message, reads up to `batchSize` datagrams per
 *   wake-up with recvmmsg, makes ONE JS call per batch (packets in a reused Buffer, lengths in a
 *   reused Uint32Array) and sends all the batch's verdicts in one send (runs of DROPs as one
 *   VERDICT_BATCH). ENOBUFS is reported and counted, not suppressed.
 * - 'nfqueue': the `nfqueue` npm binding (0.3.x), kept as the fallback when the addon is not
 *   built. From its C++ source: open(num, rcvbuf) sets NETLINK_NO_ENOBUFS (overruns only show in
 *   /proc as user_dropped); copy mode is fixed at whole packets (range 0xffff); the queue's max
 *   length is never set (kernel default 1024, and only the socket that owns the queue may
 *   change it); one recv, one JS call with a fresh Buffer and an info object, and one verdict
 *   syscall per packet; if the callback throws, the process aborts; there is no close().
 *
 * Choice: options.backend, else TCPCOPY_TS_NFQ_BACKEND (fast | nfqueue | auto), else auto (fast
 * when built, else the fallback with a warning naming what is lost).
 */

/** Handler: returns the verdict (0 DROP, 1 ACCEPT). Must be fast; exceptions are caught. */
export type PacketHandler = (payload: Buffer, len: number) => number;

export type NfqBackend = 'fast' | 'nfqueue';

/** Environment variable that picks the backend when the options do not. */
export const BACKEND_ENV = 'TCPCOPY_TS_NFQ_BACKEND';
/** TCPCOPY_TS_NFQ_GSO=0: let the kernel segment GSO packets before queueing them (troubleshooting). */
export const GSO_ENV = 'TCPCOPY_TS_NFQ_GSO';
/** Default -q: big enough for replay bursts (1024 overflowed at 5x in measurements). */
export const DEFAULT_QUEUE_MAXLEN = 65536;
/** Packets handed to JS per call at most (bounds the time between event-loop turns). */
export const DEFAULT_BATCH = 256;

export interface NfqueueTapOptions {
  queueNum: number;
  /** Netlink receive buffer in bytes (stock asks for 16 MiB). */
  rcvbufBytes: number;
  /**
   * Bytes of each packet copied to us (fast backend): 64 for header records, 192 for
   * --with-payload. Unset: 192, so a caller that does not say still gets payload bytes.
   */
  copyRange?: number;
  /** -q: the queue's maximum length (fast backend). Unset or null: 65536. */
  maxLen?: number | null;
  /**
   * Fast backend: grow the receive buffer so maxLen messages fit (see rcvbufFor). Default true;
   * false uses rcvbufBytes as given (tests that provoke overruns).
   */
  autoRcvbuf?: boolean;
  /** Accept instead of drop when the queue is full (NFQA_CFG_F_FAIL_OPEN). Off: responses never leak. */
  failOpen?: boolean;
  /** Ask the kernel to queue GSO packets whole (fast backend; default true unless TCPCOPY_TS_NFQ_GSO=0; dropped on old kernels). */
  gso?: boolean;
  batchSize?: number;
  /** 'auto' (default): fast when built, else the fallback. Overrides TCPCOPY_TS_NFQ_BACKEND. */
  backend?: NfqBackend | 'auto';
  /** Where start-up warnings go (the fallback's limits). Default: stderr. */
  onWarning?: (message: string) => void;
}

/** Counters of the fast backend's socket (cumulative). */
export interface TapCounters {
  packets: number;
  batches: number;
  maxBatch: number;
  wakeups: number;
  recvCalls: number;
  /** recv reported ENOBUFS: the socket buffer overflowed and the kernel dropped packets. */
  enobufs: number;
  recvErrors: number;
  /** Poll errors (an overrun's ENOBUFS shows up as one before the recv that reports it). */
  pollErrors: number;
  truncated: number;
  missingId: number;
  verdictMessages: number;
  verdictBatchMessages: number;
  sendCalls: number;
  sendErrors: number;
  /** Verdicts the kernel refused (e.g. unknown id). */
  kernelErrors: number;
  lastKernelErrno: number;
  /** JS exceptions that escaped to the addon (the batch's remaining packets got DROP). */
  callbackErrors: number;
}

interface FastQueue {
  readonly packets: Buffer;
  readonly meta: Uint32Array;
  readonly verdicts: Uint8Array;
  readonly stride: number;
  readonly batchSize: number;
  readonly copyRange: number;
  readonly maxLen: number;
  readonly rcvbuf: number;
  readonly portId: number;
  readonly gso: boolean;
  start(cb: (count: number) => void): void;
  pause(): void;
  resume(): void;
  close(): void;
  stats(): TapCounters;
}

interface FastModule {
  NfqQueue: new (o: { queueNum: number; copyRange: number; maxLen: number; rcvbuf: number; failOpen: number; batchSize: number; gso: number }) => FastQueue;
  META_WORDS: number;
}

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

function bindError(queueNum: number, err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return new Error(
    `cannot bind NFQUEUE ${queueNum} (${why}): needs root (CAP_NET_ADMIN), and no other program ` +
      `(another intercept?) may hold that queue; choose another with --queue-num`,
    { cause: err },
  );
}

/** Upper bound of the socket buffer asked for on behalf of a large -q. */
const MAX_AUTO_RCVBUF = 256 * 1024 * 1024;

/**
 * Receive buffer that lets the whole queue wait in the socket: every queued packet is also a
 * netlink message in our receive buffer until we read it, so a buffer smaller than maxLen
 * messages overruns (ENOBUFS, user_dropped) before the queue is full and -q would be moot.
 * Measured: ~830 bytes of buffer per message at copy ranges 64 and 192 (a 16 MiB request, which
 * the kernel doubles, held 40,329 messages). Asked: half of maxLen × (copyRange + 1024), since
 * the kernel doubles what it is given; never less than `asked`.
 */
export function rcvbufFor(asked: number, maxLen: number, copyRange: number): number {
  const need = Math.ceil((maxLen * (copyRange + 1024)) / 2);
  return Math.max(asked, Math.min(MAX_AUTO_RCVBUF, need));
}

function chooseBackend(opt: NfqueueTapOptions['backend']): NfqBackend | 'auto' {
  const v = opt ?? process.env[BACKEND_ENV] ?? 'auto';
  if (v === 'fast' || v === 'nfqueue' || v === 'auto') return v;
  throw new Error(`${BACKEND_ENV}=${v}: expected fast, nfqueue or auto`);
}

export class NfqueueTap {
  /** Handler exceptions (each still got a DROP verdict). */
  handlerErrors = 0;
  lastHandlerError: unknown = null;
  /** What the kernel was asked for and accepted (null: not settable with this backend). */
  readonly maxLen: number | null;
  readonly copyRange: number | null;
  /** The socket's receive buffer as the kernel set it (it doubles requests); null: fallback. */
  readonly rcvbuf: number | null;
  /** Why the fast backend is not in use (null when it is). */
  readonly fallbackReason: string | null;
  /**
   * GSO packets come whole (one message per TSO send of up to ~64 KB, not one per MSS segment);
   * false: segmented by the kernel first (fallback backend, old kernel, or gso: false).
   */
  readonly gso: boolean;

  private constructor(
    readonly backend: NfqBackend,
    private readonly fast: FastQueue | null,
    /**
     * The fallback binding's queue object, kept referenced on purpose: its native side does not
     * pin it, and its poll handle uses it, so it must not be garbage-collected while we run.
     */
    readonly handle: NfqQueue | null,
    fallbackReason: string | null,
  ) {
    this.maxLen = fast?.maxLen ?? null;
    this.copyRange = fast?.copyRange ?? null;
    this.rcvbuf = fast?.rcvbuf ?? null;
    this.fallbackReason = fallbackReason;
    this.gso = fast?.gso ?? false;
  }

  /** Opens the queue and starts delivering packets. Throws (NativeAddonError, bind errors). */
  static open(opts: NfqueueTapOptions, handler: PacketHandler, onHandlerError: (err: unknown) => void): NfqueueTap {
    const want = chooseBackend(opts.backend);
    let reason: string | null = null;
    if (want !== 'nfqueue') {
      let mod: FastModule | null = null;
      try {
        mod = loadAddon<FastModule>('nfq');
      } catch (err) {
        if (want === 'fast') throw err;
        reason = err instanceof Error ? err.message : String(err);
      }
      if (mod !== null) return NfqueueTap.openFast(mod, opts, handler, onHandlerError);
    } else {
      reason = `${opts.backend === 'nfqueue' ? 'backend option' : BACKEND_ENV}=nfqueue`;
    }
    const warn = opts.onWarning ?? ((m: string) => void process.stderr.write(`intercept: WARN ${m}\n`));
    warn(
      `NFQUEUE through the 'nfqueue' package (fallback: ${reason}). Lost: -q (the queue's max length stays at the ` +
        `kernel default 1024; bursts overflow it), the copy range (whole packets are copied, not ${opts.copyRange ?? 192} bytes), ` +
        `batching (one JS call and one verdict syscall per packet: ~75k responses/s at best) and ENOBUFS reporting. ` +
        `Build the fast path with 'npm run build:native'.`,
    );
    return NfqueueTap.openFallback(opts, handler, onHandlerError, reason);
  }

  private static openFast(mod: FastModule, opts: NfqueueTapOptions, handler: PacketHandler, onHandlerError: (err: unknown) => void): NfqueueTap {
    let q: FastQueue;
    const copyRange = opts.copyRange ?? 192;
    const maxLen = opts.maxLen ?? DEFAULT_QUEUE_MAXLEN;
    try {
      q = new mod.NfqQueue({
        queueNum: opts.queueNum,
        copyRange,
        maxLen,
        rcvbuf: opts.autoRcvbuf === false ? opts.rcvbufBytes : rcvbufFor(opts.rcvbufBytes, maxLen, copyRange),
        failOpen: opts.failOpen === true ? 1 : 0,
        batchSize: opts.batchSize ?? DEFAULT_BATCH,
        gso: (opts.gso ?? process.env[GSO_ENV] !== '0') ? 1 : 0,
      });
    } catch (err) {
      throw bindError(opts.queueNum, err);
    }
    const tap = new NfqueueTap('fast', q, null, null);
    // Views over the shared batch buffer, made once: no allocation per packet.
    const views: Buffer[] = [];
    for (let i = 0; i < q.batchSize; i++) views.push(q.packets.subarray(i * q.stride, (i + 1) * q.stride));
    const meta = q.meta;
    const verdicts = q.verdicts;
    const words = mod.META_WORDS;
    q.start((count: number) => {
      for (let i = 0; i < count; i++) {
        let v = 0;
        try {
          v = handler(views[i] as Buffer, meta[i * words + 2] as number);
        } catch (err) {
          v = 0; // a bug must not let a response through
          tap.noteHandlerError(err, onHandlerError);
        }
        verdicts[i] = v === 1 ? 1 : 0;
      }
    });
    return tap;
  }

  private static openFallback(opts: NfqueueTapOptions, handler: PacketHandler, onHandlerError: (err: unknown) => void, reason: string | null): NfqueueTap {
    const mod = loadAddon<NfqModule>('nfqueue');
    const q = new mod.NFQueue();
    try {
      q.open(opts.queueNum, opts.rcvbufBytes);
    } catch (err) {
      throw bindError(opts.queueNum, err);
    }
    const tap = new NfqueueTap('nfqueue', null, q, reason);
    const b = q.bindings;
    b.read((info, payload) => {
      let verdict = 0;
      try {
        verdict = handler(payload, info.len);
      } catch (err) {
        // A bug must not abort the process from inside the binding, nor let a response leak.
        verdict = 0;
        tap.noteHandlerError(err, onHandlerError);
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

  private noteHandlerError(err: unknown, onHandlerError: (err: unknown) => void): void {
    this.handlerErrors++;
    this.lastHandlerError = err;
    if (this.handlerErrors <= 10) {
      try {
        onHandlerError(err);
      } catch {
        // never rethrow into the binding
      }
    }
  }

  /** Socket-side counters (fast backend); null with the fallback (read /proc instead). */
  counters(): TapCounters | null {
    return this.fast === null ? null : this.fast.stats();
  }

  /** Netlink port id of our socket (the kernel's peer_portid for the queue); fast backend only. */
  get portId(): number | null {
    return this.fast?.portId ?? null;
  }

  /** Stops reading (the kernel keeps queueing up to the max length). Tests only; fast backend. */
  pause(): void {
    this.fast?.pause();
  }

  resume(): void {
    this.fast?.resume();
  }

  /**
   * Releases the queue: the kernel drops what is still queued, and the event loop is free to
   * end. The fallback binding cannot close; the process must exit.
   */
  close(): void {
    this.fast?.close();
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
