import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyIpv4 } from '../../../src/core/packet/classify.js';
import { ipv4HeaderChecksum, tcpChecksum, verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/checksum.js';
import { ipToString } from '../../../src/core/packet/ipv4.js';
import { newTcpOptions, parseTcpOptions } from '../../../src/core/packet/options.js';
import { SegmentView } from '../../../src/core/packet/segment.js';
import { flagsToString } from '../../../src/core/packet/tcp.js';
import { kernelPackets } from './fixtures.js';

// Expected values transcribed once from `tcpdump -nn -vv -S -r kernel-http.pcap`
// (test/fixtures/packets/kernel-http.tcpdump.txt), which reported every checksum "(correct)".
interface Want {
  id: number;
  len: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: string;
  cksum: number;
  seq: number;
  ack: number | null;
  win: number;
  payload: number;
  opts: { mss?: number; wscale?: number; sackOk?: boolean; tsVal: number; tsEcr: number };
}

const C = '10.77.0.1';
const S = '10.77.0.2';
const CP = 48184;
const TCP_WANT: Want[] = [
  { id: 35681, len: 60, src: C, dst: S, sport: CP, dport: 8080, flags: 'S', cksum: 0xbd5a, seq: 2857887250, ack: null, win: 64240, payload: 0, opts: { mss: 1460, sackOk: true, wscale: 10, tsVal: 1984207005, tsEcr: 0 } },
  { id: 0, len: 60, src: S, dst: C, sport: 8080, dport: CP, flags: 'S.', cksum: 0xb515, seq: 3169744068, ack: 2857887251, win: 65160, payload: 0, opts: { mss: 1460, sackOk: true, wscale: 10, tsVal: 3590847712, tsEcr: 1984207005 } },
  { id: 35682, len: 52, src: C, dst: S, sport: CP, dport: 8080, flags: '.', cksum: 0xe22e, seq: 2857887251, ack: 3169744069, win: 63, payload: 0, opts: { tsVal: 1984207005, tsEcr: 3590847712 } },
  { id: 35683, len: 139, src: C, dst: S, sport: CP, dport: 8080, flags: 'P.', cksum: 0x9b84, seq: 2857887251, ack: 3169744069, win: 63, payload: 87, opts: { tsVal: 1984207005, tsEcr: 3590847712 } },
  { id: 31949, len: 52, src: S, dst: C, sport: 8080, dport: CP, flags: '.', cksum: 0xe1d6, seq: 3169744069, ack: 2857887338, win: 64, payload: 0, opts: { tsVal: 3590847712, tsEcr: 1984207005 } },
  { id: 31950, len: 238, src: S, dst: C, sport: 8080, dport: CP, flags: 'P.', cksum: 0x6ec1, seq: 3169744069, ack: 2857887338, win: 64, payload: 186, opts: { tsVal: 3590847716, tsEcr: 1984207005 } },
  { id: 35684, len: 52, src: C, dst: S, sport: CP, dport: 8080, flags: '.', cksum: 0xe115, seq: 2857887338, ack: 3169744255, win: 63, payload: 0, opts: { tsVal: 1984207009, tsEcr: 3590847716 } },
  { id: 31951, len: 82, src: S, dst: C, sport: 8080, dport: CP, flags: 'P.', cksum: 0x238f, seq: 3169744255, ack: 2857887338, win: 64, payload: 30, opts: { tsVal: 3590847716, tsEcr: 1984207009 } },
  { id: 35685, len: 52, src: C, dst: S, sport: CP, dport: 8080, flags: '.', cksum: 0xe0f7, seq: 2857887338, ack: 3169744285, win: 63, payload: 0, opts: { tsVal: 1984207009, tsEcr: 3590847716 } },
  { id: 35686, len: 52, src: C, dst: S, sport: CP, dport: 8080, flags: 'F.', cksum: 0xe0f6, seq: 2857887338, ack: 3169744285, win: 63, payload: 0, opts: { tsVal: 1984207009, tsEcr: 3590847716 } },
  { id: 31952, len: 52, src: S, dst: C, sport: 8080, dport: CP, flags: 'F.', cksum: 0xe0f4, seq: 3169744285, ack: 2857887339, win: 64, payload: 0, opts: { tsVal: 3590847716, tsEcr: 1984207009 } },
  { id: 35687, len: 52, src: C, dst: S, sport: CP, dport: 8080, flags: '.', cksum: 0xe0f5, seq: 2857887339, ack: 3169744286, win: 63, payload: 0, opts: { tsVal: 1984207009, tsEcr: 3590847716 } },
];

test('the fixture holds the 12 TCP packets and 4 UDP packets tcpdump printed', () => {
  assert.equal(kernelPackets().length, 16);
});

test('views decode kernel-made TCP packets to what tcpdump printed', () => {
  const pkts = kernelPackets();
  const seg = new SegmentView();
  const opts = newTcpOptions();
  TCP_WANT.forEach((w, i) => {
    const buf = pkts[i] as Buffer;
    const at = `packet ${i + 1}`;
    assert.equal(classifyIpv4(buf, 0, buf.length), 'tcp', at);
    const { ip, tcp } = seg.wrap(buf, 0);
    assert.equal(ip.version, 4, at);
    assert.equal(ip.headerLength, 20, at);
    assert.equal(ip.tos, 0, at);
    assert.equal(ip.ttl, 64, at);
    assert.equal(ip.df, true, at);
    assert.equal(ip.mf, false, at);
    assert.equal(ip.fragOffset, 0, at);
    assert.equal(ip.protocol, 6, at);
    assert.equal(ip.id, w.id, at);
    assert.equal(ip.totalLength, w.len, at);
    assert.equal(ipToString(ip.src), w.src, at);
    assert.equal(ipToString(ip.dst), w.dst, at);
    assert.equal(tcp.srcPort, w.sport, at);
    assert.equal(tcp.dstPort, w.dport, at);
    assert.equal(flagsToString(tcp.flags), w.flags, at);
    assert.equal(tcp.checksum, w.cksum, at);
    assert.equal(tcp.seq, w.seq, at);
    if (w.ack !== null) assert.equal(tcp.ack, w.ack, at);
    assert.equal(tcp.window, w.win, at);
    assert.equal(tcp.urgent, 0, at);
    assert.equal(seg.payloadLength, w.payload, at);
    parseTcpOptions(buf, tcp.optionsOffset, tcp.payloadOffset, opts);
    assert.equal(opts.malformed, false, at);
    assert.equal(opts.mss, w.opts.mss ?? -1, at);
    assert.equal(opts.wscale, w.opts.wscale ?? -1, at);
    assert.equal(opts.sackOk, w.opts.sackOk ?? false, at);
    assert.equal(opts.hasTs, true, at);
    assert.equal(opts.tsVal, w.opts.tsVal, at);
    assert.equal(opts.tsEcr, w.opts.tsEcr, at);
    // tcpdump said "(correct)" for both sums: ours must agree and recompute the same values.
    assert.ok(verifyIpv4Checksum(buf, 0), at);
    assert.ok(verifyTcpChecksum(buf, 0), at);
    assert.equal(tcpChecksum(buf, 0), w.cksum, at);
    assert.equal(ipv4HeaderChecksum(buf, 0), ip.checksum, at);
  });
  // Sequence-space lengths chain: each client segment starts where the previous one ended.
  const syn = seg.wrap(pkts[0] as Buffer, 0).seqEnd;
  assert.equal(syn, 2857887251);
  assert.equal(seg.wrap(pkts[3] as Buffer, 0).seqEnd, 2857887338);
  assert.equal(seg.wrap(pkts[9] as Buffer, 0).seqEnd, 2857887339, 'FIN counts one');
});

test('kernel-made UDP packet and fragments are recognised, not misparsed', () => {
  const pkts = kernelPackets();
  const [udp, frag1, frag2, frag3] = pkts.slice(12) as [Buffer, Buffer, Buffer, Buffer];
  // tcpdump: id 25853 UDP length 37; id 25854 offset 0 flags [+], offset 1480 [+], offset 2960 [none].
  assert.equal(classifyIpv4(udp, 0, udp.length), 'not-tcp');
  assert.equal(udp.readUInt16BE(4), 25853);
  for (const [b, off, mf, len] of [
    [frag1, 0, true, 1500],
    [frag2, 1480, true, 1500],
    [frag3, 2960, false, 68],
  ] as const) {
    assert.equal(classifyIpv4(b, 0, b.length), 'fragment');
    const seg = new SegmentView().wrap(b, 0);
    assert.equal(seg.ip.isFragment, true);
    assert.equal(seg.ip.mf, mf);
    assert.equal(seg.ip.fragOffset * 8, off);
    assert.equal(seg.ip.totalLength, len);
    assert.equal(seg.ip.id, 25854);
    assert.equal(seg.ip.protocol, 17);
    assert.ok(verifyIpv4Checksum(b, 0));
  }
});
