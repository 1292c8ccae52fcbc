/**
 * Link-layer types (LINKTYPE_* numbers as stored in pcap/pcapng files) and the decoder that finds
 * the network-layer header inside a captured frame. The decoder never throws and never allocates:
 * it writes its result into the caller's record.
 */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW_12 = 12; // DLT_RAW on some BSDs
export const LINKTYPE_RAW_14 = 14; // DLT_RAW on OpenBSD
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'EN10MB',
  6: 'IEEE802',
  9: 'PPP',
  10: 'FDDI',
  12: 'RAW',
  14: 'RAW',
  50: 'PPP_HDLC',
  51: 'PPP_ETHER',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  108: 'LOOP',
  113: 'LINUX_SLL',
  119: 'PRISM_HEADER',
  127: 'IEEE802_11_RADIO',
  138: 'APPLE_IP_OVER_IEEE1394',
  143: 'DOCSIS',
  192: 'PPI',
  195: 'IEEE802_15_4',
  201: 'BLUETOOTH_HCI_H4_WITH_PHDR',
  220: 'USB_LINUX_MMAPPED',
  228: 'IPV4',
  229: 'IPV6',
  239: 'NFLOG',
  240: 'NETANALYZER',
  249: 'USBPCAP',
  252: 'WIRESHARK_UPPER_PDU',
  254: 'SCTP',
  276: 'LINUX_SLL2',
};

const SUPPORTED = new Set<number>([
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
]);

export function linkTypeName(linkType: number): string | undefined {
  return NAMES[linkType];
}

/** "276 (LINUX_SLL2)" or "147" when the number has no known name. */
export function describeLinkType(linkType: number): string {
  const name = NAMES[linkType];
  return name === undefined ? String(linkType) : `${linkType} (${name})`;
}

export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED.has(linkType);
}

export const SUPPORTED_LINK_TYPES_TEXT =
  'NULL 0, EN10MB 1, RAW 12/14/101, LOOP 108, LINUX_SLL 113, IPV4 228, IPV6 229, LINUX_SLL2 276';

export type L3Kind = 'ipv4' | 'ipv6' | 'arp' | 'other';

/** What decodeLink writes; CaptureRecord implements it. */
export interface LinkDecodeTarget {
  ipOffset: number;
  l3Kind: L3Kind;
  vlanCount: number;
  readonly vlanIds: Uint16Array;
}

/** A reusable decodeLink target for code that walks frames itself (live capture, the stream store): one per walker, nothing allocated per frame. */
export class LinkView implements LinkDecodeTarget {
  ipOffset = -1;
  l3Kind: L3Kind = 'other';
  vlanCount = 0;
  readonly vlanIds = new Uint16Array(2);
}

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;

function kindOfEtherType(t: number): L3Kind {
  if (t === ETH_IPV4) return 'ipv4';
  if (t === ETH_IPV6) return 'ipv6';
  if (t === ETH_ARP) return 'arp';
  return 'other';
}

/**
 * Walks 802.1Q / 802.1ad / legacy QinQ (0x9100) tags starting with the EtherType field at `at`
 * (relative to `off`), then sets the L3 kind and offset. Tags of any depth are skipped; the first
 * vlanIds.length VLAN ids are stored, vlanCount counts all of them.
 */
function etherTypeAt(buf: Uint8Array, off: number, capLen: number, at: number, out: LinkDecodeTarget): void {
  let p = at;
  while (p + 2 <= capLen) {
    const t = (buf[off + p]! << 8) | buf[off + p + 1]!;
    if (t === 0x8100 || t === 0x88a8 || t === 0x9100) {
      if (p + 4 > capLen) break;
      if (out.vlanCount < out.vlanIds.length) {
        out.vlanIds[out.vlanCount] = ((buf[off + p + 2]! << 8) | buf[off + p + 3]!) & 0x0fff;
      }
      out.vlanCount++;
      p += 4;
      continue;
    }
    const kind = kindOfEtherType(t);
    out.l3Kind = kind;
    // ipOffset stays -1 when the protocol is unknown or the frame ends at the L3 header.
    out.ipOffset = kind === 'other' || p + 2 >= capLen ? -1 : p + 2;
    return;
  }
  // Frame ends inside the link header: nothing to decode.
  out.l3Kind = 'other';
  out.ipOffset = -1;
}

function rawIp(buf: Uint8Array, off: number, capLen: number, out: LinkDecodeTarget, at: number): void {
  if (capLen <= at) return;
  const v = buf[off + at]! >> 4;
  if (v === 4) {
    out.l3Kind = 'ipv4';
    out.ipOffset = at;
  } else if (v === 6) {
    out.l3Kind = 'ipv6';
    out.ipOffset = at;
  }
}

// BSD address-family values for IPv6 differ by OS (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30, Linux 10).
function kindOfAf(af: number): L3Kind {
  if (af === 2) return 'ipv4';
  if (af === 24 || af === 28 || af === 30 || af === 10) return 'ipv6';
  return 'other';
}

/**
 * Finds the network-layer header of one frame of `linkType` stored at buf[off, off+capLen).
 * Returns false only for an unsupported link type (the caller reports it); malformed or short
 * frames are decoded as l3Kind 'other' / ipOffset -1.
 */
export function decodeLink(linkType: number, buf: Uint8Array, off: number, capLen: number, out: LinkDecodeTarget): boolean {
  out.ipOffset = -1;
  out.l3Kind = 'other';
  out.vlanCount = 0;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      // Untagged IPv4 first: the overwhelmingly common frame.
      if (capLen > 14 && buf[off + 12] === 0x08 && buf[off + 13] === 0x00) {
        out.l3Kind = 'ipv4';
        out.ipOffset = 14;
      } else if (capLen >= 14) etherTypeAt(buf, off, capLen, 12, out);
      return true;
    case LINKTYPE_LINUX_SLL:
      // 16-byte header: packet type, ARPHRD, address length, 8 address bytes, protocol.
      if (capLen >= 16) etherTypeAt(buf, off, capLen, 14, out);
      return true;
    case LINKTYPE_LINUX_SLL2:
      // 20-byte header starting with the protocol; the payload starts at 20, so walk from a
      // virtual EtherType position: read the protocol, then continue tags at offset 20.
      if (capLen >= 20) {
        const proto = (buf[off]! << 8) | buf[off + 1]!;
        if (proto === 0x8100 || proto === 0x88a8 || proto === 0x9100) {
          // Tagged payload: the payload begins with the TCI, then the inner EtherType.
          if (capLen >= 24) {
            out.vlanIds[0] = ((buf[off + 20]! << 8) | buf[off + 21]!) & 0x0fff;
            out.vlanCount = 1;
            etherTypeAt(buf, off, capLen, 22, out);
          }
        } else {
          const kind = kindOfEtherType(proto);
          out.l3Kind = kind;
          out.ipOffset = kind === 'other' || capLen <= 20 ? -1 : 20;
        }
      }
      return true;
    case LINKTYPE_IPV4:
      if (capLen > 0 && buf[off]! >> 4 === 4) {
        out.l3Kind = 'ipv4';
        out.ipOffset = 0;
      }
      return true;
    case LINKTYPE_IPV6:
      if (capLen > 0 && buf[off]! >> 4 === 6) {
        out.l3Kind = 'ipv6';
        out.ipOffset = 0;
      }
      return true;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      rawIp(buf, off, capLen, out, 0);
      return true;
    case LINKTYPE_NULL: {
      // AF in the writer's host byte order; a value with high bits set was written big-endian.
      if (capLen < 4) return true;
      let af = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
      if ((af & 0xffff0000) !== 0) af = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      const kind = kindOfAf(af);
      if (kind !== 'other' && capLen > 4) {
        out.l3Kind = kind;
        out.ipOffset = 4;
      }
      return true;
    }
    case LINKTYPE_LOOP: {
      if (capLen < 4) return true;
      const af = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      const kind = kindOfAf(af);
      if (kind !== 'other' && capLen > 4) {
        out.l3Kind = kind;
        out.ipOffset = 4;
      }
      return true;
    }
    default:
      return false;
  }
}
