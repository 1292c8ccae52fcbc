/**
 * pcapng timestamps are a 64-bit count of interface-specific units (if_tsresol: 10^-n or 2^-n s),
 * stored as two 32-bit halves. Converting without BigInt keeps the per-packet path allocation-free:
 * the common cases use exact double arithmetic, the exotic ones fall back to BigInt.
 */

/** Per-interface timestamp resolution. */
export interface TsResolution {
  /** Units per second (10^n or 2^n). */
  readonly unitsPerSec: number;
  readonly base2: boolean;
  /** The exponent n. */
  readonly exponent: number;
  /** if_tsoffset: seconds added to every timestamp. */
  readonly offsetSec: number;
  /** Precomputed (no Math.pow per packet): base 10, n ≤ 9: ns per unit; n > 9: units per ns. */
  readonly nsPerUnit: number;
  readonly unitsPerNs: number;
  /** 1 / unitsPerSec: quotients by multiplication (then corrected by ±1), far cheaper than division. */
  readonly inverse: number;
}

/** Decodes the if_tsresol option byte: MSB clear → 10^-n, MSB set → 2^-n. */
export function resolutionFromByte(b: number, offsetSec: number): TsResolution {
  const base2 = (b & 0x80) !== 0;
  const exponent = b & 0x7f;
  return {
    unitsPerSec: base2 ? 2 ** exponent : 10 ** exponent,
    base2,
    exponent,
    offsetSec,
    nsPerUnit: !base2 && exponent <= 9 ? 10 ** (9 - exponent) : 0,
    unitsPerNs: !base2 && exponent > 9 ? 10 ** (exponent - 9) : 0,
    inverse: 1 / (base2 ? 2 ** exponent : 10 ** exponent),
  };
}

export const MICROSECONDS: TsResolution = resolutionFromByte(6, 0);

export interface TsTarget {
  tsSec: number;
  tsNsec: number;
}

const TWO32 = 4294967296;
const SAFE = 9007199254740992; // 2^53

/** Nanoseconds for `rem` units (< unitsPerSec). */
function fractionToNs(rem: number, r: TsResolution): number {
  if (r.nsPerUnit !== 0) return rem * r.nsPerUnit;
  if (!r.base2) {
    const div = r.unitsPerNs;
    return (rem - (rem % div)) / div;
  }
  const scaled = rem * 1e9;
  // Division by a power of two is exact in binary floating point when the numerator is exact.
  if (scaled < SAFE) return Math.floor(scaled / r.unitsPerSec);
  return Number((BigInt(rem) * 1000000000n) / BigInt(r.unitsPerSec));
}

/** Writes seconds and nanoseconds of the timestamp hi:lo into out. */
export function splitTimestamp(hi: number, lo: number, r: TsResolution, out: TsTarget): void {
  const d = r.unitsPerSec;
  const inv = r.inverse;
  let sec: number;
  let rem: number;
  if (hi < 0x200000) {
    // The whole value fits in 53 bits: one quotient, off by at most one after rounding.
    const u = hi * TWO32 + lo;
    sec = Math.floor(u * inv);
    rem = u - sec * d;
    if (rem < 0) {
      sec--;
      rem += d;
    } else if (rem >= d) {
      sec++;
      rem -= d;
    }
  } else if (d * 65536 < SAFE) {
    // Long division: hi, then two 16-bit digits of lo (e.g. nanosecond units). Every partial
    // dividend is below d * 2^16 < 2^53, so each step is exact after its ±1 correction.
    let q = Math.floor(hi * inv);
    let x = hi - q * d;
    if (x < 0) {
      q--;
      x += d;
    } else if (x >= d) {
      q++;
      x -= d;
    }
    sec = q * TWO32;
    x = x * 65536 + (lo >>> 16);
    q = Math.floor(x * inv);
    x -= q * d;
    if (x < 0) {
      q--;
      x += d;
    } else if (x >= d) {
      q++;
      x -= d;
    }
    sec += q * 65536;
    x = x * 65536 + (lo & 0xffff);
    q = Math.floor(x * inv);
    x -= q * d;
    if (x < 0) {
      q--;
      x += d;
    } else if (x >= d) {
      q++;
      x -= d;
    }
    sec += q;
    rem = x;
  } else {
    const u = (BigInt(hi) << 32n) | BigInt(lo);
    const bd = BigInt(d);
    sec = Number(u / bd);
    rem = Number(u % bd);
  }
  out.tsSec = sec + r.offsetSec;
  out.tsNsec = fractionToNs(rem, r);
}
