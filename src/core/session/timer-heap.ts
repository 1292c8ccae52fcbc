/** Something with one deadline, kept in a TimerHeap (heapIndex −1 = not queued). */
export interface Timed {
  deadline: number;
  heapIndex: number;
}

/**
 * Indexed binary min-heap on `deadline`: one entry per item, re-keyed in place in O(log n), so a
 * session re-arming its timer on every packet does not pile up stale entries.
 *
 * The deadlines are also kept in a Float64Array parallel to the items: sifting compares them
 * there instead of loading each item (with 10,000+ sessions every item load is a cache miss,
 * and a session's deadline is itself a load from its slab row).
 */
export class TimerHeap<T extends Timed> {
  private items: T[] = [];
  private keys = new Float64Array(64);

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Insert, move or remove (deadline = Infinity removes) an item. */
  update(item: T, deadline: number): void {
    item.deadline = deadline;
    if (deadline === Infinity) {
      if (item.heapIndex >= 0) this.remove(item);
      return;
    }
    const i = item.heapIndex;
    if (i < 0) {
      const n = this.items.length;
      if (n === this.keys.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(this.keys);
        this.keys = bigger;
      }
      this.items.push(item);
      this.up(n, item, deadline);
    } else if (i > 0 && (this.keys[(i - 1) >> 1] as number) > deadline) {
      this.up(i, item, deadline);
    } else {
      this.down(i, item, deadline);
    }
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.items.pop() as T;
    item.heapIndex = -1;
    const n = this.items.length;
    if (i < n) {
      const d = this.keys[n] as number;
      if (i > 0 && (this.keys[(i - 1) >> 1] as number) > d) this.up(i, last, d);
      else this.down(i, last, d);
    }
  }

  /** Place x (deadline d) at hole i or above it. */
  private up(i: number, x: T, d: number): void {
    const a = this.items;
    const k = this.keys;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = k[p] as number;
      if (pd <= d) break;
      const y = a[p] as T;
      a[i] = y;
      k[i] = pd;
      y.heapIndex = i;
      i = p;
    }
    a[i] = x;
    k[i] = d;
    x.heapIndex = i;
  }

  /** Place x (deadline d) at hole i or below it. */
  private down(i: number, x: T, d: number): void {
    const a = this.items;
    const k = this.keys;
    const n = a.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let cd = k[c] as number;
      const r = c + 1;
      if (r < n) {
        const rd = k[r] as number;
        if (rd < cd) {
          c = r;
          cd = rd;
        }
      }
      if (cd >= d) break;
      const y = a[c] as T;
      a[i] = y;
      k[i] = cd;
      y.heapIndex = i;
      i = c;
    }
    a[i] = x;
    k[i] = d;
    x.heapIndex = i;
  }
}
