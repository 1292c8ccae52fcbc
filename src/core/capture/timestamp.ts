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
}

export const MICROSECONDS: TsResolution = { unitsPerSec: 1e6, base2: false, exponent: 6, offsetSec: 0 };

/** Decodes the if_tsresol option byte: MSB clear → 10^-n, MSB set → 2^-n. */
export function resolutionFromByte(b: number, offsetSec: number): TsResolution {
  const base2 = (b & 0x80) !== 0;
  const exponent = b & 0x7f;
  return { unitsPerSec: base2 ? 2 ** exponent : 10 ** exponent, base2, exponent, offsetSec };
}

export interface TsTarget {
  tsSec: number;
  tsNsec: number;
}

const TWO32 = 4294967296;
const SAFE = 9007199254740992; // 2^53

/** Nanoseconds for `rem` units (< unitsPerSec). */
function fractionToNs(rem: number, r: TsResolution): number {
  if (!r.base2) {
    if (r.exponent <= 9) return rem * 10 ** (9 - r.exponent);
    const div = 10 ** (r.exponent - 9);
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
  let sec: number;
  let rem: number;
  if (hi < 0x200000) {
    // The whole value fits in 53 bits: one division plus an off-by-one fix for rounding.
    const u = hi * TWO32 + lo;
    sec = Math.floor(u / d);
    rem = u - sec * d;
    if (rem < 0) {
      sec--;
      rem += d;
    } else if (rem >= d) {
      sec++;
      rem -= d;
    }
  } else if (d * 65536 < SAFE) {
    // Long division in base 2^16 (e.g. nanosecond units): every partial value stays exact.
    sec = 0;
    rem = 0;
    for (let i = 0; i < 4; i++) {
      const digit = i === 0 ? hi >>> 16 : i === 1 ? hi & 0xffff : i === 2 ? lo >>> 16 : lo & 0xffff;
      const cur = rem * 65536 + digit;
      let q = Math.floor(cur / d);
      rem = cur - q * d;
      if (rem < 0) {
        q--;
        rem += d;
      } else if (rem >= d) {
        q++;
        rem -= d;
      }
      sec = sec * 65536 + q;
    }
  } else {
    const u = (BigInt(hi) << 32n) | BigInt(lo);
    const bd = BigInt(d);
    sec = Number(u / bd);
    rem = Number(u % bd);
  }
  out.tsSec = sec + r.offsetSec;
  out.tsNsec = fractionToNs(rem, r);
}
