import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogHistogram } from '../../../src/core/report/histogram.js';
import { prng } from '../../helpers/prng.js';

function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}

test('percentiles are within 2% of the exact values on skewed data; max is exact', () => {
  const rand = prng(13);
  const h = new LogHistogram();
  const values: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    // Log-normal-ish latencies from ~50 µs to seconds.
    const v = Math.exp(6 + 2.2 * (rand() + rand() + rand() - 1.5)) + (rand() < 0.01 ? 2_000_000 * rand() : 0);
    values.push(v);
    h.add(v);
  }
  values.sort((a, b) => a - b);
  const p = h.percentiles();
  assert.ok(p !== null);
  for (const [q, got] of [
    [0.5, p.p50],
    [0.9, p.p90],
    [0.99, p.p99],
  ] as const) {
    const want = exact(values, q);
    assert.ok(Math.abs(got - want) / want < 0.02, `p${q * 100}: ${got} vs ${want}`);
  }
  assert.equal(p.max, Math.round(values[values.length - 1] as number));
  assert.equal(p.count, 50_000);
});

test('memory is bounded by the value range, not the count', () => {
  const h = new LogHistogram();
  for (let i = 0; i < 200_000; i++) h.add((i * 7919) % 3_600_000_000);
  assert.ok(h.bucketCount < 1200, `${h.bucketCount} buckets`);
  assert.equal(new LogHistogram().percentiles(), null);
});

test('CDF: non-decreasing, at most the asked points, ends at (max, 1)', () => {
  const h = new LogHistogram();
  for (let i = 1; i <= 1000; i++) h.add(i * 10);
  const cdf = h.cdf(40);
  assert.ok(cdf.length <= 40 && cdf.length > 10, `${cdf.length} points`);
  for (let i = 1; i < cdf.length; i++) {
    assert.ok((cdf[i]?.[0] ?? 0) >= (cdf[i - 1]?.[0] ?? 0));
    assert.ok((cdf[i]?.[1] ?? 0) >= (cdf[i - 1]?.[1] ?? 0));
  }
  assert.deepEqual(cdf[cdf.length - 1], [10_000, 1]);
  const mid = cdf.find((pt) => pt[1] >= 0.5);
  assert.ok(mid !== undefined && Math.abs(mid[0] - 5000) / 5000 < 0.1, String(mid));
  const zero = new LogHistogram();
  zero.add(0);
  zero.add(0);
  assert.deepEqual(zero.percentiles(), { count: 2, p50: 0, p90: 0, p99: 0, max: 0 });
});
