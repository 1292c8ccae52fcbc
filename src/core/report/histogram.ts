/**
 * Latency histogram with bounded memory: log-spaced buckets (each 2% wider than the last), so a
 * percentile is within about 1% of the true value whatever the run's length. Dense up to the
 * buckets that saw a value exist. Values are µs (non-negative numbers).
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** A point of a cumulative distribution: fraction of values ≤ value. */
export type CdfPoint = [value: number, fraction: number];

function bucketOf(v: number): number {
  return v < 1 ? 0 : 1 + Math.floor(Math.log(v) / LOG_GROWTH);
}

/** Representative value of a bucket: the geometric middle of its bounds (0 for the first). */
function bucketValue(k: number): number {
  return k === 0 ? 0 : Math.pow(GROWTH, k - 0.5);
}

export class LogHistogram {
  /** Count per bucket, dense from bucket 0 up to the highest seen (grown ×2; ≈ 470 buckets reach 10 s). */
  private buckets = new Uint32Array(0);
  private used = 0;
  count = 0;
  min = Infinity;
  max = 0;

  add(v: number): void {
    const k = bucketOf(v);
    let b = this.buckets;
    if (k >= b.length) {
      const grown = new Uint32Array(Math.max(64, k + 1, b.length * 2));
      grown.set(b);
      this.buckets = b = grown;
    }
    if (b[k] === 0) this.used++;
    b[k] = (b[k] as number) + 1;
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Buckets in use (the memory bound: ≈ 1,100 for 1 µs … 1 hour). */
  get bucketCount(): number {
    return this.used;
  }

  /** [bucket, count] of the buckets in use, in order. */
  private sorted(): [number, number][] {
    const out: [number, number][] = [];
    const b = this.buckets;
    for (let k = 0; k < b.length; k++) if (b[k] !== 0) out.push([k, b[k] as number]);
    return out;
  }

  /** The value at quantile q (0..1), clamped to the exact min and max seen; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const [k, n] of this.sorted()) {
      seen += n;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, bucketValue(k)));
    }
    return this.max;
  }

  percentiles(): Percentiles | null {
    if (this.count === 0) return null;
    const r = (v: number): number => Math.round(v);
    return { count: this.count, p50: r(this.quantile(0.5)), p90: r(this.quantile(0.9)), p99: r(this.quantile(0.99)), max: r(this.max) };
  }

  /** Cumulative distribution, at most `points` points (buckets merged evenly), ending at (max, 1). */
  cdf(points = 60): CdfPoint[] {
    if (this.count === 0) return [];
    const all = this.sorted();
    const step = Math.max(1, Math.ceil(all.length / points));
    const out: CdfPoint[] = [];
    let seen = 0;
    all.forEach(([k, n], i) => {
      seen += n;
      if ((i + 1) % step === 0 || i === all.length - 1) {
        const v = i === all.length - 1 ? this.max : Math.min(this.max, Math.max(this.min, bucketValue(k)));
        out.push([Math.round(v), seen / this.count]);
      }
    });
    return out;
  }
}
