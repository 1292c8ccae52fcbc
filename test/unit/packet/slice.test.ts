import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildData } from '../../helpers/packet/build.js';
import { classifyIpv4 } from '../../../src/core/packet/classify.js';
import { verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/checksum.js';
import { newTcpOptions, parseTcpOptions } from '../../../src/core/packet/options.js';
import { SegmentView } from '../../../src/core/packet/segment.js';
import { copySegmentSlice } from '../../helpers/packet/slice.js';
import { TCP_ACK, TCP_FIN, TCP_PSH } from '../../../src/core/packet/tcp.js';

const payload = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 13) & 0xff));
const big = buildData({
  src: 0x0a000001,
  dst: 0x0a000002,
  srcPort: 5555,
  dstPort: 80,
  seq: 0xfffff000, // pieces cross the 2^32 wrap
  ack: 99,
  window: 1000,
  ipId: 77,
  ttl: 50,
  flags: TCP_FIN,
  options: { ts: { val: 10, ecr: 20 } },
  payload,
});

test('cutting a big segment into MTU pieces: payload, seq, FIN, checksums', () => {
  const out = Buffer.alloc(1600);
  const seg = new SegmentView();
  const o = newTcpOptions();
  const mss = 1448;
  const got: Buffer[] = [];
  for (let from = 0; from < payload.length; from += mss) {
    const len = Math.min(mss, payload.length - from);
    const n = copySegmentSlice(out, 0, big, 0, from, len);
    const p = out.subarray(0, n);
    assert.equal(classifyIpv4(p, 0, n), 'tcp');
    assert.ok(verifyIpv4Checksum(p, 0) && verifyTcpChecksum(p, 0));
    const { ip, tcp } = seg.wrap(p, 0);
    assert.equal(ip.totalLength, 52 + len);
    assert.ok(ip.totalLength <= 1500);
    assert.deepEqual([ip.id, ip.ttl, ip.df, tcp.ack, tcp.window], [77, 50, true, 99, 1000]);
    assert.equal(tcp.seq, (0xfffff000 + from) >>> 0);
    const last = from + len === payload.length;
    assert.equal(tcp.flags, TCP_ACK | TCP_PSH | (last ? TCP_FIN : 0));
    parseTcpOptions(p, tcp.optionsOffset, tcp.payloadOffset, o);
    assert.deepEqual([o.tsVal, o.tsEcr], [10, 20]);
    got.push(Buffer.from(p.subarray(seg.payloadOffset)));
  }
  assert.equal(got.length, 3);
  assert.deepEqual(Buffer.concat(got), payload);
});

test('a zero-length slice and bad ranges', () => {
  const out = Buffer.alloc(100);
  assert.equal(copySegmentSlice(out, 3, big, 0, 4000, 0), 52);
  assert.ok(verifyTcpChecksum(out, 3));
  assert.equal(out[3 + 33], TCP_ACK | TCP_PSH | TCP_FIN, 'an empty tail piece keeps FIN');
  assert.throws(() => copySegmentSlice(out, 0, big, 0, 3999, 2), /outside the 4000-byte payload/);
  assert.throws(() => copySegmentSlice(out, 0, big, 0, -1, 2), /outside/);
  assert.throws(() => copySegmentSlice(out, 0, big, 0, 0, 100), /does not fit in buffer of 100/);
});
