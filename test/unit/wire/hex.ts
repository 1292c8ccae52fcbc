import { Buffer } from 'node:buffer';

/** Parses hex dumps as written in docs/wire-protocol.md and tcpdump -x: offsets ("00:", "0x0010:") and spaces ignored. */
export function hex(text: string): Buffer {
  const clean = text
    .split('\n')
    .map((line) => line.replace(/^\s*(0x)?[0-9a-f]+:/i, ''))
    .join('')
    .replace(/[^0-9a-f]/gi, '');
  return Buffer.from(clean, 'hex');
}

/** IPv4 header checksum check (sum over the header must fold to 0xffff). */
export function ipChecksumOk(buf: Buffer, off = 0, len = 20): boolean {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += buf.readUInt16BE(off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
