import type { Buffer } from 'node:buffer';

/**
 * A 64-bit body digest (two independent FNV-1a-style 32-bit lanes, hex). Not cryptographic: it
 * only tells equal bodies from different ones in the report, and the core may not use node:crypto.
 */
export function digest64(bytes: Buffer, start = 0, end = bytes.length): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // Fold the length in so a prefix of zero bytes does not collide with the empty body.
  b = Math.imul(b ^ (end - start), 0x01000193);
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
