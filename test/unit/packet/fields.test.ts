import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipv4View, ipToString, parseIpv4 } from '../../../src/core/packet/ipv4.js';
import { TcpView, flagsToString, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../../src/core/packet/tcp.js';
import { prng, randBytes, randU32 } from '../../helpers/prng.js';

// Each field's position described independently of the views: byte offset, width, bit mask.
interface Field {
  name: string;
  at: number;
  width: 1 | 2 | 4;
  mask: number;
  bool?: boolean;
}

const IP_FIELDS: Field[] = [
  { name: 'version', at: 0, width: 1, mask: 0xf0 },
  { name: 'ihl', at: 0, width: 1, mask: 0x0f },
  { name: 'tos', at: 1, width: 1, mask: 0xff },
  { name: 'totalLength', at: 2, width: 2, mask: 0xffff },
  { name: 'id', at: 4, width: 2, mask: 0xffff },
  { name: 'df', at: 6, width: 1, mask: 0x40, bool: true },
  { name: 'mf', at: 6, width: 1, mask: 0x20, bool: true },
  { name: 'fragOffset', at: 6, width: 2, mask: 0x1fff },
  { name: 'ttl', at: 8, width: 1, mask: 0xff },
  { name: 'protocol', at: 9, width: 1, mask: 0xff },
  { name: 'checksum', at: 10, width: 2, mask: 0xffff },
  { name: 'src', at: 12, width: 4, mask: 0xffffffff },
  { name: 'dst', at: 16, width: 4, mask: 0xffffffff },
];

const TCP_FIELDS: Field[] = [
  { name: 'srcPort', at: 0, width: 2, mask: 0xffff },
  { name: 'dstPort', at: 2, width: 2, mask: 0xffff },
  { name: 'seq', at: 4, width: 4, mask: 0xffffffff },
  { name: 'ack', at: 8, width: 4, mask: 0xffffffff },
  { name: 'dataOffset', at: 12, width: 1, mask: 0xf0 },
  { name: 'flags', at: 13, width: 1, mask: 0xff },
  { name: 'window', at: 14, width: 2, mask: 0xffff },
  { name: 'checksum', at: 16, width: 2, mask: 0xffff },
  { name: 'urgent', at: 18, width: 2, mask: 0xffff },
];

function readRaw(buf: Buffer, off: number, f: Field): number {
  const raw = f.width === 1 ? buf.readUInt8(off) : f.width === 2 ? buf.readUInt16BE(off) : buf.readUInt32BE(off);
  let shift = 0;
  while (((f.mask >>> shift) & 1) === 0) shift++;
  return ((raw & f.mask) >>> 0) >>> shift;
}

function maskWidth(mask: number): number {
  let m = mask >>> 0;
  while ((m & 1) === 0) m >>>= 1;
  return m;
}

type Rec = Record<string, number | boolean>;

function roundTrip(view: Ipv4View | TcpView, fields: Field[], seed: number): void {
  const rand = prng(seed);
  const base = 5; // an odd, non-zero view offset
  for (let iter = 0; iter < 300; iter++) {
    for (const f of fields) {
      const buf = randBytes(rand, base + 64);
      view.wrap(buf, base);
      const before = Buffer.from(buf);
      const max = maskWidth(f.mask);
      const value: number | boolean = f.bool === true ? iter % 2 === 0 : randU32(rand) % (max + 1);
      (view as unknown as Rec)[f.name] = value;
      assert.equal((view as unknown as Rec)[f.name], value, `${f.name} reads back`);
      // The raw bits sit where the RFC layout says, and nothing else changed.
      const rawBits = readRaw(buf, base + f.at, f);
      assert.equal(rawBits, f.bool === true ? (value === true ? 1 : 0) : value, `${f.name} raw bits`);
      for (let i = 0; i < buf.length; i++) {
        if (i >= base + f.at && i < base + f.at + f.width) {
          const shift = (f.width - 1 - (i - base - f.at)) * 8;
          const byteMask = (f.mask >>> shift) & 0xff;
          assert.equal((buf[i] as number) & ~byteMask & 0xff, (before[i] as number) & ~byteMask & 0xff, `${f.name} kept other bits of byte ${i}`);
        } else {
          assert.equal(buf[i], before[i], `${f.name} changed byte ${i}`);
        }
      }
    }
  }
}

test('Ipv4View: every field reads back and writes only its own bits', () => {
  roundTrip(new Ipv4View(), IP_FIELDS, 11);
});

test('TcpView: every field reads back and writes only its own bits', () => {
  roundTrip(new TcpView(), TCP_FIELDS, 12);
});

test('derived lengths, fragment flag and offsets', () => {
  const buf = Buffer.alloc(80);
  const ip = new Ipv4View().wrap(buf, 4);
  ip.version = 4;
  ip.ihl = 6;
  assert.equal(ip.headerLength, 24);
  ip.headerLength = 20;
  assert.equal(ip.ihl, 5);
  assert.equal(buf[4], 0x45);
  ip.totalLength = 60;
  assert.equal(ip.payloadOffset, 24);
  assert.equal(ip.payloadLength, 40);
  assert.equal(ip.isFragment, false);
  ip.df = true;
  assert.equal(ip.isFragment, false, 'DF alone is not a fragment');
  ip.mf = true;
  assert.equal(ip.isFragment, true);
  ip.mf = false;
  ip.fragOffset = 185;
  assert.equal(ip.isFragment, true);
  assert.equal(ip.df, true, 'fragOffset kept DF');
  assert.equal(buf.readUInt16BE(10), 0x4000 | 185);

  const tcp = new TcpView().wrap(buf, 24);
  buf[24 + 12] = 0x01; // the AE/NS bit must survive a data offset write
  tcp.dataOffset = 8;
  assert.equal(buf[24 + 12], 0x81);
  assert.equal(tcp.headerLength, 32);
  assert.equal(tcp.optionsOffset, 44);
  assert.equal(tcp.optionsLength, 12);
  assert.equal(tcp.payloadOffset, 56);
  tcp.headerLength = 20;
  assert.equal(tcp.dataOffset, 5);
  assert.equal(tcp.optionsLength, 0);
  tcp.flags = TCP_SYN | TCP_ACK;
  assert.ok(tcp.syn && tcp.isAck && !tcp.fin && !tcp.rst && !tcp.psh);
  assert.equal(flagsToString(TCP_SYN | TCP_ACK), 'S.');
  assert.equal(flagsToString(TCP_PSH | TCP_ACK), 'P.');
  assert.equal(flagsToString(TCP_FIN | TCP_RST | TCP_URG), 'FRU');
  assert.equal(flagsToString(0), 'none');
});

test('wrap returns the same view and rebinds it', () => {
  const v = new TcpView();
  const a = Buffer.alloc(20);
  const b = Buffer.alloc(20);
  a.writeUInt16BE(1111, 0);
  b.writeUInt16BE(2222, 0);
  assert.equal(v.wrap(a, 0), v);
  assert.equal(v.srcPort, 1111);
  assert.equal(v.wrap(b, 0).srcPort, 2222);
  const ip = new Ipv4View();
  assert.equal(ip.wrap(a), ip);
});

test('setters mask out-of-range values to the field width', () => {
  const buf = Buffer.alloc(40);
  const tcp = new TcpView().wrap(buf, 0);
  tcp.seq = 2 ** 32 + 5;
  assert.equal(tcp.seq, 5);
  tcp.seq = -1;
  assert.equal(tcp.seq, 0xffffffff);
  tcp.window = 0x12345;
  assert.equal(tcp.window, 0x2345);
  const ip = new Ipv4View().wrap(buf, 0);
  ip.src = -1;
  assert.equal(ip.src, 0xffffffff);
});

test('ipToString / parseIpv4', () => {
  assert.equal(ipToString(0x0a000002), '10.0.0.2');
  assert.equal(ipToString(0xffffffff), '255.255.255.255');
  assert.equal(ipToString(0), '0.0.0.0');
  assert.equal(parseIpv4('10.0.0.2'), 0x0a000002);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4('192.168.1.200'), 0xc0a801c8);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', '01.2.3.4', 'a.b.c.d', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.1000']) {
    assert.equal(parseIpv4(bad), null, bad);
  }
  const rand = prng(3);
  for (let i = 0; i < 2000; i++) {
    const ip = randU32(rand);
    assert.equal(parseIpv4(ipToString(ip)), ip);
  }
});
