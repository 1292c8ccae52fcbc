import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyIpv4, type PacketKind } from '../../../src/core/packet/classify.js';
import { buildData, buildSyn } from '../../helpers/packet/build.js';
import { fillIpv4Checksum } from '../../../src/core/packet/checksum.js';
import { newTcpOptions, parseTcpOptions } from '../../../src/core/packet/options.js';
import { SegmentView } from '../../../src/core/packet/segment.js';
import { prng, randBytes, randInt } from '../../helpers/prng.js';

const base = {
  src: 0x0a000001,
  dst: 0x0a000002,
  srcPort: 40000,
  dstPort: 80,
  seq: 1000,
  ack: 2000,
  window: 500,
  ipId: 1,
};

function data(): Buffer {
  return buildData({ ...base, options: { ts: { val: 1, ecr: 2 } }, payload: Buffer.from('hello world') });
}

function mutate(fn: (b: Buffer) => void): Buffer {
  const b = data();
  fn(b);
  fillIpv4Checksum(b, 0);
  return b;
}

const kind = (b: Buffer, capLen = b.length, off = 0): PacketKind => classifyIpv4(b, off, capLen);

test('a well-formed TCP packet is tcp, also behind a link header and with trailing padding', () => {
  const b = data();
  assert.equal(kind(b), 'tcp');
  const framed = Buffer.concat([Buffer.alloc(14, 0xff), b, Buffer.alloc(9)]);
  assert.equal(kind(framed, framed.length - 14, 14), 'tcp');
  const syn = buildSyn({ ...base, options: { mss: 1460 } });
  assert.equal(kind(syn), 'tcp');
});

test('short buffers and truncated captures are short', () => {
  const b = data();
  for (const n of [0, 1, 19]) assert.equal(kind(b.subarray(0, n)), 'short', `${n} bytes`);
  assert.equal(kind(b, 19), 'short', 'capLen below 20');
  assert.equal(kind(b, b.length - 1), 'short', 'total length > capture');
  assert.equal(kind(b.subarray(0, 30)), 'short');
  assert.equal(kind(b, 1000), 'tcp', 'capLen larger than the buffer is clamped');
  assert.equal(kind(b, b.length, b.length - 10), 'short', 'offset near the end');
  assert.equal(kind(Buffer.alloc(0), 100, 5), 'short', 'offset past the end');
  const withOpts = mutate((x) => {
    x[0] = 0x4f; // IHL 15 = 60 bytes, more than captured below
  });
  assert.equal(kind(withOpts.subarray(0, 40)), 'short');
});

test('version, IHL and length faults', () => {
  assert.equal(kind(mutate((b) => (b[0] = 0x65))), 'not-ipv4');
  assert.equal(kind(mutate((b) => (b[0] = 0x05))), 'not-ipv4');
  for (const ihl of [0, 1, 4]) assert.equal(kind(mutate((b) => (b[0] = 0x40 | ihl))), 'bad-ihl', `ihl ${ihl}`);
  assert.equal(kind(mutate((b) => b.writeUInt16BE(19, 2))), 'bad-length', 'total < header');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(39, 2))), 'bad-length', 'no room for a TCP header');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(20, 2))), 'bad-length', 'IP header only');
});

test('fragments (MF set or offset ≠ 0) of any protocol are fragment', () => {
  assert.equal(kind(mutate((b) => (b[6] = 0x20))), 'fragment', 'MF, offset 0');
  assert.equal(kind(mutate((b) => (b[6] = 0x60))), 'fragment', 'DF+MF');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(0x00b9, 6))), 'fragment', 'offset 185, last fragment');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(0x4001, 6))), 'fragment', 'DF with offset 1');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(0x4000, 6))), 'tcp', 'DF alone');
  assert.equal(kind(mutate((b) => b.writeUInt16BE(0x8000, 6))), 'tcp', 'reserved bit alone');
  assert.equal(
    kind(
      mutate((b) => {
        b[6] = 0x20;
        b[9] = 17;
      }),
    ),
    'fragment',
  );
});

test('UDP and ICMP are not-tcp', () => {
  assert.equal(kind(mutate((b) => (b[9] = 17))), 'not-tcp');
  assert.equal(kind(mutate((b) => (b[9] = 1))), 'not-tcp');
  // A minimal ICMP echo: 20-byte header + 8 bytes, far shorter than TCP would need.
  const icmp = Buffer.from('4500001c0001000040010000c0a80001c0a800020800f7ff00000000', 'hex');
  fillIpv4Checksum(icmp, 0);
  assert.equal(kind(icmp), 'not-tcp');
});

test('TCP data offset below 5 or past the packet is bad-tcp-offset', () => {
  for (const doff of [0, 1, 4]) assert.equal(kind(mutate((b) => (b[32] = doff << 4))), 'bad-tcp-offset', `doff ${doff}`);
  const b = data(); // 20 + 20 + 12 options + 11 payload = 63
  assert.equal(kind(mutate((x) => (x[32] = 10 << 4))), 'tcp', 'doff 10 = 40 bytes ≤ 43');
  assert.equal(kind(mutate((x) => (x[32] = 11 << 4))), 'bad-tcp-offset', 'doff 11 = 44 bytes > 43');
  assert.equal(b.length, 63);
  assert.equal(kind(mutate((x) => (x[32] = 0x51))), 'tcp', 'low nibble (AE bit) is not part of the offset');
});

test('fuzz: classify never throws; whatever it calls tcp can be fully read inside capLen', () => {
  const rand = prng(0xc1a55);
  const seg = new SegmentView();
  const opts = newTcpOptions();
  let tcp = 0;
  for (let i = 0; i < 50000; i++) {
    const good = data();
    // Start from a valid packet and damage a few bytes, or from pure noise.
    const b = rand() < 0.5 ? randBytes(rand, randInt(rand, 80)) : good.subarray(0, randInt(rand, good.length + 1));
    if (rand() < 0.7 && b.length > 0) {
      for (let k = 0; k < 1 + randInt(rand, 3); k++) {
        const at = randInt(rand, Math.min(b.length, 34));
        b[at] = randInt(rand, 256);
      }
    }
    const k = classifyIpv4(b, 0, b.length);
    if (k !== 'tcp') continue;
    tcp++;
    seg.wrap(b, 0);
    // Every read is inside the captured bytes: Buffer read methods would throw otherwise.
    assert.ok(seg.tcp.payloadOffset <= b.length);
    assert.ok(seg.payloadLength >= 0);
    assert.ok(seg.ip.payloadOffset + seg.ip.payloadLength <= b.length);
    void [seg.ip.src, seg.ip.dst, seg.tcp.seq, seg.tcp.ack, seg.tcp.window, seg.tcp.urgent, seg.tcp.checksum];
    parseTcpOptions(b, seg.tcp.optionsOffset, seg.tcp.payloadOffset, opts);
  }
  assert.ok(tcp > 100, `enough tcp cases exercised (${tcp})`);
});
