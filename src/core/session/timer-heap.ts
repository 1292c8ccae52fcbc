/** Something with one deadline, kept in a TimerHeap (heapIndex −1 = not queued). */
export interface Timed {
  deadline: number;
  heapIndex: number;
}

/**
 * Indexed binary min-heap on `deadline`: one entry per item, re-keyed in place in O(log n), so a
 * session re-arming its timer on every packet does not pile up stale entries.
 */
export class TimerHeap<T extends Timed> {
  private items: T[] = [];

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
    if (item.heapIndex < 0) {
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.up(item.heapIndex);
    } else {
      this.up(item.heapIndex);
      this.down(item.heapIndex);
    }
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.items.pop() as T;
    item.heapIndex = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(i);
    }
  }

  private up(i: number): void {
    const a = this.items;
    const x = a[i] as T;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = a[p] as T;
      if (y.deadline <= x.deadline) break;
      a[i] = y;
      y.heapIndex = i;
      i = p;
    }
    a[i] = x;
    x.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    const x = a[i] as T;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (a[r] as T).deadline < (a[c] as T).deadline) c = r;
      const y = a[c] as T;
      if (y.deadline >= x.deadline) break;
      a[i] = y;
      y.heapIndex = i;
      i = c;
    }
    a[i] = x;
    x.heapIndex = i;
  }
}
