import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { fixturesDir } from '../../helpers/paths.js';
import { PcapEncoder } from '../../../src/core/capture/pcap-writer.js';
import { PcapngEncoder } from '../../../src/core/capture/pcapng-writer.js';
import { CaptureError } from '../../../src/core/capture/errors.js';
import { CaptureParser } from '../../../src/core/capture/reader.js';
import { parseAll, parseUntilError, prng, tcpFrame } from './helpers.js';

function pcapFile(n: number, opts: { snaplen?: number; byteOrder?: 'le' | 'be' } = {}): { bytes: Buffer; offsets: number[] } {
  const enc = new PcapEncoder({ linkType: 1, ...opts });
  const parts = [enc.header()];
  const offsets: number[] = [];
  let off = 24;
  for (let i = 0; i < n; i++) {
    const r = enc.record(1700000000, i * 1000, tcpFrame(2000 + i, 80, 10));
    offsets.push(off);
    off += r.length;
    parts.push(r);
  }
  return { bytes: Buffer.concat(parts), offsets };
}

function pcapngFile(n: number): { bytes: Buffer; offsets: number[] } {
  const enc = new PcapngEncoder('le');
  const parts = [enc.sectionHeader(), enc.interfaceDescription({ linkType: 1 })];
  let off = parts[0]!.length + parts[1]!.length;
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = enc.enhancedPacket(0, 0, i, tcpFrame(2000 + i, 80, 10));
    offsets.push(off);
    off += b.length;
    parts.push(b);
  }
  return { bytes: Buffer.concat(parts), offsets };
}

function expectCaptureError(bytes: Buffer, offset: number, pattern: RegExp, delivered?: number): void {
  for (const chunk of [bytes.length, 1, 7, 64]) {
    const res = parseUntilError(bytes, chunk);
    assert.ok(res.error instanceof CaptureError, `chunk ${chunk}: expected CaptureError, got ${String(res.error)}`);
    assert.equal(res.error.offset, offset, `chunk ${chunk}: offset (${res.error.message})`);
    assert.match(res.error.message, pattern);
    assert.match(res.error.message, /^fuzz: byte offset \d+: /);
    if (delivered !== undefined) assert.equal(res.count, delivered, `chunk ${chunk}: packets delivered before the error`);
  }
}

test('bad magic / bad byte-order mark / empty or short files', () => {
  const { bytes } = pcapFile(2);
  const bad = Buffer.from(bytes);
  bad.write('GIF8', 0);
  expectCaptureError(bad, 0, /bad magic 0x47494638: not a pcap or pcapng file/);
  const ng = pcapngFile(1).bytes;
  ng.writeUInt32LE(0x11223344, 8);
  expectCaptureError(ng, 8, /bad pcapng byte-order magic/);
  assert.throws(() => parseAll(Buffer.alloc(0)), (e: unknown) => e instanceof CaptureError && /empty file/.test(e.message));
  assert.throws(() => parseAll(bytes.subarray(0, 10)), (e: unknown) => e instanceof CaptureError && /inside the capture file header/.test(e.message));
});

test('pcap: impossible caplen (> 256 KiB, or far above snaplen) names the record offset', () => {
  for (const byteOrder of ['le', 'be'] as const) {
    const { bytes, offsets } = pcapFile(4, { byteOrder });
    const huge = Buffer.from(bytes);
    if (byteOrder === 'le') huge.writeUInt32LE(300000, offsets[2]! + 8);
    else huge.writeUInt32BE(300000, offsets[2]! + 8);
    expectCaptureError(huge, offsets[2]!, /impossible record length: caplen 300000/, 2);
  }
  const small = pcapFile(3, { snaplen: 96 });
  const b = Buffer.from(small.bytes);
  b.writeUInt32LE(70000, small.offsets[1]! + 8);
  expectCaptureError(b, small.offsets[1]!, /caplen 70000 exceeds 65535 \(snaplen 96\)/, 1);
});

test('pcap: unsupported link type is reported at the header', () => {
  const enc = new PcapEncoder({ linkType: 105 });
  expectCaptureError(Buffer.concat([enc.header(), enc.record(1, 0, Buffer.alloc(10))]), 20, /unsupported link type 105 \(IEEE802_11\)/);
});

test('pcapng: block length not a multiple of 4, trailer mismatch, caplen beyond its block', () => {
  const { bytes, offsets } = pcapngFile(4);
  const odd = Buffer.from(bytes);
  odd.writeUInt32LE(odd.readUInt32LE(offsets[1]! + 4) + 2, offsets[1]! + 4);
  expectCaptureError(odd, offsets[1]! + 4, /block length \d+ is not a multiple of 4/, 1);
  const trailer = Buffer.from(bytes);
  const len = trailer.readUInt32LE(offsets[2]! + 4);
  trailer.writeUInt32LE(len + 4, offsets[2]! + len - 4);
  expectCaptureError(trailer, offsets[2]! + len - 4, /trailer length \d+ does not match header length \d+/, 2);
  const cap = Buffer.from(bytes);
  cap.writeUInt32LE(500, offsets[3]! + 20);
  expectCaptureError(cap, offsets[3]! + 20, /caplen 500 does not fit/, 3);
  const huge = Buffer.from(bytes);
  huge.writeUInt32LE(0x10000000, offsets[0]! + 4);
  expectCaptureError(huge, offsets[0]! + 4, /impossible packet block length/, 0);
});

test('pcapng: a block running past the end of the file is a CaptureError after earlier packets', () => {
  const { bytes, offsets } = pcapngFile(5);
  expectCaptureError(bytes.subarray(0, bytes.length - 10), offsets[4]!, /runs past the end of the file/, 4);
  expectCaptureError(bytes.subarray(0, offsets[4]! + 5), offsets[4]!, /pcapng block header runs past the end/, 4);
  // A big skipped block (streamed, never buffered) that the file cuts short.
  const enc = new PcapngEncoder('le');
  const big = Buffer.concat([bytes, enc.block(5, Buffer.alloc(20000))]);
  expectCaptureError(big.subarray(0, big.length - 100), bytes.length, /block of 20012 bytes runs past the end/, 5);
});

test('truncated final pcap record: a warning naming its offset, every earlier packet delivered', () => {
  const { bytes, offsets } = pcapFile(6);
  for (const cut of [bytes.length - 1, offsets[5]! + 20, offsets[5]! + 3]) {
    for (const chunk of [cut, 1, 5, 64]) {
      const res = parseUntilError(bytes.subarray(0, cut), chunk);
      assert.equal(res.error, null);
      assert.equal(res.count, 5);
      assert.equal(res.warnings.length, 1);
      assert.equal(res.warnings[0]!.offset, offsets[5]);
      assert.match(res.warnings[0]!.message, /truncated final record/);
    }
  }
  // The warning callback sees it too.
  const seen: number[] = [];
  const p = new CaptureParser({ source: 'cb', onWarning: (w) => seen.push(w.offset) });
  p.push(bytes.subarray(0, bytes.length - 1));
  while (p.next() !== null);
  p.end();
  assert.deepEqual(seen, [offsets[5]]);
});

test('the parser refuses misuse: push before the previous chunk was drained', () => {
  const { bytes } = pcapFile(3);
  const p = new CaptureParser();
  p.push(bytes);
  assert.throws(() => p.push(bytes), /before the previous chunk was consumed/);
});

const FUZZ_FILES = ['eth.pcap', 'eth-nano.pcap', 'sll.pcap', 'sll2.pcap', 'vlan.pcap', 'qinq.pcap', 'raw.pcap', 'null.pcap', 'loop.pcap', 'eth-swapped.pcap', 'eth.pcapng', 'eth-be.pcapng', 'multi.pcapng'];

test('fuzz: random truncations and byte flips give success, a warning or a CaptureError, never anything else', { timeout: 60_000 }, () => {
  const outcomes = { ok: 0, warning: 0, error: 0 };
  for (const [fi, file] of FUZZ_FILES.entries()) {
    const orig = readFileSync(join(fixturesDir, 'capture', file));
    const rnd = prng(1000 + fi);
    for (let i = 0; i < 300; i++) {
      const mode = i % 3; // 0 truncate, 1 flip, 2 both
      let b = Buffer.from(orig);
      if (mode !== 0) {
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      }
      if (mode !== 1) b = b.subarray(0, Math.floor(rnd() * b.length));
      const chunk = [1, 3, 7, 64, 4096][i % 5]!;
      const res = parseUntilError(b, chunk);
      if (res.error !== null) {
        assert.ok(res.error instanceof CaptureError, `${file} case ${i}: threw ${String(res.error)}`);
        assert.ok(res.error.offset >= 0 && res.error.offset <= b.length + 8, `${file} case ${i}: offset ${res.error.offset} within the file`);
        outcomes.error++;
      } else if (res.warnings.length > 0) outcomes.warning++;
      else outcomes.ok++;
    }
  }
  // All three outcomes actually occur (the fuzzer is not vacuous).
  assert.ok(outcomes.ok > 0 && outcomes.warning > 0 && outcomes.error > 0, JSON.stringify(outcomes));
});
