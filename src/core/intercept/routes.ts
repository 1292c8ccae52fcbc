/**
 * Exact route table: (client ip, client port, target ip, target port) → copier connection id.
 *
 * Keyed by the exact 48-bit client address (ip * 65536 + port, exact in a double), with a short
 * chain per client for the rare case of one client address talking to several targets. Lookups
 * allocate nothing. Unlike stock (lossy 32-bit sum key, routes never deleted), routes go away on
 * CLIENT_DEL, when their connection dies, when idle longer than `idleUs`, and oldest-first when
 * the table is over `maxRoutes`.
 */
export interface RouteEntry {
  targetIp: number;
  targetPort: number;
  conn: number;
  lastUsedUs: number;
  next: RouteEntry | null;
}

export function clientKey(ip: number, port: number): number {
  return (ip >>> 0) * 65536 + (port & 0xffff);
}

export class RouteTable {
  private readonly map = new Map<number, RouteEntry>();
  private n = 0;

  constructor(
    readonly maxRoutes: number,
    readonly idleUs: number,
  ) {}

  get size(): number {
    return this.n;
  }

  /** Adds or refreshes a route; returns the connection it pointed to before (-1 if new). */
  add(cip: number, cport: number, tip: number, tport: number, conn: number, nowUs: number): number {
    const key = clientKey(cip, cport);
    const head = this.map.get(key);
    for (let e = head ?? null; e !== null; e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) {
        const prev = e.conn;
        e.conn = conn;
        e.lastUsedUs = nowUs;
        return prev;
      }
    }
    this.map.set(key, { targetIp: tip, targetPort: tport, conn, lastUsedUs: nowUs, next: head ?? null });
    this.n++;
    if (this.n > this.maxRoutes) this.evictOldest();
    return -1;
  }

  /** Connection for the exact route, or -1. Marks the route used. */
  lookup(cip: number, cport: number, tip: number, tport: number, nowUs: number): number {
    for (let e = this.map.get(clientKey(cip, cport)) ?? null; e !== null; e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) {
        e.lastUsedUs = nowUs;
        return e.conn;
      }
    }
    return -1;
  }

  /** Connection the exact route points to, or -1 (does not mark it used). */
  owner(cip: number, cport: number, tip: number, tport: number): number {
    for (let e = this.map.get(clientKey(cip, cport)) ?? null; e !== null; e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) return e.conn;
    }
    return -1;
  }

  /** Deletes the route if it belongs to `conn` (a copier may only delete its own routes). */
  delete(cip: number, cport: number, tip: number, tport: number, conn: number): boolean {
    const key = clientKey(cip, cport);
    let prev: RouteEntry | null = null;
    for (let e = this.map.get(key) ?? null; e !== null; prev = e, e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) {
        if (e.conn !== conn) return false;
        this.unlink(key, prev, e);
        return true;
      }
    }
    return false;
  }

  /** Drops every route of a dead connection; returns how many. O(routes), only on disconnect. */
  removeConn(conn: number): number {
    let removed = 0;
    for (const [key, head] of this.map) {
      let prev: RouteEntry | null = null;
      for (let e: RouteEntry | null = head; e !== null; ) {
        const next: RouteEntry | null = e.next;
        if (e.conn === conn) {
          this.unlink(key, prev, e);
          removed++;
        } else prev = e;
        e = next;
      }
    }
    return removed;
  }

  /**
   * Expires idle routes, visiting at most `budget` clients from the oldest-inserted end. A client
   * whose routes are still in use is moved to the young end, so a sweep never loops on it.
   */
  sweep(nowUs: number, budget: number): number {
    let removed = 0;
    for (const [key, head] of this.map) {
      if (budget-- <= 0) break;
      let prev: RouteEntry | null = null;
      for (let e: RouteEntry | null = head; e !== null; ) {
        const next: RouteEntry | null = e.next;
        if (nowUs - e.lastUsedUs >= this.idleUs) {
          this.unlink(key, prev, e);
          removed++;
        } else {
          prev = e;
        }
        e = next;
      }
      const still = this.map.get(key);
      if (still !== undefined) {
        // Young enough: everything behind it was inserted later but may be idle; re-queue it.
        this.map.delete(key);
        this.map.set(key, still);
      }
    }
    return removed;
  }

  private evictOldest(): void {
    const first = this.map.entries().next();
    if (first.done === true) return;
    const [key, head] = first.value;
    // Drop the whole oldest client chain (usually one entry).
    let count = 0;
    for (let e: RouteEntry | null = head; e !== null; e = e.next) count++;
    this.map.delete(key);
    this.n -= count;
  }

  private unlink(key: number, prev: RouteEntry | null, e: RouteEntry): void {
    if (prev === null) {
      if (e.next === null) this.map.delete(key);
      else this.map.set(key, e.next);
    } else prev.next = e.next;
    this.n--;
  }
}
