import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { ByteAcc } from '../../../src/core/collect/byte-acc.js';
import { BytePool } from '../../../src/core/collect/byte-pool.js';

test('byte pool: ×4 size classes from 2 KiB up to the cap, buffers reused after put()', () => {
  const pool = new BytePool(100_000);
  assert.deepEqual([1, 2048, 2049, 8192, 30_000, 32_768, 40_000, 100_000].map((n) => pool.classSize(n)), [2048, 2048, 8192, 8192, 32_768, 32_768, 100_000, 100_000]);
  const a = pool.get(3000);
  assert.equal(a.length, 8192);
  pool.put(a);
  assert.equal(pool.pooledBytes, 8192);
  assert.equal(pool.get(5000), a, 'the same class gives the buffer back');
  assert.equal(pool.pooledBytes, 0);
  assert.notEqual(pool.get(5000), a, 'a buffer is handed out once');
  pool.put(a.subarray(0, 100)); // not a whole buffer of a class: left to the GC
  assert.equal(pool.pooledBytes, 0);
});

test('byte pool: free lists are bounded in bytes', () => {
  const pool = new BytePool(1 << 20, 64 * 1024);
  const bufs = Array.from({ length: 40 }, () => pool.get(2048));
  for (const b of bufs) pool.put(b);
  assert.equal(pool.pooledBytes, 32 * 2048);
});

test('byte accumulator with a pool: grows, keeps the first cap bytes, and its buffers go back on growth and release', () => {
  const pool = new BytePool(20_000);
  const acc = new ByteAcc(20_000, pool);
  const part = Buffer.alloc(1500, 0x61);
  for (let i = 0; i < 20; i++) acc.add(part, 0, part.length);
  assert.equal(acc.len, 20_000, 'cut at the cap');
  assert.equal(acc.take().length, 20_000);
  assert.ok(acc.take().every((b) => b === 0x61));
  // the 2 KiB and 8 KiB buffers it outgrew are in the pool, the 20,000-byte one is in use
  assert.equal(pool.pooledBytes, 2048 + 8192);
  acc.release();
  assert.equal(pool.pooledBytes, 2048 + 8192 + 20_000);
  assert.equal(acc.take().length, 0);
  const again = new ByteAcc(20_000, pool);
  again.add(Buffer.from('xyz'), 0, 3);
  assert.equal(again.take().toString(), 'xyz');
  assert.equal(pool.pooledBytes, 8192 + 20_000, 'the next answer starts in a pooled buffer');
});
