import { FrameBuilder, MessageDecoder, type FramePool } from '../wire/index.js';
import { ExtFrames } from './ext-frames.js';

/** One copier connection as the interceptor engine sees it. */
export class Conn {
  readonly decoder = new MessageDecoder();
  readonly frame: FrameBuilder;
  /** Bytes queued on the socket as of the last write (reset by drain). */
  backlog = 0;
  /** Time the oldest record of the frame being built arrived. */
  firstUs = 0;
  /** Records added since the last tick; 0 at a tick means the burst is over. */
  added = 0;
  /** When the connection went over its byte bound; -1 when under. */
  overSinceUs = -1;
  /** A route-aware copier: this connection, or another of the same copier, sent a CLIENT_ADD. */
  routing = false;
  dropped = 0;
  /**
   * Payload bytes per response packet this copier asked for and was granted with the payload
   * extension (docs/wire-extension.md); −1: it never asked, so it gets stock frames only.
   */
  extGranted = -1;
  /** Extension frames (and the records behind them) waiting for the end of the burst. */
  readonly ext = new ExtFrames();

  constructor(
    readonly id: number,
    readonly peer: string,
    /** The copier's address (u32; −1 when not IPv4): a copier's -C connections share it. */
    readonly peerIp: number,
    pool: FramePool,
    /** When it connected (the hello timeout counts from here). */
    readonly acceptedUs: number,
  ) {
    this.frame = new FrameBuilder(pool.recordSize, pool.maxRecords, pool);
  }
}


/**
 * Connections of one copier: the same peer address. (Two copiers on one host count as one
 * copier for this: both announce routes, so neither takes unrouted records meant for the other.)
 */
export function sameCopier(a: Conn, b: Conn): boolean {
  return a === b || (a.peerIp >= 0 && a.peerIp === b.peerIp);
}
