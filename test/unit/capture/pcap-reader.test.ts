import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { PcapEncoder } from '../../../src/core/capture/pcap-writer.js';
import { CaptureError } from '../../../src/core/capture/errors.js';
import { parseAll, tcpFrame } from './helpers.js';

function smallFile(opts: ConstructorParameters<typeof PcapEncoder>[0], n = 5): Buffer {
  const enc = new PcapEncoder(opts);
  const parts = [enc.header()];
  for (let i = 0; i < n; i++) parts.push(enc.record(1700000000 + i, i * 1000 + 7000, tcpFrame(40000 + i, 80, i * 3)));
  return Buffer.concat(parts);
}

for (const byteOrder of ['le', 'be'] as const) {
  for (const precision of ['us', 'ns'] as const) {
    test(`pcap ${byteOrder} ${precision}: writer → reader round trip`, () => {
      const bytes = smallFile({ linkType: 1, byteOrder, precision });
      const { records, warnings } = parseAll(bytes);
      assert.equal(records.length, 5);
      assert.deepEqual(warnings, []);
      let off = 24;
      records.forEach((r, i) => {
        assert.equal(r.index, i + 1);
        assert.equal(r.tsSec, 1700000000 + i);
        // 'us' files keep whole microseconds only.
        assert.equal(r.tsNsec, precision === 'ns' ? i * 1000 + 7000 : Math.floor((i * 1000 + 7000) / 1000) * 1000);
        assert.equal(r.tsUs, (1700000000 + i) * 1e6 + Math.floor((i * 1000 + 7000) / 1000));
        assert.equal(r.capLen, 54 + i * 3);
        assert.equal(r.origLen, 54 + i * 3);
        assert.equal(r.linkType, 1);
        assert.equal(r.fileOffset, off);
        assert.equal(r.l3Kind, 'ipv4');
        assert.equal(r.ipOffset, 14);
        assert.equal(r.data, tcpFrame(40000 + i, 80, i * 3).toString('hex'));
        off += 16 + r.capLen;
      });
    });
  }
}

test('pcap: identical records for every chunk size', () => {
  const bytes = smallFile({ linkType: 1, precision: 'ns' }, 20);
  const whole = parseAll(bytes);
  for (const chunk of [1, 2, 3, 7, 64, 4096]) assert.deepEqual(parseAll(bytes, chunk), whole, `chunk ${chunk}`);
});

test('pcap: bad magic is a CaptureError at offset 0', () => {
  const bytes = smallFile({ linkType: 1 });
  bytes.writeUInt32BE(0xdeadbeef, 0);
  assert.throws(() => parseAll(bytes), (e: unknown) => e instanceof CaptureError && e.offset === 0 && /bad magic 0xdeadbeef/.test(e.message));
});
