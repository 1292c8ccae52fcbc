import type { Buffer } from 'node:buffer';
import { Ipv4View } from './ipv4.js';
import { TcpView, TCP_FIN, TCP_SYN } from './tcp.js';

/**
 * An IPv4 view and a TCP view over one classified ('tcp') packet, plus the derived numbers the
 * session engine needs. Reusable like the views: wrap() returns this and allocates nothing.
 */
export class SegmentView {
  readonly ip = new Ipv4View();
  readonly tcp = new TcpView();

  wrap(buf: Buffer, ipOff = 0): this {
    this.ip.wrap(buf, ipOff);
    this.tcp.wrap(buf, ipOff + (((buf[ipOff] as number) & 0x0f) << 2));
    return this;
  }

  /** Buffer offset of the TCP payload. */
  get payloadOffset(): number {
    return this.tcp.payloadOffset;
  }

  /** TCP payload bytes according to the IP total length (excludes link-layer padding). */
  get payloadLength(): number {
    return this.ip.payloadLength - this.tcp.headerLength;
  }

  /** Sequence space the segment occupies: payload + 1 for SYN + 1 for FIN. */
  get seqLength(): number {
    const f = this.tcp.flags;
    return this.payloadLength + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);
  }

  /** Sequence number just after this segment (mod 2^32). */
  get seqEnd(): number {
    return (this.tcp.seq + this.seqLength) >>> 0;
  }
}
