/**
 * Deterministic randomness and hashing for the engine (core has no Math.random). Everything
 * random in a replay derives from the configured seed, so a replay can be repeated exactly.
 */

import { mix32 } from '../hash/mix.js';

/** Hash of up to four 32-bit words plus a key; stable across runs for the same inputs. */
export function hash4(a: number, b: number, c: number, d: number, key: number): number {
  let h = mix32((key ^ 0x9e3779b9) >>> 0);
  h = mix32((h ^ a) >>> 0);
  h = mix32((h + Math.imul(b | 0, 0x27d4eb2d)) >>> 0);
  h = mix32((h ^ c) >>> 0);
  h = mix32((h + Math.imul(d | 0, 0x165667b1)) >>> 0);
  return h;
}

/** Small seeded generator (mulberry32). */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next unsigned 32-bit value. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return this.nextU32() % n;
  }
}
