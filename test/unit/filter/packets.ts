// Packets for the filter tests: Ethernet frames holding IPv4 TCP (built with the packet layer),
// UDP, SCTP, ICMP and GRE (handmade), with IP options, fragments and truncated captures.
import { Buffer } from 'node:buffer';
import { fillIpv4Checksum, parseIpv4, TCP_SYN, TCP_ACK } from '../../../src/core/packet/index.js';
import { writeSegment } from '../../helpers/packet/build.js';

export const ETH_LEN = 14;

export interface TestPacket {
  /** Ethernet frame; the IPv4 header starts at ETH_LEN. */
  frame: Buffer;
  /** Captured bytes of the frame (≤ frame.length). */
  capLen: number;
  label: string;
}

export interface PacketSpec {
  proto: 'tcp' | 'udp' | 'sctp' | 'icmp' | 'gre';
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** 4-byte IP options (IHL 6). */
  ipOptions?: boolean;
  /** 'first' = MF set, offset 0; 'later' = offset 185 (no transport header). */
  fragment?: 'first' | 'later';
  /** Bytes of the IP packet captured, when shorter than the packet. */
  truncateIpTo?: number;
}

function ip(s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new Error(`bad test address ${s}`);
  return v;
}

function ethHeader(out: Buffer): void {
  Buffer.from('020000000002020000000001', 'hex').copy(out, 0);
  out.writeUInt16BE(0x0800, 12);
}

export function makePacket(spec: PacketSpec): TestPacket {
  const sport = spec.sport ?? 0;
  const dport = spec.dport ?? 0;
  const payload = Buffer.from('payload!');
  let frame: Buffer;
  if (spec.proto === 'tcp' && !spec.ipOptions && spec.fragment === undefined) {
    frame = Buffer.alloc(ETH_LEN + 40 + payload.length);
    ethHeader(frame);
    writeSegment(frame, ETH_LEN, {
      src: ip(spec.src), dst: ip(spec.dst), srcPort: sport, dstPort: dport, seq: 1000, ack: 0,
      flags: TCP_SYN | TCP_ACK, window: 1000, ipId: 7, payload,
    });
  } else {
    const ihl = spec.ipOptions ? 24 : 20;
    const protoNum = { tcp: 6, udp: 17, sctp: 132, icmp: 1, gre: 47 }[spec.proto];
    const l4 = spec.proto === 'tcp' ? 20 : spec.proto === 'sctp' ? 12 : 8;
    const total = ihl + l4 + payload.length;
    frame = Buffer.alloc(ETH_LEN + total);
    ethHeader(frame);
    const o = ETH_LEN;
    frame[o] = 0x40 | (ihl >> 2);
    frame.writeUInt16BE(total, o + 2);
    frame.writeUInt16BE(0x1234, o + 4);
    let fragField = 0x4000;
    if (spec.fragment === 'first') fragField = 0x2000;
    if (spec.fragment === 'later') fragField = 185;
    frame.writeUInt16BE(fragField, o + 6);
    frame[o + 8] = 64;
    frame[o + 9] = protoNum;
    frame.writeUInt32BE(ip(spec.src), o + 12);
    frame.writeUInt32BE(ip(spec.dst), o + 16);
    if (spec.ipOptions) frame.writeUInt32BE(0x01010100, o + 20); // NOP NOP NOP EOL
    const t = o + ihl;
    if (spec.proto === 'tcp' || spec.proto === 'udp' || spec.proto === 'sctp') {
      frame.writeUInt16BE(sport, t);
      frame.writeUInt16BE(dport, t + 2);
    }
    if (spec.proto === 'tcp') frame[t + 12] = 0x50;
    if (spec.proto === 'udp') frame.writeUInt16BE(l4 + payload.length, t + 4);
    if (spec.proto === 'icmp') frame[t] = 8; // echo request
    payload.copy(frame, t + l4);
    fillIpv4Checksum(frame, o);
  }
  const capLen = spec.truncateIpTo === undefined ? frame.length : ETH_LEN + spec.truncateIpTo;
  const label = `${spec.proto} ${spec.src}:${sport} > ${spec.dst}:${dport}${spec.ipOptions ? ' ipopt' : ''}${spec.fragment ? ` frag-${spec.fragment}` : ''}${spec.truncateIpTo !== undefined ? ` cut@${spec.truncateIpTo}` : ''}`;
  return { frame, capLen, label };
}

/** A broad fixed set plus seeded random packets over a small address/port universe. */
export function packetCorpus(): TestPacket[] {
  const fixed: PacketSpec[] = [
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 },
    { proto: 'tcp', src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 80, dport: 80 },
    { proto: 'tcp', src: '1.2.3.4', dst: '5.6.7.8', sport: 443, dport: 51000 },
    { proto: 'tcp', src: '192.168.1.10', dst: '10.1.2.3', sport: 1050, dport: 8080 },
    { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.53', sport: 5353, dport: 53 },
    { proto: 'udp', src: '172.16.5.5', dst: '10.0.0.2', sport: 53, dport: 80 },
    { proto: 'sctp', src: '10.1.200.4', dst: '172.16.5.5', sport: 80, dport: 2905 },
    { proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2' },
    { proto: 'icmp', src: '5.6.7.8', dst: '1.2.3.4' },
    { proto: 'gre', src: '10.2.0.1', dst: '10.0.0.2' },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80, ipOptions: true },
    { proto: 'udp', src: '10.2.3.4', dst: '192.168.1.10', sport: 1100, dport: 1101, ipOptions: true },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40001, dport: 80, fragment: 'first' },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40001, dport: 80, fragment: 'later' },
    { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.53', sport: 53, dport: 53, fragment: 'later' },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40002, dport: 80, truncateIpTo: 21 },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40002, dport: 80, truncateIpTo: 23 },
    { proto: 'udp', src: '1.2.3.4', dst: '10.0.0.2', sport: 22, dport: 22, truncateIpTo: 22 },
    { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40003, dport: 22, truncateIpTo: 12 },
  ];
  const addrs = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '10.1.200.4', '192.168.1.10', '172.16.5.5', '1.2.3.4', '5.6.7.8', '10.2.9.9'];
  const ports = [80, 443, 8080, 22, 53, 1000, 1049, 1050, 1100, 1101, 40000];
  const protos: PacketSpec['proto'][] = ['tcp', 'tcp', 'tcp', 'udp', 'udp', 'sctp', 'icmp', 'gre'];
  let seed = 0x5eed;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T;
  const random: PacketSpec[] = [];
  for (let k = 0; k < 100; k++) {
    random.push({ proto: pick(protos), src: pick(addrs), dst: pick(addrs), sport: pick(ports), dport: pick(ports), ipOptions: rnd(8) === 0 });
  }
  return [...fixed, ...random].map(makePacket);
}
