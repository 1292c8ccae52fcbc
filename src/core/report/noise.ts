import type { FieldDiff } from './compare.js';

/**
 * Diffy-style noise, learned per endpoint from the two baselines: a field that ever differed
 * between two instances of the same build (a Date header, a request id in a JSON body, a span of
 * an opaque body) is noise for that endpoint, and a candidate difference only in noise fields is
 * no mismatch. Two exceptions: how an answer ended (a baseline's reset or timeout) is never
 * noise, and the status only once it differed in at least 10% of the endpoint's comparisons. Bounded: at most MAX_FIELDS fields and MAX_RANGES byte spans per endpoint.
 */
const MAX_FIELDS = 64;
const MAX_RANGES = 32;
/** Share of baseline comparisons whose status must differ before status is noise. */
const STATUS_NOISE_RATE = 0.1;

function parseRange(field: string): [number, number] | null {
  const m = /^bytes:(\d+)-(\d+)$/.exec(field);
  return m === null ? null : [Number(m[1]), Number(m[2])];
}

export class EndpointNoise {
  /** Exchanges where both baselines answered and were compared. */
  compared = 0;
  /** …of which the baselines differed in some field. */
  differing = 0;
  private readonly fields = new Map<string, number>();
  private readonly ranges: [number, number][] = [];

  /** Learn from one baseline-vs-baseline comparison. */
  learn(diffs: readonly FieldDiff[]): void {
    this.compared++;
    if (diffs.length === 0) return;
    this.differing++;
    for (const d of diffs) {
      const range = parseRange(d.field);
      const key = range === null ? d.field : 'bytes';
      if (range !== null) this.addRange(range);
      // Past the cap new fields are not learned (their differences stay reported).
      if (this.fields.has(key) || this.fields.size < MAX_FIELDS) this.fields.set(key, (this.fields.get(key) ?? 0) + 1);
    }
  }

  private addRange([s, e]: [number, number]): void {
    for (const r of this.ranges) {
      if (s <= r[1] && e >= r[0]) {
        r[0] = Math.min(r[0], s);
        r[1] = Math.max(r[1], e);
        return;
      }
    }
    if (this.ranges.length < MAX_RANGES) this.ranges.push([s, e]);
  }

  /**
   * True when this field is known noise here. A body whose size (or digest, where no finer
   * field applied) varies between two instances of one build is not compared byte by byte.
   */
  isNoise(field: string): boolean {
    // A baseline that failed (reset, timeout…) is not noise: it must not hide a failing candidate.
    if (field.startsWith('end:')) return false;
    // A status that varies now and then between baselines is more likely a flake than noise.
    if (field === 'status') return (this.fields.get(field) ?? 0) >= STATUS_NOISE_RATE * this.compared;
    if (this.fields.has(field)) return true;
    const range = parseRange(field);
    if (range === null && field !== 'body') return false;
    if (this.fields.has('size') || this.fields.has('body')) return true;
    return range !== null && this.ranges.some((r) => range[0] >= r[0] && range[1] <= r[1]);
  }

  /** Learned fields with how often the baselines differed in them. */
  learned(): { field: string; count: number }[] {
    return [...this.fields].map(([field, count]) => ({ field, count })).sort((a, b) => b.count - a.count || a.field.localeCompare(b.field));
  }
}
