import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  newTcpOptions,
  optionSpecLength,
  parseTcpOptions,
  timestampOffset,
  writeTcpOptions,
  type OptionSpec,
  type TcpOptions,
} from '../../../src/core/packet/options.js';
import { prng, randBytes, randInt, randU32 } from '../../helpers/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parse(b: Buffer, start = 0, end = b.length): TcpOptions {
  return parseTcpOptions(b, start, end, newTcpOptions());
}

function sackList(o: TcpOptions): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < o.sackBlocks; i++) out.push([o.sack[2 * i] as number, o.sack[2 * i + 1] as number]);
  return out;
}

// Option bytes of the kernel-made packets in test/fixtures/packets/kernel-http.hex.
const LINUX_SYN = hex('020405b4 0402080a 7644989d 00000000 0103030a');
const LINUX_SYNACK = hex('020405b4 0402080a d607fce0 7644989d 0103030a');
const LINUX_DATA = hex('0101080a 7644989d d607fce0');

test('Linux SYN: MSS, SACK_PERM, TS, NOP, WS', () => {
  const o = parse(LINUX_SYN);
  assert.equal(o.mss, 1460);
  assert.equal(o.sackOk, true);
  assert.equal(o.hasTs, true);
  assert.equal(o.tsVal, 1984207005);
  assert.equal(o.tsEcr, 0);
  assert.equal(o.wscale, 10);
  assert.equal(o.sackBlocks, 0);
  assert.equal(o.malformed, false);
  assert.equal(timestampOffset(LINUX_SYN, 0, LINUX_SYN.length), 6);
});

test('Linux SYN-ACK and data NOP,NOP,TS', () => {
  const s = parse(LINUX_SYNACK);
  assert.deepEqual([s.mss, s.sackOk, s.tsVal, s.tsEcr, s.wscale, s.malformed], [1460, true, 3590847712, 1984207005, 10, false]);
  const d = parse(LINUX_DATA);
  assert.deepEqual([d.mss, d.sackOk, d.hasTs, d.tsVal, d.tsEcr, d.wscale, d.malformed], [-1, false, true, 1984207005, 3590847712, -1, false]);
  assert.equal(timestampOffset(LINUX_DATA, 0, LINUX_DATA.length), 2);
});

test('SACK blocks after NOP,NOP,TS (Linux dup-ack layout)', () => {
  const b = hex('0101080a 00000001 00000002 0101051a 0000 1000 0000 2000 ffff fff0 0000 0010 8000 0000 8000 0100');
  const o = parse(b);
  assert.equal(o.malformed, false);
  assert.equal(o.hasTs, true);
  assert.deepEqual(sackList(o), [
    [0x1000, 0x2000],
    [0xfffffff0, 0x10],
    [0x80000000, 0x80000100],
  ]);
});

test('options at a non-zero start with an end bound (parse stays inside)', () => {
  const b = Buffer.concat([hex('ffffffff'), LINUX_SYN, hex('020405dc')]);
  const o = parse(b, 4, 4 + LINUX_SYN.length);
  assert.equal(o.mss, 1460, 'the MSS after `end` was not read');
  assert.equal(timestampOffset(b, 4, 4 + LINUX_SYN.length), 10);
});

test('the out object is reset between parses', () => {
  const o = newTcpOptions();
  parseTcpOptions(LINUX_SYN, 0, LINUX_SYN.length, o);
  const sackPkt = hex('0101050a 00000001 00000002');
  const again = parseTcpOptions(sackPkt, 0, sackPkt.length, o);
  assert.equal(again, o);
  assert.deepEqual([o.mss, o.wscale, o.sackOk, o.hasTs, o.sackBlocks, o.malformed], [-1, -1, false, false, 1, false]);
  parseTcpOptions(hex('0200'), 0, 2, o);
  assert.equal(o.malformed, true);
  assert.equal(o.sackBlocks, 0);
  parseTcpOptions(LINUX_DATA, 0, LINUX_DATA.length, o);
  assert.equal(o.malformed, false);
});

test('malformed: length 0, length 1, past end, missing length byte — stop, flag, no throw', () => {
  // MSS parsed first, then a bad option; later options must not be read.
  const cases: [string, string][] = [
    ['length 0', '020405b4 0800 0103030a'],
    ['length 1', '020405b4 0801 0103030a'],
    ['length past end', '020405b4 080a 0000'],
    ['missing length byte', '020405b4 0101 08'],
    ['unknown kind, length past end', '020405b4 1e09 000000'],
  ];
  for (const [name, h] of cases) {
    const b = hex(h);
    let o: TcpOptions | undefined;
    assert.doesNotThrow(() => {
      o = parse(b);
    }, name);
    assert.ok(o !== undefined);
    assert.equal(o.malformed, true, name);
    assert.equal(o.mss, 1460, `${name}: options before the fault are kept`);
    assert.equal(o.hasTs, false, name);
    assert.equal(o.wscale, -1, name);
    assert.equal(timestampOffset(b, 0, b.length), -1, name);
  }
});

test('known option with a wrong length is skipped, flagged, and parsing continues', () => {
  const o = parse(hex('020505b4 00 0303 07 0402 01 0101080a 00000005 00000006'));
  assert.equal(o.mss, -1, 'MSS with length 5 ignored');
  assert.equal(o.malformed, true);
  // The bytes are walked by length: MSS(5) WS(3) SACK_PERM(2) NOP NOP TS.
  assert.equal(o.wscale, 7);
  assert.equal(o.sackOk, true);
  assert.equal(o.tsVal, 5);
  const s = parse(hex('0101 050b 00000001 00000002 00'));
  assert.equal(s.malformed, true, 'SACK length not 2+8n');
  assert.equal(s.sackBlocks, 0);
  const t = parse(hex('080b 00000001 00000002 00 0101'));
  assert.equal(t.hasTs, false, 'TS of length 11 ignored');
  assert.equal(t.malformed, true);
});

test('EOL mid-way ends the list without being malformed', () => {
  const b = hex('020405b4 00 0303 07 000000');
  const o = parse(b);
  assert.equal(o.mss, 1460);
  assert.equal(o.wscale, -1, 'nothing after EOL is read');
  assert.equal(o.malformed, false);
  assert.equal(timestampOffset(hex('00 01080a 00000000 00000000'), 0, 12), -1);
});

test('unknown kinds are skipped by length; empty area parses to defaults', () => {
  const o = parse(hex('1e04 abcd 1c02 020405b4'));
  assert.equal(o.mss, 1460);
  assert.equal(o.malformed, false);
  const e = parse(Buffer.alloc(0));
  assert.deepEqual([e.mss, e.wscale, e.sackOk, e.hasTs, e.sackBlocks, e.malformed], [-1, -1, false, false, 0, false]);
  // end beyond the buffer is clamped, not read.
  const c = parseTcpOptions(hex('020405b4'), 0, 100, newTcpOptions());
  assert.equal(c.mss, 1460);
});

test('fuzz: random option bytes never throw and never depend on bytes outside [start, end)', () => {
  const rand = prng(0xf022);
  const a = newTcpOptions();
  const b = newTcpOptions();
  for (let i = 0; i < 20000; i++) {
    const len = randInt(rand, 41);
    const body = randBytes(rand, len);
    // Bias towards option-like bytes so that real option paths are exercised.
    for (let j = 0; j < len; j++) if (rand() < 0.3) body[j] = [0, 1, 2, 3, 4, 5, 8, 10][randInt(rand, 8)] as number;
    const pre = randBytes(rand, 3);
    const x = Buffer.concat([pre, body, randBytes(rand, 8)]);
    const y = Buffer.concat([pre, body, randBytes(rand, 8)]);
    parseTcpOptions(x, 3, 3 + len, a);
    parseTcpOptions(y, 3, 3 + len, b);
    assert.deepEqual(a, b, `seed case ${i}: ${body.toString('hex')}`);
    assert.equal(timestampOffset(x, 3, 3 + len), timestampOffset(y, 3, 3 + len));
    assert.ok(a.sackBlocks <= 4);
  }
});

test('write → parse round trip for every option combination', () => {
  const rand = prng(0x0b7);
  for (let mask = 0; mask < 32; mask++) {
    for (let iter = 0; iter < 50; iter++) {
      const spec: OptionSpec = {};
      if (mask & 1) spec.mss = randInt(rand, 0x10000);
      if (mask & 2) spec.wscale = randInt(rand, 15);
      if (mask & 4) spec.sackOk = true;
      if (mask & 8) spec.ts = { val: randU32(rand), ecr: randU32(rand) };
      if (mask & 16) {
        spec.sack = [];
        const n = 1 + randInt(rand, 4);
        for (let k = 0; k < n; k++) spec.sack.push([randU32(rand), randU32(rand)]);
      }
      const buf = Buffer.alloc(60, 0xee);
      const n = writeTcpOptions(buf, 7, spec);
      assert.equal(n, optionSpecLength(spec));
      assert.equal(n % 4, 0);
      assert.ok(n <= 40);
      assert.equal(buf[6], 0xee);
      assert.equal(buf[7 + n], 0xee, 'wrote no further than it said');
      const o = parse(buf, 7, 7 + n);
      assert.equal(o.malformed, false);
      assert.equal(o.mss, spec.mss ?? -1);
      assert.equal(o.wscale, spec.wscale ?? -1);
      assert.equal(o.sackOk, spec.sackOk === true);
      assert.equal(o.hasTs, spec.ts !== undefined);
      if (spec.ts !== undefined) {
        assert.equal(o.tsVal, spec.ts.val);
        assert.equal(o.tsEcr, spec.ts.ecr);
        assert.equal(timestampOffset(buf, 7, 7 + n) >= 7, true);
      }
      const want = spec.sack ?? [];
      // Blocks fill what is left of 40 bytes after the fixed options and the 4-byte SACK head:
      // 4 alone, 3 next to timestamps or next to MSS+WS+SACK_PERM.
      const fixed = (mask & 1 ? 4 : 0) + (mask & 2 ? 4 : 0) + (mask & 8 ? 12 : mask & 4 ? 4 : 0);
      const room = Math.floor((40 - fixed - 4) / 8);
      assert.equal(o.sackBlocks, Math.min(want.length, room, 4));
      assert.deepEqual(sackList(o), want.slice(0, o.sackBlocks));
    }
  }
});

test('writer uses the Linux SYN layout byte for byte', () => {
  const buf = Buffer.alloc(20);
  const n = writeTcpOptions(buf, 0, { mss: 1460, sackOk: true, ts: { val: 1984207005, ecr: 0 }, wscale: 10 });
  assert.equal(n, 20);
  assert.deepEqual(buf, LINUX_SYN);
  const d = Buffer.alloc(12);
  writeTcpOptions(d, 0, { ts: { val: 1984207005, ecr: 3590847712 } });
  assert.deepEqual(d, LINUX_DATA);
  // Parsed values pass straight back in: -1 means absent.
  assert.equal(optionSpecLength({ mss: -1, wscale: -1 }), 0);
  assert.equal(optionSpecLength({ sack: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]] }), 36);
  assert.equal(optionSpecLength({ ts: { val: 1, ecr: 2 }, sack: [[1, 2], [3, 4], [5, 6], [7, 8]] }), 40);
});
