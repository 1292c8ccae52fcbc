import { mix32 } from '../hash/mix.js';

/**
 * Exact map from a TCP 4-tuple (ipA, portA, ipB, portB) to a value: open addressing with linear
 * probing over typed arrays, comparing all 96 key bits (never a lossy hash), no allocation per
 * lookup. Deletion shifts later entries back, so there are no tombstones.
 */
export class TupleMap<V> {
  private cap: number;
  private mask: number;
  private keys: Uint32Array; // 3 words per slot: ipA, ipB, portA<<16|portB
  private used: Uint8Array;
  private vals: (V | undefined)[];
  private count = 0;

  constructor(initialCapacity = 1024) {
    let c = 16;
    while (c < initialCapacity * 2) c *= 2;
    this.cap = c;
    this.mask = c - 1;
    this.keys = new Uint32Array(c * 3);
    this.used = new Uint8Array(c);
    this.vals = new Array<V | undefined>(c);
  }

  get size(): number {
    return this.count;
  }

  private slotOf(ipA: number, portA: number, ipB: number, portB: number): number {
    const p = ((portA << 16) | portB) >>> 0;
    let h = mix32((ipA ^ Math.imul(p, 0x9e3779b1)) >>> 0);
    h = mix32((h ^ ipB) >>> 0);
    let i = h & this.mask;
    const k = this.keys;
    while (this.used[i] === 1) {
      const j = i * 3;
      if (k[j] === ipA && k[j + 1] === ipB && k[j + 2] === p) return i;
      i = (i + 1) & this.mask;
    }
    return i;
  }

  get(ipA: number, portA: number, ipB: number, portB: number): V | undefined {
    const i = this.slotOf(ipA >>> 0, portA, ipB >>> 0, portB);
    return this.used[i] === 1 ? this.vals[i] : undefined;
  }

  has(ipA: number, portA: number, ipB: number, portB: number): boolean {
    return this.used[this.slotOf(ipA >>> 0, portA, ipB >>> 0, portB)] === 1;
  }

  set(ipA: number, portA: number, ipB: number, portB: number, v: V): void {
    // Up to 3/4 full: linear probing stays short there, and at 150,000 sessions (load mode) a
    // half-full limit doubled both tables' memory (21 bytes a slot) for a few probes less.
    if ((this.count + 1) * 4 > this.cap * 3) this.grow();
    const i = this.slotOf(ipA >>> 0, portA, ipB >>> 0, portB);
    if (this.used[i] !== 1) {
      this.used[i] = 1;
      const j = i * 3;
      this.keys[j] = ipA >>> 0;
      this.keys[j + 1] = ipB >>> 0;
      this.keys[j + 2] = ((portA << 16) | portB) >>> 0;
      this.count++;
    }
    this.vals[i] = v;
  }

  delete(ipA: number, portA: number, ipB: number, portB: number): boolean {
    let i = this.slotOf(ipA >>> 0, portA, ipB >>> 0, portB);
    if (this.used[i] !== 1) return false;
    this.count--;
    // Backward-shift deletion keeps every remaining key reachable from its home slot.
    const k = this.keys;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      if (this.used[j] !== 1) break;
      const home = this.homeOf(j);
      // Move j into the hole at i if its home is not in the cyclic range (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        k[i * 3] = k[j * 3] as number;
        k[i * 3 + 1] = k[j * 3 + 1] as number;
        k[i * 3 + 2] = k[j * 3 + 2] as number;
        this.vals[i] = this.vals[j];
        i = j;
      }
    }
    this.used[i] = 0;
    this.vals[i] = undefined;
    return true;
  }

  private homeOf(slot: number): number {
    const k = this.keys;
    const j = slot * 3;
    const p = k[j + 2] as number;
    let h = mix32(((k[j] as number) ^ Math.imul(p, 0x9e3779b1)) >>> 0);
    h = mix32((h ^ (k[j + 1] as number)) >>> 0);
    return h & this.mask;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    const oldVals = this.vals;
    const oldCap = this.cap;
    this.cap *= 2;
    this.mask = this.cap - 1;
    this.keys = new Uint32Array(this.cap * 3);
    this.used = new Uint8Array(this.cap);
    this.vals = new Array<V | undefined>(this.cap);
    this.count = 0;
    for (let i = 0; i < oldCap; i++) {
      if (oldUsed[i] !== 1) continue;
      const j = i * 3;
      const p = oldKeys[j + 2] as number;
      this.set(oldKeys[j] as number, p >>> 16, oldKeys[j + 1] as number, p & 0xffff, oldVals[i] as V);
    }
  }

  /** Visit every entry (order unspecified). The callback must not modify the map. */
  forEach(fn: (v: V) => void): void {
    for (let i = 0; i < this.cap; i++) if (this.used[i] === 1) fn(this.vals[i] as V);
  }
}
