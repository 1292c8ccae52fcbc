import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  csumReplace16,
  csumReplace32,
  fillIpv4Checksum,
  fillTcpChecksum,
  ipv4HeaderChecksum,
  onesSum,
  patchU16,
  patchU32,
  tcpChecksum,
  verifyIpv4Checksum,
  verifyTcpChecksum,
} from '../../../src/core/packet/checksum.js';
import { buildSegment } from '../../helpers/packet/build.js';
import { kernelPackets } from './fixtures.js';
import { prng, randBytes, randInt, randU32 } from '../../helpers/prng.js';

/** Reference: RFC 1071 sum with an end-around carry on every 16-bit word, written independently. */
function refSum(b: Buffer, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) {
    const w = ((b[off + i] as number) << 8) | (i + 1 < len ? (b[off + i + 1] as number) : 0);
    s += w;
    if (s > 0xffff) s = (s & 0xffff) + 1;
  }
  return s;
}

function refTcpChecksum(pkt: Buffer): number {
  const hl = ((pkt[0] as number) & 15) * 4;
  const tcpLen = pkt.readUInt16BE(2) - hl;
  const pseudo = Buffer.alloc(12 + tcpLen);
  pkt.copy(pseudo, 0, 12, 20);
  pseudo[9] = pkt[9] as number;
  pseudo.writeUInt16BE(tcpLen, 10);
  pkt.copy(pseudo, 12, hl, hl + tcpLen);
  pseudo.writeUInt16BE(0, 12 + 16);
  return ~refSum(pseudo, 0, pseudo.length) & 0xffff;
}

test('onesSum: RFC 1071 §3 example and odd lengths', () => {
  const b = Buffer.from('0001f203f4f5f6f7', 'hex');
  assert.equal(onesSum(b, 0, 8), 0xddf2);
  assert.equal(onesSum(Buffer.from('ff', 'hex'), 0, 1), 0xff00);
  assert.equal(onesSum(Buffer.from('0102030405', 'hex'), 0, 5), 0x0102 + 0x0304 + 0x0500);
  assert.equal(onesSum(b, 2, 0), 0);
  assert.equal(onesSum(b, 0, 0, 0x1ffff), 1, 'initial is folded too');
  const rand = prng(0xc5);
  for (let i = 0; i < 3000; i++) {
    const buf = randBytes(rand, 1 + randInt(rand, 300));
    const off = randInt(rand, buf.length);
    const len = randInt(rand, buf.length - off + 1);
    const r = refSum(buf, off, len);
    assert.equal(onesSum(buf, off, len), r, `case ${i}`);
  }
  // Large inputs (sum > 2^32) still fold exactly.
  const big = Buffer.alloc(200000, 0xff);
  assert.equal(onesSum(big, 0, big.length), 0xffff);
});

test('IPv4 and TCP checksums of kernel packets: recompute, verify, detect corruption', () => {
  for (const [i, pkt] of kernelPackets().slice(0, 12).entries()) {
    assert.equal(ipv4HeaderChecksum(pkt, 0), pkt.readUInt16BE(10), `ip ${i}`);
    assert.equal(tcpChecksum(pkt, 0), pkt.readUInt16BE(36), `tcp ${i}`);
    assert.equal(tcpChecksum(pkt, 0), refTcpChecksum(pkt), `ref ${i}`);
    const copy = Buffer.from(pkt);
    copy.writeUInt16BE(0x1234, 10);
    copy.writeUInt16BE(0x5678, 36);
    assert.ok(!verifyIpv4Checksum(copy, 0));
    assert.ok(!verifyTcpChecksum(copy, 0));
    assert.equal(ipv4HeaderChecksum(copy, 0), pkt.readUInt16BE(10), 'stored value ignored');
    assert.equal(tcpChecksum(copy, 0), pkt.readUInt16BE(36), 'stored value ignored');
    fillIpv4Checksum(copy, 0);
    fillTcpChecksum(copy, 0);
    assert.deepEqual(copy, pkt);
    copy[copy.length - 1] = ((copy[copy.length - 1] as number) + 1) & 0xff;
    assert.ok(!verifyTcpChecksum(copy, 0), 'a flipped last byte is caught');
    assert.ok(verifyIpv4Checksum(copy, 0));
  }
});

test('checksums at a non-zero offset (Ethernet header in front)', () => {
  const pkt = kernelPackets()[3] as Buffer;
  const framed = Buffer.concat([Buffer.alloc(14, 0xab), pkt, Buffer.alloc(6, 0xcd)]);
  assert.ok(verifyIpv4Checksum(framed, 14));
  assert.ok(verifyTcpChecksum(framed, 14));
  assert.equal(tcpChecksum(framed, 14), pkt.readUInt16BE(36));
});

function randomPacket(rand: () => number): Buffer {
  const opt = randInt(rand, 11) * 4;
  const payload = randBytes(rand, randInt(rand, 4) === 0 ? 0 : randInt(rand, 200));
  const pkt = buildSegment({
    src: randU32(rand),
    dst: randU32(rand),
    srcPort: randInt(rand, 65536),
    dstPort: randInt(rand, 65536),
    seq: randU32(rand),
    ack: randU32(rand),
    flags: randInt(rand, 256),
    window: randInt(rand, 65536),
    ipId: randInt(rand, 65536),
    ttl: randInt(rand, 256),
    payload,
  });
  if (opt === 0) return pkt;
  // Splice in random option bytes (the checksum code does not care what they mean).
  const out = Buffer.concat([pkt.subarray(0, 40), randBytes(rand, opt), pkt.subarray(40)]);
  out.writeUInt16BE(out.length, 2);
  out[32] = ((20 + opt) / 4) << 4;
  fillIpv4Checksum(out, 0);
  fillTcpChecksum(out, 0);
  return out;
}

test('RFC 1624 incremental update equals a full recompute on thousands of random rewrites', () => {
  const rand = prng(0x1624);
  for (let i = 0; i < 5000; i++) {
    const pkt = randomPacket(rand);
    const tcpLen = pkt.length - 20;
    // Several rewrites in a row, at any offset of the TCP segment (odd ones too) except the checksum.
    for (let k = 0; k < 4; k++) {
      let at: number;
      do at = 20 + randInt(rand, tcpLen - 3);
      while (at + 4 > 36 && at < 38);
      if (randInt(rand, 2) === 0) patchU16(pkt, at, randInt(rand, 65536), 36, 20);
      else patchU32(pkt, at, randU32(rand), 36, 20);
      const stored = pkt.readUInt16BE(36);
      assert.equal(stored, refTcpChecksum(pkt), `packet ${i} rewrite ${k} at ${at}`);
      assert.ok(verifyTcpChecksum(pkt, 0));
    }
    // The IP header too (ID, TTL+protocol word, addresses).
    patchU16(pkt, 4, randInt(rand, 65536), 10, 0);
    patchU32(pkt, 12, randU32(rand), 10, 0);
    assert.ok(verifyIpv4Checksum(pkt, 0), `ip ${i}`);
    assert.equal(pkt.readUInt16BE(10), ipv4HeaderChecksum(pkt, 0));
  }
});

test('the −0/+0 case: rewrites that make the checksum 0x0000 and back', () => {
  // A full recompute stores 0x0000 when the data sums to 0xffff; the HC + m + ~m' shortcut
  // (RFC 1624 eqn. 2 done naively) would store 0xffff there instead.
  const rand = prng(0x0);
  for (let i = 0; i < 500; i++) {
    const pkt = randomPacket(rand);
    // A word after the fixed header (options/payload), or the seq field when there is none.
    const at = pkt.length > 42 ? 40 : 24;
    const c = pkt.readUInt16BE(36);
    const old = pkt.readUInt16BE(at);
    // Adding c to this word (ones' complement) brings the sum to 0xffff, hence checksum 0.
    let w = old + c;
    w = (w & 0xffff) + (w >>> 16);
    patchU16(pkt, at, w, 36, 20);
    assert.equal(refTcpChecksum(pkt), 0, `reference says 0 (case ${i})`);
    assert.equal(pkt.readUInt16BE(36), 0, `incremental gives +0, not 0xffff (case ${i})`);
    assert.ok(verifyTcpChecksum(pkt, 0));
    // And back out of zero.
    patchU16(pkt, at, old, 36, 20);
    assert.equal(pkt.readUInt16BE(36), c);
  }
  // Replacing a word by itself changes nothing, including a stored 0x0000.
  assert.equal(csumReplace16(0x0000, 0x1234, 0x1234), 0x0000);
  // Sum 0x0001 (stored 0xfffe) plus one more: sum 0x0002, stored 0xfffd.
  assert.equal(csumReplace16(0xfffe, 0x0000, 0x0001), 0xfffd);
  assert.equal(csumReplace32(0x1234, 0xdeadbeef, 0xdeadbeef), 0x1234);
});

test('csumReplace32 equals two csumReplace16 calls', () => {
  const rand = prng(32);
  for (let i = 0; i < 10000; i++) {
    const c = randInt(rand, 0xffff); // a stored checksum is never 0xffff for non-zero data
    const o = randU32(rand);
    const n = randU32(rand);
    const two = csumReplace16(csumReplace16(c, o >>> 16, n >>> 16), o & 0xffff, n & 0xffff);
    assert.equal(csumReplace32(c, o, n), two);
  }
});
