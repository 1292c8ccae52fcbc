import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { BATCH_HEAD, BatchFormatError, BatchReader, BatchWriter, RECORD_HEAD } from '../../../src/core/store/record-batch.js';

test('a batch round-trips timestamps (beyond 2^32 µs), link types, flags and frame bytes', () => {
  const w = new BatchWriter(Buffer.alloc(4096));
  const frames = [Buffer.from('first frame'), Buffer.alloc(0), Buffer.from([1, 2, 3, 255])];
  const ts = [1_796_199_287_966_047, 1_796_199_287_966_048, 5];
  frames.forEach((f, i) => w.append(ts[i] as number, i === 2 ? 113 : 1, i, Buffer.concat([Buffer.from('xx'), f]), 2, f.length));
  const len = w.finish();
  assert.equal(len, BATCH_HEAD + frames.length * RECORD_HEAD + frames.reduce((n, f) => n + f.length, 0));
  assert.equal(w.firstTsUs, ts[0]);
  assert.equal(w.lastTsUs, ts[2]);
  const r = new BatchReader();
  r.open(w.buf.subarray(0, len));
  const got: [number, number, number, string][] = [];
  while (r.next()) got.push([r.tsUs, r.linkType, r.flags, Buffer.from(r.buf.subarray(r.dataOff, r.dataOff + r.len)).toString('hex')]);
  assert.deepEqual(got, frames.map((f, i) => [ts[i], i === 2 ? 113 : 1, i, f.toString('hex')]));
  w.reset();
  assert.equal(w.count, 0);
  assert.ok(w.fits(4096 - BATCH_HEAD - RECORD_HEAD));
  assert.ok(!w.fits(4096 - BATCH_HEAD - RECORD_HEAD + 1));
});

test('a message that is not a batch, or a cut record, is a BatchFormatError', () => {
  const r = new BatchReader();
  assert.throws(() => r.open(Buffer.from('hello world!')), BatchFormatError);
  const w = new BatchWriter(Buffer.alloc(256));
  w.append(1, 1, 0, Buffer.alloc(40, 7), 0, 40);
  const len = w.finish();
  r.open(w.buf.subarray(0, len - 1));
  assert.throws(() => r.next(), /frame bytes past the end/);
});
