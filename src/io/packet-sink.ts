import type { EventEmitter } from 'node:events';
import type { Buffer } from 'node:buffer';

/**
 * The copier's packet sink: puts raw IPv4 packets (IP header first, built by the engine) on the
 * wire. Two implementations share this surface so the copier does not care which one runs:
 *
 * - 'sendmmsg' (src/io/raw-batch-sink.ts): the project's addon (src/native/rawsend). send() copies
 *   the packet into a batch slab; the batch goes out with one sendmmsg when the current turn of
 *   JS ends (a microtask) or when full.
 * - 'raw-socket' (src/io/raw-sink.ts): the `raw-socket` npm package, one sendto per packet; the
 *   fallback when the addon is not built.
 *
 * Common contract: the caller's buffer may be reused as soon as send() returns. `writable` turns
 * false once `highWater` packets wait because the kernel pushed back (EAGAIN, ENOBUFS); wait for
 * 'drain'. Beyond `maxQueued` waiting packets send() refuses ('queue-full'). Every refusal is
 * counted by reason (an errno name such as EPERM, EMSGSIZE, ENETUNREACH, or 'queue-full',
 * 'closed', 'socket-error') in stats.refusedBy — never silent.
 */
export type RawSinkBackend = 'sendmmsg' | 'raw-socket';

/** 'sent': handed to the kernel (or to the batch); 'queued': waiting on push-back; 'refused': dropped for good. */
export type SendResult = 'sent' | 'queued' | 'refused';

export interface PacketSinkOptions {
  /** SO_SNDBUF in bytes (the kernel doubles it and caps it at wmem_max). Default 4 MiB. */
  sendBufferBytes?: number;
  /** Waiting packets at which `writable` turns false. Default 1024. */
  highWater?: number;
  /** Hard cap on waiting packets; beyond it send() refuses ('queue-full'). Default 65536. */
  maxQueued?: number;
  /** Retry delay after ENOBUFS (which writability does not signal), ms. Default 1. */
  retryMs?: number;
}

export interface PacketSinkStats {
  /** Packets the kernel accepted. */
  sent: number;
  sentBytes: number;
  /** Packets that had to wait because the kernel pushed back. */
  queued: number;
  /** Packets refused for good; see refusedBy. */
  refused: number;
  refusedBy: Record<string, number>;
  /** Kernel push-backs seen (each is retried, not lost). */
  eagain: number;
  enobufs: number;
  /** Largest number of packets waiting on push-back. */
  maxQueueDepth: number;
  drains: number;
  /** Sockets replaced after a socket error (raw-socket backend; the addon keeps its socket). */
  reopens: number;
  /** Batches handed to the kernel (raw-socket: one per packet). */
  batches: number;
  /** JS→native calls on the send path (sends and writability waits). */
  crossings: number;
}

export interface PacketSinkEvents {
  /** The queue fell below highWater again after `writable` had turned false. */
  drain: [];
  /** A packet was refused for good (reason: errno name or 'queue-full'). */
  refused: [string];
  /** The socket failed and no new one could be opened; waiting packets were refused. */
  failed: [Error];
}

export interface PacketSink extends EventEmitter<PacketSinkEvents> {
  readonly backend: RawSinkBackend;
  readonly stats: PacketSinkStats;
  readonly highWater: number;
  readonly maxQueued: number;
  /** Packets waiting because the kernel pushed back. */
  readonly queueLength: number;
  /** False while `highWater` or more packets wait: stop sending until 'drain'. */
  readonly writable: boolean;
  readonly isClosed: boolean;
  /** Sends the IPv4 packet buf[off, off+len) to dstIp (u32). buf may be reused on return. */
  send(buf: Buffer, off: number, len: number, dstIp: number): SendResult;
  /** Resolves once every packet accepted so far is out (or refused). */
  flush(): Promise<void>;
  /** Closes the socket; packets still waiting are refused ('closed'). Idempotent. */
  close(): void;
}

/** Thrown by the sinks' open() when the socket cannot be created or configured. */
export class RawSinkError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'RawSinkError';
  }
}

/** The fix for a refused raw socket, appended to the error message. */
export function rawSocketHint(errnoName: string): string {
  return errnoName === 'EPERM' || errnoName === 'EACCES' ? ': run as root or give node CAP_NET_RAW (setcap cap_net_raw+ep $(command -v node))' : '';
}

/** Adds one refusal to stats (shared by both sinks so the reasons are spelled alike). */
export function countRefusal(stats: PacketSinkStats, reason: string): void {
  stats.refused++;
  stats.refusedBy[reason] = (stats.refusedBy[reason] ?? 0) + 1;
}

export function emptyStats(): PacketSinkStats {
  return { sent: 0, sentBytes: 0, queued: 0, refused: 0, refusedBy: {}, eagain: 0, enobufs: 0, maxQueueDepth: 0, drains: 0, reopens: 0, batches: 0, crossings: 0 };
}
