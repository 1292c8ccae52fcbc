/**
 * A discrete-event world for the session engine: a fake clock, an event queue, and lossy links
 * between the engine, a fake target TCP and a fake interceptor. Nothing here touches the network.
 */

interface Ev {
  at: number;
  order: number;
  fn: () => void;
}

export class World {
  now: number;
  private q: Ev[] = [];
  private order = 0;

  constructor(startUs = 1_700_000_000_000_000) {
    this.now = startUs;
  }

  schedule(at: number, fn: () => void): void {
    const e: Ev = { at: Math.max(at, this.now), order: this.order++, fn };
    const q = this.q;
    q.push(e);
    let i = q.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = q[p] as Ev;
      if (y.at < e.at || (y.at === e.at && y.order < e.order)) break;
      q[i] = y;
      i = p;
    }
    q[i] = e;
  }

  after(delayUs: number, fn: () => void): void {
    this.schedule(this.now + delayUs, fn);
  }

  nextAt(): number {
    return this.q.length === 0 ? Infinity : (this.q[0] as Ev).at;
  }

  /** Pop and run the earliest event (the caller checks nextAt first). */
  runOne(): void {
    const q = this.q;
    const top = q[0] as Ev;
    const last = q.pop() as Ev;
    if (q.length > 0) {
      let i = 0;
      const n = q.length;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        const r = c + 1;
        if (r < n && less(q[r] as Ev, q[c] as Ev)) c = r;
        if (!less(q[c] as Ev, last)) break;
        q[i] = q[c] as Ev;
        i = c;
      }
      q[i] = last;
    }
    this.now = Math.max(this.now, top.at);
    top.fn();
  }
}

function less(a: Ev, b: Ev): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** Fault injection for a link: per packet, how many copies arrive and after what extra delay. */
export interface LinkFaults {
  /** Return copies to deliver: [] = drop, [0] = normal, [0, 0] = duplicate, [5000] = delay 5 ms. */
  (index: number, pkt: Buffer): number[];
}

export const noFaults: LinkFaults = () => [0];

export { prng as rng } from '../helpers/prng.js';
