// A scripted stand-in for the rawsend addon (src/native/rawsend/rawsend.c), so the batching,
// push-back and accounting of RawBatchSink can be tested without root or a kernel. It follows
// the addon's contract: packets in order, errs[i] = 0 or errno, stop at the first push-back.
import { Buffer } from 'node:buffer';
import { constants } from 'node:os';
import type { RawSendCounters, RawSendModule, RawSendNative } from '../../../src/io/raw-batch-sink.js';

export const E = constants.errno;

export interface Delivered {
  bytes: Buffer;
  dst: number;
}

export class FakeSender implements RawSendNative {
  readonly sndbuf: number;
  readonly delivered: Delivered[] = [];
  /** Packet counts of each sendBatch call. */
  readonly calls: number[] = [];
  /** Packets the "kernel" takes before pushing back (Infinity: no limit). */
  room = Infinity;
  /** What running out of room reports. */
  pushBack: number = E.EAGAIN;
  /** Destinations refused for good, with the errno. */
  readonly refuse = new Map<number, number>();
  waits = 0;
  waiting = false;
  closed = false;
  errQueueByErrno: Record<string, number> = {};

  constructor(
    opts: { sndbuf: number },
    readonly onWritable: (status: number) => void,
  ) {
    this.sndbuf = opts.sndbuf * 2;
  }

  /** Batches bound and not unbound, by id. */
  readonly bound = new Map<number, { slab: Buffer; offsets: Uint32Array; lengths: Uint32Array; dsts: Uint32Array; errs: Int32Array }>();
  private nextId = 0;

  bind(slab: Buffer, offsets: Uint32Array, lengths: Uint32Array, dsts: Uint32Array, errs: Int32Array): number {
    if (this.closed) throw new Error('bind after close');
    const id = this.nextId++;
    this.bound.set(id, { slab, offsets, lengths, dsts, errs });
    return id;
  }

  unbind(id: number): void {
    this.bound.delete(id);
  }

  sendBatch(id: number, start: number, count: number): number {
    if (this.closed) throw new Error('sendBatch after close');
    const b = this.bound.get(id);
    if (b === undefined) throw new RangeError(`no batch ${id}`);
    const { slab, offsets, lengths, dsts, errs } = b;
    this.calls.push(count);
    for (let k = start; k < start + count; k++) {
      const dst = dsts[k] as number;
      const e = this.refuse.get(dst);
      if (e !== undefined) {
        errs[k] = e;
        continue;
      }
      if (this.room <= 0) {
        errs[k] = this.pushBack;
        return k - start;
      }
      this.room--;
      errs[k] = 0;
      const off = offsets[k] as number;
      this.delivered.push({ bytes: Buffer.from(slab.subarray(off, off + (lengths[k] as number))), dst });
    }
    return count;
  }

  waitWritable(): void {
    this.waits++;
    this.waiting = true;
  }

  /** The socket drained: room for `room` more packets; fires the armed wait, if any. */
  writable(room = Infinity): void {
    this.room = room;
    if (!this.waiting) return;
    this.waiting = false;
    this.onWritable(0);
  }

  stats(): RawSendCounters {
    return {
      sendCalls: this.calls.length,
      packets: this.delivered.length,
      bytes: 0,
      refused: 0,
      eagain: 0,
      enobufs: 0,
      maxBatch: Math.max(0, ...this.calls),
      wakeups: 0,
      writableWakeups: 0,
      pollErrors: 0,
      errQueue: Object.values(this.errQueueByErrno).reduce((a, b) => a + b, 0),
      soErrors: 0,
      errQueueByErrno: this.errQueueByErrno,
      waitingWritable: this.waiting,
      closed: this.closed,
    };
  }

  close(): void {
    this.closed = true;
    this.waiting = false;
    this.bound.clear();
  }
}

/** A module whose RawSender is a FakeSender; `last` is the one made most recently. */
export function fakeModule(): { mod: RawSendModule; last: () => FakeSender } {
  let made: FakeSender | null = null;
  const mod: RawSendModule = {
    RawSender: function RawSender(opts: { sndbuf: number }, cb: (status: number) => void): FakeSender {
      made = new FakeSender(opts, cb);
      return made;
    } as unknown as RawSendModule['RawSender'],
  };
  return {
    mod,
    last: () => {
      if (made === null) throw new Error('no sender made yet');
      return made;
    },
  };
}
