import { Buffer } from 'node:buffer';
import type { L3Kind, LinkDecodeTarget } from './link-types.js';

/** How many VLAN ids a record stores (tags deeper than this are skipped but still counted). */
export const MAX_STORED_VLANS = 8;

/**
 * One captured packet. The reader reuses ONE instance for every packet and points it at its
 * internal buffers: the record and its `buf` / `data` contents are valid only until the next call
 * to the reader (next()/push()/end()). Copy what you keep (`Buffer.from(rec.data)`).
 *
 * The frame bytes are buf[dataOffset, dataOffset + capLen). `data` is a subarray view of them,
 * created lazily on first access (the only per-packet allocation, and only if you ask for it);
 * hot paths use buf + dataOffset (+ ipOffset) directly.
 */
export class CaptureRecord implements LinkDecodeTarget {
  /** 1-based packet number in the file (as tcpdump/Wireshark count). */
  index = 0;
  /** Seconds since the epoch (UTC). */
  tsSec = 0;
  /** Nanoseconds within the second, 0..999_999_999. */
  tsNsec = 0;
  /** Epoch microseconds (exact up to year 2255). */
  tsUs = 0;
  capLen = 0;
  origLen = 0;
  linkType = 0;
  /** pcapng interface id within its section; 0 for pcap. */
  interfaceId = 0;
  /** Absolute byte offset of the record header (pcap) or block (pcapng) in the file. */
  fileOffset = 0;
  /** Offset of the network-layer header within the frame (add dataOffset for buf), or -1. */
  ipOffset = -1;
  l3Kind: L3Kind = 'other';
  /** Number of 802.1Q/802.1ad tags seen; the first MAX_STORED_VLANS ids are in vlanIds. */
  vlanCount = 0;
  readonly vlanIds = new Uint16Array(MAX_STORED_VLANS);
  /** Buffer holding the frame (reader-owned; do not keep). */
  buf: Buffer = EMPTY;
  /** Offset of the first frame byte in buf. */
  dataOffset = 0;
  private view: Buffer | null = null;

  /** The frame bytes as a view (valid until the next reader call). */
  get data(): Buffer {
    if (this.view === null) this.view = this.buf.subarray(this.dataOffset, this.dataOffset + this.capLen);
    return this.view;
  }

  /** Absolute offset of the IP header inside buf, or -1. */
  get ipBufOffset(): number {
    return this.ipOffset < 0 ? -1 : this.dataOffset + this.ipOffset;
  }

  /** The stored VLAN ids, outermost first (allocates; for tests and diagnostics). */
  vlanList(): number[] {
    return Array.from(this.vlanIds.subarray(0, Math.min(this.vlanCount, MAX_STORED_VLANS)));
  }

  /** Called by the reader when it repoints the record at a new frame. */
  resetView(): void {
    this.view = null;
  }
}

const EMPTY = Buffer.alloc(0);
