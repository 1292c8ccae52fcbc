/**
 * TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
 *
 * Two sequence numbers are compared by the sign of their 32-bit difference, which is correct as
 * long as they are less than 2^31 apart — always true for live windows. All results are plain
 * numbers in [0, 2^32) (unsigned) except seqDiff, which is signed.
 */

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n mod 2^32 (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed 32-bit distance a − b: how far a is ahead of b (negative when behind). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * lo <= x < hi in sequence space (half-open, wrapping). An empty range (lo == hi) holds nothing.
 * Measured as offsets from lo so that ranges crossing 2^32 work.
 */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}

/** Minimum/maximum of two sequence numbers in sequence space. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? a : b;
}

export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) > 0 ? a : b;
}
