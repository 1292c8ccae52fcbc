import { Buffer } from 'node:buffer';
import { constants as osConstants } from 'node:os';
import type { PacketSinkOptions, PacketSinkStats } from './packet-sink.js';

/* The sendmmsg backend's contract with its addon (src/native/rawsend), its options and stats, and
 * one batch of packets (the sink itself is raw-batch-sink.ts). */

/** What the addon's RawSender offers (src/native/rawsend/rawsend.c). */
export interface RawSendNative {
  /** SO_SNDBUF as the kernel set it. */
  readonly sndbuf: number;
  /** Registers a batch's memory once; sendBatch then names it by the id. */
  bind(slab: Buffer, offsets: Uint32Array, lengths: Uint32Array, dsts: Uint32Array, errs: Int32Array): number;
  unbind(id: number): void;
  /** Packets start..start+count-1 of batch `id`; returns how many were handled (see rawsend.c). */
  sendBatch(id: number, start: number, count: number): number;
  waitWritable(): void;
  stats(): RawSendCounters;
  close(): void;
}

export interface RawSendCounters {
  sendCalls: number;
  packets: number;
  bytes: number;
  refused: number;
  eagain: number;
  enobufs: number;
  maxBatch: number;
  wakeups: number;
  writableWakeups: number;
  pollErrors: number;
  /** Entries read from the socket's error queue (plus pending SO_ERRORs), by errno number. */
  errQueue: number;
  soErrors: number;
  errQueueByErrno: Record<string, number>;
  waitingWritable: boolean;
  closed: boolean;
}

export interface RawSendModule {
  /** onWritable(0): the socket can take more; onWritable(-errno): the watcher failed. */
  RawSender: new (opts: { sndbuf: number }, onWritable: (status: number) => void) => RawSendNative;
}

export interface BatchSinkOptions extends PacketSinkOptions {
  /** Packets that make a batch go out before the end of the turn. Default 256 (≤ highWater). */
  batchSize?: number;
  /** Bytes per slab, at least 65536 so any IPv4 packet fits an empty one. Default 512 KiB. */
  slabBytes?: number;
}

export interface BatchSinkStats extends PacketSinkStats {
  /** sendmmsg calls: more than batches when push-back or a refusal cut a batch. */
  sendCalls: number;
  /**
   * Reports read from the socket's error queue, by errno name. An oversize packet leaves one per
   * attempt (EMSGSIZE): two when it was not first in its sendmmsg, which is retried from it to
   * learn its errno.
   */
  errQueue: number;
  errQueueBy: Record<string, number>;
  /** Wake-ups of the addon's watcher, and those for an error-queue entry (POLLERR). */
  pollWakeups: number;
  pollErrors: number;
}

export const MAX_IPV4 = 65535;
/** Packets a slab can index: a queue of small packets should not need a slab per batchSize. */
export const SLOTS_PER_SLAB = 4096;
/** Emptied batches kept for reuse; more would only hold memory after a burst. */
export const SPARE_BATCHES = 2;

const ERRNO_NAME = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!ERRNO_NAME.has(n)) ERRNO_NAME.set(n, name);
export const EAGAIN = osConstants.errno.EAGAIN;
export const ENOBUFS = osConstants.errno.ENOBUFS;

export function errnoName(n: number): string {
  return ERRNO_NAME.get(n) ?? (n === 0 ? 'unknown' : `errno ${n}`);
}

/**
 * One slab of packets with parallel arrays, bound to the addon under `id` (so a send names it
 * with one number); [head, n) is not yet handed to the kernel.
 */
export class Batch {
  readonly slab: Buffer;
  readonly offsets = new Uint32Array(SLOTS_PER_SLAB);
  readonly lengths = new Uint32Array(SLOTS_PER_SLAB);
  readonly dsts = new Uint32Array(SLOTS_PER_SLAB);
  readonly errs = new Int32Array(SLOTS_PER_SLAB);
  readonly id: number;
  n = 0;
  used = 0;
  head = 0;

  constructor(slabBytes: number, sender: RawSendNative) {
    this.slab = Buffer.allocUnsafeSlow(slabBytes);
    this.id = sender.bind(this.slab, this.offsets, this.lengths, this.dsts, this.errs);
  }

  fits(len: number, maxPackets: number): boolean {
    return this.n < maxPackets && this.used + len <= this.slab.length;
  }
}
