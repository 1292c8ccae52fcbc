import type { Buffer } from 'node:buffer';
import { clientKey } from './routes.js';

/**
 * Delay table: SYN-ACK / RST records that arrived before the CLIENT_ADD announcing their route
 * (the raw SYN can overtake the route message). Exact-keyed like the route table. Entries live
 * `lifetimeUs` (30 s) from creation, as stock; the total number of records held is bounded by
 * `maxRecords` and records beyond it are refused (counted by the caller).
 */
interface DelayEntry {
  targetIp: number;
  targetPort: number;
  createdUs: number;
  records: Buffer[];
  next: DelayEntry | null;
}

export class DelayTable {
  private readonly map = new Map<number, DelayEntry>();
  private held = 0;

  constructor(
    readonly maxRecords: number,
    readonly lifetimeUs: number,
  ) {}

  /** Records currently held. */
  get size(): number {
    return this.held;
  }

  /** Stores a copy-owned record; false when the table is full. */
  put(cip: number, cport: number, tip: number, tport: number, record: Buffer, nowUs: number): boolean {
    if (this.held >= this.maxRecords) return false;
    const key = clientKey(cip, cport);
    const head = this.map.get(key);
    for (let e = head ?? null; e !== null; e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) {
        e.records.push(record);
        this.held++;
        return true;
      }
    }
    this.map.set(key, { targetIp: tip, targetPort: tport, createdUs: nowUs, records: [record], next: head ?? null });
    this.held++;
    return true;
  }

  /** Removes and returns the records waiting for this exact route, in arrival order. */
  take(cip: number, cport: number, tip: number, tport: number): Buffer[] | null {
    const key = clientKey(cip, cport);
    let prev: DelayEntry | null = null;
    for (let e = this.map.get(key) ?? null; e !== null; prev = e, e = e.next) {
      if (e.targetIp === tip && e.targetPort === tport) {
        if (prev !== null) prev.next = e.next;
        else if (e.next === null) this.map.delete(key);
        else this.map.set(key, e.next);
        this.held -= e.records.length;
        return e.records;
      }
    }
    return null;
  }

  /**
   * Removes every held record; returns those created within `maxAgeUs` (per route in arrival
   * order, routes oldest first) and counts the older ones in `expiredOut[0]`.
   */
  takeAll(nowUs: number, maxAgeUs: number, expiredOut: number[]): Buffer[] {
    const out: Buffer[] = [];
    const chains = [...this.map.values()];
    this.map.clear();
    this.held = 0;
    let expired = 0;
    for (const head of chains) {
      const entries: DelayEntry[] = [];
      for (let e: DelayEntry | null = head; e !== null; e = e.next) entries.push(e);
      // Chains are newest-first (prepended); deliver oldest first.
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i] as DelayEntry;
        if (nowUs - e.createdUs > maxAgeUs) expired += e.records.length;
        else out.push(...e.records);
      }
    }
    expiredOut[0] = expired;
    return out;
  }

  /**
   * Destroys entries older than the lifetime; returns the number of records discarded. A full
   * scan: the table is bounded by `maxRecords` and normally near empty, and this runs once a second.
   */
  expire(nowUs: number): number {
    let dropped = 0;
    for (const [key, head] of this.map) {
      let prev: DelayEntry | null = null;
      for (let e: DelayEntry | null = head; e !== null; ) {
        const next: DelayEntry | null = e.next;
        if (nowUs - e.createdUs >= this.lifetimeUs) {
          dropped += e.records.length;
          this.held -= e.records.length;
          if (prev !== null) prev.next = next;
          else if (next === null) this.map.delete(key);
          else this.map.set(key, next);
        } else {
          prev = e;
        }
        e = next;
      }
    }
    return dropped;
  }
}
