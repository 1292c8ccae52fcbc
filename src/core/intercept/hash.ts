/**
 * Stable choice of a copier connection for a response that has no route (stock single-mode
 * copiers never send CLIENT_ADD). The input is the exact client address, so every record of one
 * session goes to the same connection, in order, as long as the set of live connections does not
 * change. The finaliser mixes all 48 bits, so sessions spread evenly even when client addresses
 * differ only in the port (unlike stock's sum of first octets and port high bytes).
 */
export function clientHash(ip: number, port: number): number {
  let h = (ip ^ Math.imul(port, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function pickIndex(ip: number, port: number, n: number): number {
  return clientHash(ip, port) % n;
}
