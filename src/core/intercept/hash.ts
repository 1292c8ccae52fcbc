import { mix32 } from '../hash/mix.js';

/**
 * Stable choice of a copier connection for a response that has no route (stock single-mode
 * copiers never send CLIENT_ADD). The input is the exact client address, so every record of one
 * session goes to the same connection, in order. The finaliser mixes all 48 bits, so sessions
 * spread evenly even when client addresses differ only in the port (unlike stock's sum of first
 * octets and port high bytes).
 */
export function clientHash(ip: number, port: number): number {
  return mix32((ip ^ Math.imul(port, 0x9e3779b1)) >>> 0);
}

/** Index in 0..n-1 by modulo (moves most keys when n changes; see pickOwner). */
export function pickIndex(ip: number, port: number, n: number): number {
  return clientHash(ip, port) % n;
}

/**
 * Rendezvous (highest random weight) choice among `items` by their stable `id`: each session
 * goes to the item whose (session, id) weight is highest. When an item leaves, only its sessions
 * move; when one joins, it takes a fair share and no session moves between the others. (A modulo
 * over the live list re-dealt most sessions to other connections whenever any copier connection
 * came or went, splitting a session's records over two connections.) O(n) with n the number of
 * copier connections (a handful); no allocation. `items` must not be empty.
 */
export function pickOwner<T extends { readonly id: number }>(items: readonly T[], ip: number, port: number): T {
  const h = clientHash(ip, port);
  let best = items[0] as T;
  let bestW = -1;
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as T;
    const w = mix32((h ^ Math.imul(it.id + 1, 0x27d4eb2f)) >>> 0);
    if (w > bestW) {
      bestW = w;
      best = it;
    }
  }
  return best;
}
