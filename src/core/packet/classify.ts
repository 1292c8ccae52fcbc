import type { Buffer } from 'node:buffer';

/**
 * What a captured IPv4 packet is, checked in this order:
 *   'short'          fewer than 20 bytes, or fewer bytes captured than the IP total length or
 *                    IP header length claim (a snaplen-truncated capture)
 *   'not-ipv4'       version ≠ 4
 *   'bad-ihl'        IHL < 5
 *   'bad-length'     IP total length smaller than the IP header, or too small for a TCP header
 *   'fragment'       MF set or fragment offset ≠ 0 (any protocol; the copier cannot reassemble)
 *   'not-tcp'        protocol ≠ 6 (UDP, ICMP, …)
 *   'bad-tcp-offset' TCP data offset < 5 or past the IP total length
 *   'tcp'            safe to wrap with Ipv4View + TcpView and to read the whole TCP header
 */
export type PacketKind =
  | 'tcp'
  | 'short'
  | 'not-ipv4'
  | 'bad-ihl'
  | 'bad-length'
  | 'fragment'
  | 'not-tcp'
  | 'bad-tcp-offset';

/**
 * Classify the IPv4 packet at buf[ipOff] of which `capLen` bytes were captured (clamped to the
 * buffer). Never throws and never reads outside the captured bytes. Bytes beyond the total
 * length (e.g. Ethernet padding) are allowed.
 */
export function classifyIpv4(buf: Buffer, ipOff: number, capLen: number): PacketKind {
  const avail = Math.min(capLen, buf.length - ipOff);
  if (!(avail >= 20)) return 'short';
  const vihl = buf[ipOff] as number;
  if (vihl >>> 4 !== 4) return 'not-ipv4';
  const hl = (vihl & 0x0f) << 2;
  if (hl < 20) return 'bad-ihl';
  if (hl > avail) return 'short';
  const total = buf.readUInt16BE(ipOff + 2);
  if (total < hl) return 'bad-length';
  if (total > avail) return 'short';
  if ((buf.readUInt16BE(ipOff + 6) & 0x3fff) !== 0) return 'fragment';
  if (buf[ipOff + 9] !== 6) return 'not-tcp';
  const tcpLen = total - hl;
  if (tcpLen < 20) return 'bad-length';
  const doff = ((buf[ipOff + hl + 12] as number) >>> 4) << 2;
  if (doff < 20 || doff > tcpLen) return 'bad-tcp-offset';
  return 'tcp';
}
