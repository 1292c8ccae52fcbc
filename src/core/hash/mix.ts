/**
 * 32-bit avalanche mix (the murmur3 finaliser), shared by the session engine's hashes and
 * intercept's connection choice. A leaf module so any core folder can use it without a cycle.
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
