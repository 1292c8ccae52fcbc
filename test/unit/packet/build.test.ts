import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildAck,
  buildData,
  buildRst,
  buildSegment,
  buildSyn,
  segmentLength,
  writeSegment,
  type SegmentSpec,
} from '../../helpers/packet/build.js';
import { classifyIpv4 } from '../../../src/core/packet/classify.js';
import { verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/checksum.js';
import { newTcpOptions, parseTcpOptions, type OptionSpec } from '../../../src/core/packet/options.js';
import { SegmentView } from '../../../src/core/packet/segment.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/core/packet/tcp.js';
import { kernelPackets } from './fixtures.js';

const base = {
  src: 0x0a4d0001,
  dst: 0x0a4d0002,
  srcPort: 48184,
  dstPort: 8080,
  seq: 0xfffffff0,
  ack: 17,
  window: 29200,
  ipId: 0xbeef,
};

function check(pkt: Buffer, spec: SegmentSpec, flags: number, payload: Buffer | null): void {
  assert.equal(classifyIpv4(pkt, 0, pkt.length), 'tcp');
  assert.ok(verifyIpv4Checksum(pkt, 0), 'IP checksum verifies');
  assert.ok(verifyTcpChecksum(pkt, 0), 'TCP checksum verifies');
  const { ip, tcp } = new SegmentView().wrap(pkt, 0);
  assert.equal(ip.version, 4);
  assert.equal(ip.ihl, 5);
  assert.equal(ip.totalLength, pkt.length);
  assert.equal(ip.id, spec.ipId);
  assert.equal(ip.ttl, spec.ttl ?? 64);
  assert.equal(ip.tos, spec.tos ?? 0);
  assert.equal(ip.df, spec.df ?? true);
  assert.equal(ip.mf, false);
  assert.equal(ip.fragOffset, 0);
  assert.equal(ip.protocol, 6);
  assert.equal(ip.src, spec.src);
  assert.equal(ip.dst, spec.dst);
  assert.equal(tcp.srcPort, spec.srcPort);
  assert.equal(tcp.dstPort, spec.dstPort);
  assert.equal(tcp.seq, spec.seq);
  assert.equal(tcp.ack, spec.ack);
  assert.equal(tcp.flags, flags);
  assert.equal(tcp.window, spec.window);
  assert.equal(tcp.urgent, 0);
  assert.equal(pkt[32]! & 0x0f, 0, 'reserved bits zero');
  assert.equal(tcp.headerLength % 4, 0);
  const body = pkt.subarray(tcp.payloadOffset);
  assert.deepEqual(body, payload ?? Buffer.alloc(0));
}

test('buildSyn: Linux-style options, header lengths, checksums', () => {
  const options: OptionSpec = { mss: 1460, sackOk: true, ts: { val: 123456, ecr: 0 }, wscale: 7 };
  const spec = { ...base, ack: 0, options };
  const pkt = buildSyn(spec);
  check(pkt, { ...spec, flags: TCP_SYN }, TCP_SYN, null);
  assert.equal(pkt.length, 60);
  assert.equal(pkt[32]! >>> 4, 10, 'data offset 10 words');
  const o = parseTcpOptions(pkt, 40, 60, newTcpOptions());
  assert.deepEqual([o.mss, o.sackOk, o.hasTs, o.tsVal, o.tsEcr, o.wscale], [1460, true, true, 123456, 0, 7]);
  const synAck = buildSyn({ ...spec, flags: TCP_ACK });
  assert.equal(synAck[33], TCP_SYN | TCP_ACK);
  assert.ok(verifyTcpChecksum(synAck, 0));
});

test('buildAck: pure ACK, payload dropped', () => {
  const spec = { ...base, payload: Buffer.from('ignored'), options: { ts: { val: 5, ecr: 6 } } };
  const pkt = buildAck(spec);
  check(pkt, { ...spec, flags: TCP_ACK }, TCP_ACK, null);
  assert.equal(pkt.length, 52);
  const fin = buildAck({ ...base, flags: TCP_FIN });
  assert.equal(fin[33], TCP_FIN | TCP_ACK);
  assert.equal(fin.length, 40);
});

test('buildRst and buildData', () => {
  const rst = buildRst({ ...base, window: 0, ttl: 255, df: false, payload: Buffer.from('x') });
  check(rst, { ...base, window: 0, ttl: 255, df: false, flags: TCP_RST }, TCP_RST, null);
  const rstAck = buildRst({ ...base, flags: TCP_ACK });
  assert.equal(rstAck[33], TCP_RST | TCP_ACK);
  const payload = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n!'); // odd length
  const data = buildData({ ...base, tos: 0x10, payload, options: { ts: { val: 1, ecr: 2 } } });
  check(data, { ...base, tos: 0x10, flags: TCP_ACK | TCP_PSH }, TCP_ACK | TCP_PSH, payload);
  assert.equal(new SegmentView().wrap(data, 0).seqEnd, (base.seq + payload.length) >>> 0, 'seqEnd wraps');
});

test('payload may be a subarray view of a bigger capture', () => {
  const capture = Buffer.from('....the payload bytes....');
  const view = capture.subarray(4, 21);
  const pkt = buildData({ ...base, payload: view });
  assert.equal(pkt.subarray(40).toString(), 'the payload bytes');
  assert.ok(verifyTcpChecksum(pkt, 0));
});

test('writeSegment writes at an offset into a reused buffer and returns the length', () => {
  const out = Buffer.alloc(200, 0xaa);
  const spec: SegmentSpec = { ...base, flags: TCP_ACK, options: { sack: [[1, 2], [3, 4]] }, payload: Buffer.from('abc') };
  const n = writeSegment(out, 14, spec);
  assert.equal(n, segmentLength(spec));
  assert.equal(n, 20 + 20 + 20 + 3);
  assert.equal(out[13], 0xaa);
  assert.equal(out[14 + n], 0xaa);
  assert.equal(classifyIpv4(out, 14, n), 'tcp');
  assert.ok(verifyIpv4Checksum(out, 14));
  assert.ok(verifyTcpChecksum(out, 14));
  // Reuse: a second, smaller segment into the same buffer is self-consistent.
  const n2 = writeSegment(out, 14, { ...base, flags: TCP_ACK });
  assert.equal(n2, 40);
  assert.ok(verifyTcpChecksum(out, 14));
  assert.deepEqual(out.subarray(14, 54), buildAck(base));
});

test('writeSegment refuses a buffer that is too small or a packet over 65535 bytes', () => {
  assert.throws(() => writeSegment(Buffer.alloc(39), 0, { ...base, flags: TCP_ACK }), /does not fit in buffer of 39/);
  assert.throws(() => writeSegment(Buffer.alloc(60), 30, { ...base, flags: TCP_ACK }), /at offset 30/);
  assert.throws(() => buildData({ ...base, payload: Buffer.alloc(65500) }), /exceeds the IPv4 maximum/);
});

test('rebuilding every kernel-made TCP packet from its decoded fields gives the same bytes', () => {
  const seg = new SegmentView();
  const o = newTcpOptions();
  for (const [i, pkt] of kernelPackets().slice(0, 12).entries()) {
    const { ip, tcp } = seg.wrap(pkt, 0);
    parseTcpOptions(pkt, tcp.optionsOffset, tcp.payloadOffset, o);
    const spec: SegmentSpec = {
      src: ip.src,
      dst: ip.dst,
      srcPort: tcp.srcPort,
      dstPort: tcp.dstPort,
      seq: tcp.seq,
      ack: tcp.ack,
      flags: tcp.flags,
      window: tcp.window,
      ipId: ip.id,
      ttl: ip.ttl,
      tos: ip.tos,
      df: ip.df,
      options: {
        mss: o.mss,
        wscale: o.wscale,
        sackOk: o.sackOk,
        ...(o.hasTs ? { ts: { val: o.tsVal, ecr: o.tsEcr } } : {}),
      },
      payload: pkt.subarray(seg.payloadOffset, seg.payloadOffset + seg.payloadLength),
    };
    assert.deepEqual(buildSegment(spec), pkt, `packet ${i + 1} (the kernel's checksums included)`);
  }
});
