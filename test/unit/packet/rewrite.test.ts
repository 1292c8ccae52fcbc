import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildData } from '../../helpers/packet/build.js';
import { fillIpv4Checksum, fillTcpChecksum, verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/checksum.js';
import { newTcpOptions, parseTcpOptions, timestampOffset } from '../../../src/core/packet/options.js';
import {
  rewriteAck,
  rewriteDstAddr,
  rewriteDstPort,
  rewriteIpId,
  rewriteSeq,
  rewriteSrcAddr,
  rewriteSrcPort,
  rewriteTcpU16,
  rewriteTimestamps,
  rewriteTtl,
  rewriteWindow,
} from '../../helpers/packet/rewrite.js';
import { SegmentView } from '../../../src/core/packet/segment.js';
import { kernelPackets } from './fixtures.js';
import { prng, randInt, randU32 } from '../../helpers/prng.js';

/** Both checksums as stored equal a full recompute. */
function assertSums(pkt: Buffer, off: number, msg: string): void {
  const copy = Buffer.from(pkt);
  fillIpv4Checksum(copy, off);
  fillTcpChecksum(copy, off);
  assert.equal(pkt.readUInt16BE(off + 10), copy.readUInt16BE(off + 10), `${msg}: IP checksum`);
  const t = off + ((pkt[off]! & 15) << 2) + 16;
  assert.equal(pkt.readUInt16BE(t), copy.readUInt16BE(t), `${msg}: TCP checksum`);
}

test('every rewrite on kernel packets keeps both checksums equal to a full recompute', () => {
  const rand = prng(0x2e);
  const seg = new SegmentView();
  const o = newTcpOptions();
  for (let round = 0; round < 300; round++) {
    for (const [i, orig] of kernelPackets().slice(0, 12).entries()) {
      const off = round % 3 === 0 ? 0 : 14;
      const pkt = Buffer.concat([Buffer.alloc(off, 0x11), orig]);
      const at = `round ${round} packet ${i + 1}`;
      const v = {
        src: randU32(rand),
        dst: randU32(rand),
        sport: randInt(rand, 65536),
        dport: randInt(rand, 65536),
        seq: randU32(rand),
        ack: randU32(rand),
        win: randInt(rand, 65536),
        ttl: randInt(rand, 256),
        id: randInt(rand, 65536),
        tsv: randU32(rand),
        tse: randU32(rand),
      };
      rewriteSrcAddr(pkt, off, v.src);
      rewriteDstAddr(pkt, off, v.dst);
      rewriteSrcPort(pkt, off, v.sport);
      rewriteDstPort(pkt, off, v.dport);
      rewriteSeq(pkt, off, v.seq);
      rewriteAck(pkt, off, v.ack);
      rewriteWindow(pkt, off, v.win);
      rewriteTtl(pkt, off, v.ttl);
      rewriteIpId(pkt, off, v.id);
      const { ip, tcp } = seg.wrap(pkt, off);
      const ts = timestampOffset(pkt, tcp.optionsOffset, tcp.payloadOffset);
      assert.ok(ts > 0);
      rewriteTimestamps(pkt, off, ts, v.tsv, v.tse);
      assertSums(pkt, off, at);
      assert.ok(verifyIpv4Checksum(pkt, off) && verifyTcpChecksum(pkt, off), at);
      assert.deepEqual(
        [ip.src, ip.dst, tcp.srcPort, tcp.dstPort, tcp.seq, tcp.ack, tcp.window, ip.ttl, ip.id, ip.protocol],
        [v.src, v.dst, v.sport, v.dport, v.seq, v.ack, v.win, v.ttl, v.id, 6],
        at,
      );
      parseTcpOptions(pkt, tcp.optionsOffset, tcp.payloadOffset, o);
      assert.deepEqual([o.tsVal, o.tsEcr], [v.tsv, v.tse], at);
      // The payload is untouched.
      assert.deepEqual(pkt.subarray(seg.payloadOffset), orig.subarray(seg.payloadOffset - off), at);
    }
  }
});

test('timestamps on an odd offset (single NOP before TS) and an MSS rewrite stay valid', () => {
  const pkt = buildData({
    src: 1,
    dst: 2,
    srcPort: 3,
    dstPort: 4,
    seq: 5,
    ack: 6,
    window: 7,
    ipId: 8,
    payload: Buffer.from('odd'),
  });
  // Hand-build options: NOP TS(10) MSS(4) NOP → 16 bytes, TS kind at odd position 41.
  const opts = Buffer.from('01080a0000000100000002020405b401', 'hex');
  const p = Buffer.concat([pkt.subarray(0, 40), opts, pkt.subarray(40)]);
  p.writeUInt16BE(p.length, 2);
  p[32] = (36 / 4) << 4;
  fillIpv4Checksum(p, 0);
  fillTcpChecksum(p, 0);
  const ts = timestampOffset(p, 40, 56);
  assert.equal(ts, 41);
  const rand = prng(41);
  for (let i = 0; i < 2000; i++) {
    rewriteTimestamps(p, 0, ts, randU32(rand), randU32(rand));
    rewriteTcpU16(p, 0, 40 + 13, randInt(rand, 65536)); // MSS value, odd offset too
    assertSums(p, 0, `iteration ${i}`);
  }
});

test('rewriting a field to its current value changes nothing', () => {
  const pkt = Buffer.from(kernelPackets()[3]!);
  const before = Buffer.from(pkt);
  const seg = new SegmentView().wrap(pkt, 0);
  rewriteSeq(pkt, 0, seg.tcp.seq);
  rewriteDstAddr(pkt, 0, seg.ip.dst);
  rewriteDstPort(pkt, 0, seg.tcp.dstPort);
  assert.deepEqual(pkt, before);
});
