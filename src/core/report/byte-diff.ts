import type { Buffer } from 'node:buffer';

/** Where two byte strings first differ, with a short escaped window of each side. */
export interface ByteDiff {
  /** Offset of the first differing byte (the shorter length when one is a prefix of the other). */
  offset: number;
  reference: string;
  test: string;
}

const BEFORE = 16;
const AFTER = 48;

/** Printable ASCII as is, common controls as \r \n \t, everything else as \xNN. */
export function escapeBytes(bytes: Buffer, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** First difference of a and b, or null when they are equal. Windows start a little before it. */
export function firstDifference(reference: Buffer, test: Buffer): ByteDiff | null {
  const n = Math.min(reference.length, test.length);
  let i = 0;
  while (i < n && reference[i] === test[i]) i++;
  if (i === n && reference.length === test.length) return null;
  const from = Math.max(0, i - BEFORE);
  const window = (b: Buffer): string => {
    const end = Math.min(b.length, i + AFTER);
    return (from > 0 ? '…' : '') + escapeBytes(b, from, end) + (end < b.length ? '…' : '');
  };
  return { offset: i, reference: window(reference), test: window(test) };
}

/**
 * Byte ranges [start, end) where two equal-length buffers differ, gaps shorter than `join`
 * merged; at most `max` ranges (the last one absorbs the rest). Learns noisy spans of opaque bodies.
 */
export function differingRanges(a: Buffer, b: Buffer, join = 8, max = 16): [number, number][] {
  const out: [number, number][] = [];
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const last = out[out.length - 1];
    if (last !== undefined && (i - last[1] < join || out.length >= max)) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}
