import type { Buffer } from 'node:buffer';

/**
 * Copies `len` bytes from src[srcOff…] to dst[dstOff…] without allocating. Node's
 * `Buffer.prototype.copy` makes a new Uint8Array view whenever the source range is not the
 * whole source buffer (≈190 heap bytes per call in measurements), which on the per-response path
 * was the largest single allocation. Records are 64–192 bytes: a word loop is as fast here.
 * Ranges must lie inside both buffers and must not overlap.
 */
export function copyBytes(src: Buffer, srcOff: number, dst: Buffer, dstOff: number, len: number): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) dst.writeInt32LE(src.readInt32LE(srcOff + i), dstOff + i);
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i] as number;
}
