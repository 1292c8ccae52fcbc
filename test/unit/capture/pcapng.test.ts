import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { PcapngEncoder } from '../../../src/core/capture/pcapng-writer.js';
import { CaptureError } from '../../../src/core/capture/errors.js';
import { parseAll, parseUntilError, prng, tcpFrame } from './helpers.js';

const NOW_SEC = 1795364886n;

/** Reference conversion with BigInt: units → [sec, nsec] (nsec truncated). */
function reference(units: bigint, perSec: bigint): [number, number] {
  return [Number(units / perSec), Number(((units % perSec) * 1000000000n) / perSec)];
}

const RESOLUTIONS: { byte: number | undefined; perSec: bigint }[] = [
  { byte: undefined, perSec: 1000000n }, // no if_tsresol option: microseconds
  { byte: 0, perSec: 1n },
  { byte: 3, perSec: 1000n },
  { byte: 6, perSec: 1000000n },
  { byte: 9, perSec: 1000000000n },
  { byte: 12, perSec: 1000000000000n }, // picoseconds: BigInt fallback
  { byte: 0x80 | 10, perSec: 1n << 10n },
  { byte: 0x80 | 20, perSec: 1n << 20n },
  { byte: 0x80 | 30, perSec: 1n << 30n },
  { byte: 0x80 | 40, perSec: 1n << 40n }, // BigInt fallback
];

for (const byteOrder of ['le', 'be'] as const) {
  test(`pcapng ${byteOrder}: every if_tsresol form converts exactly (vs BigInt)`, () => {
    const rnd = prng(7);
    for (const res of RESOLUTIONS) {
      const enc = new PcapngEncoder(byteOrder);
      const parts = [enc.sectionHeader(), enc.interfaceDescription({ linkType: 1, tsresol: res.byte })];
      const want: [number, number][] = [];
      for (let i = 0; i < 50; i++) {
        // Fine resolutions cannot reach today in 64 bits: stay within what the format can hold.
        const maxSec = (1n << 64n) / res.perSec - 1n;
        const base = NOW_SEC < maxSec ? NOW_SEC : maxSec;
        const sec = base - BigInt(Math.floor(rnd() * Number(base < 50000000n ? base : 50000000n)));
        const frac = BigInt(Math.floor(rnd() * Number(res.perSec)));
        const units = sec * res.perSec + (i === 0 ? 0n : i === 1 ? res.perSec - 1n : frac % res.perSec);
        want.push(reference(units, res.perSec));
        parts.push(enc.enhancedPacket(0, Number(units >> 32n), Number(units & 0xffffffffn), tcpFrame(1000 + i, 80)));
      }
      const { records } = parseAll(Buffer.concat(parts));
      assert.deepEqual(
        records.map((r) => [r.tsSec, r.tsNsec]),
        want,
        `if_tsresol ${res.byte}`,
      );
      records.forEach((r, i) => assert.equal(r.tsUs, want[i]![0] * 1e6 + Math.floor(want[i]![1] / 1000)));
    }
  });
}

test('pcapng: if_tsoffset is added to every timestamp', () => {
  const enc = new PcapngEncoder('le');
  const units = 1500000n; // 1.5 s in microseconds
  const bytes = Buffer.concat([
    enc.sectionHeader(),
    enc.interfaceDescription({ linkType: 1, tsoffset: 1700000000 }),
    enc.enhancedPacket(0, 0, Number(units), tcpFrame(1, 2)),
  ]);
  const [r] = parseAll(bytes).records;
  assert.deepEqual([r?.tsSec, r?.tsNsec], [1700000001, 500000000]);
});

test('pcapng: sections of different byte orders, per-interface link types, SPB, skipped blocks', () => {
  const le = new PcapngEncoder('le');
  const be = new PcapngEncoder('be');
  const raw = tcpFrame(5000, 80).subarray(14);
  const bytes = Buffer.concat([
    le.sectionHeader(),
    le.block(0x0bad, Buffer.alloc(20, 1)), // custom block before any IDB
    le.interfaceDescription({ linkType: 1, snaplen: 60 }),
    le.interfaceDescription({ linkType: 228 }),
    le.enhancedPacket(1, 0, 1000000, raw),
    le.simplePacket(Buffer.concat([tcpFrame(5001, 80), Buffer.alloc(40)]).subarray(0, 60), 1000), // caplen ≤ snaplen 60
    le.block(5, Buffer.alloc(10000)), // big ISB: streamed past
    be.sectionHeader(),
    be.interfaceDescription({ linkType: 113 }),
    be.block(0x80000001, Buffer.alloc(4)),
    be.enhancedPacket(0, 0, 2000000, Buffer.concat([Buffer.from('00000001000602000000000100000800', 'hex'), raw])),
  ]);
  const whole = parseAll(bytes);
  assert.deepEqual(
    whole.records.map((r) => [r.linkType, r.interfaceId, r.tsSec, r.capLen, r.origLen, r.l3Kind, r.ipOffset]),
    [
      [228, 1, 1, 40, 40, 'ipv4', 0],
      [1, 0, 0, 60, 1000, 'ipv4', 14],
      [113, 0, 2, 56, 56, 'ipv4', 16],
    ],
  );
  for (const chunk of [1, 3, 7, 64, 4096]) assert.deepEqual(parseAll(bytes, chunk), whole, `chunk ${chunk}`);
});

test('pcapng: an SPB is cut to the first interface snaplen', () => {
  const enc = new PcapngEncoder('be');
  const bytes = Buffer.concat([enc.sectionHeader(), enc.interfaceDescription({ linkType: 1, snaplen: 40 }), enc.simplePacket(tcpFrame(1, 2), 54)]);
  const [r] = parseAll(bytes).records;
  assert.equal(r?.capLen, 40);
  assert.equal(r?.origLen, 54);
});

test('pcapng: an interface of an unsupported link type fails only when one of its packets arrives', () => {
  const enc = new PcapngEncoder('le');
  const good = enc.enhancedPacket(0, 0, 1, tcpFrame(1, 2));
  const head = Buffer.concat([enc.sectionHeader(), enc.interfaceDescription({ linkType: 1 }), enc.interfaceDescription({ linkType: 105 }), good, good]);
  const bad = enc.enhancedPacket(1, 0, 1, Buffer.alloc(30));
  const res = parseUntilError(Buffer.concat([head, bad]), 4096);
  assert.equal(res.count, 2);
  assert.ok(res.error instanceof CaptureError);
  assert.equal(res.error.offset, head.length);
  assert.match(res.error.message, /link type 105 \(IEEE802_11\) on interface 1/);
});

test('pcapng: a packet naming a missing interface is a CaptureError (interfaces reset per section)', () => {
  const enc = new PcapngEncoder('le');
  const first = Buffer.concat([enc.sectionHeader(), enc.interfaceDescription({ linkType: 1 }), enc.interfaceDescription({ linkType: 1 })]);
  const second = Buffer.concat([enc.sectionHeader(), enc.interfaceDescription({ linkType: 1 })]);
  const res = parseUntilError(Buffer.concat([first, enc.enhancedPacket(1, 0, 0, tcpFrame(1, 2)), second, enc.enhancedPacket(1, 0, 0, tcpFrame(1, 2))]), 64);
  assert.equal(res.count, 1);
  assert.ok(res.error instanceof CaptureError);
  assert.match(res.error.message, /interface 1 but the section .* has 1 interface/);
});
