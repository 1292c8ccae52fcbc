import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { setImmediate as turn } from 'node:timers/promises';
import { RawBatchSink, type BatchSinkOptions } from '../../../src/io/raw-batch-sink.js';
import { RawSinkError } from '../../../src/io/packet-sink.js';
import { E, fakeModule, type FakeSender } from './fake-raw-send.js';

// RawBatchSink's batching, push-back and accounting against a fake addon (no root, no kernel).

const DST = 0x0a000002;

function open(opts: BatchSinkOptions = {}): { sink: RawBatchSink; fake: FakeSender } {
  const f = fakeModule();
  const sink = new RawBatchSink(f.mod, opts);
  return { sink, fake: f.last() };
}

/** Sends packets 0..n-1 of `len` bytes from ONE reused buffer; byte 0..3 = the index. */
function sendMany(sink: RawBatchSink, from: number, n: number, len = 60, dst = DST): string[] {
  const scratch = Buffer.alloc(Math.max(2048, len));
  const results: string[] = [];
  for (let i = from; i < from + n; i++) {
    scratch.fill(i & 0xff, 0, len);
    scratch.writeUInt32BE(i, 0);
    results.push(sink.send(scratch, 0, len, dst));
  }
  return results;
}

const indexes = (f: FakeSender): number[] => f.delivered.map((d) => d.bytes.readUInt32BE(0));
const range = (a: number, n: number): number[] => Array.from({ length: n }, (_, k) => a + k);

test('packets sent in one turn go out together, in order, in one call when the turn ends; the caller may reuse its buffer', async () => {
  const { sink, fake } = open();
  assert.equal(sink.backend, 'sendmmsg');
  assert.deepEqual(sendMany(sink, 0, 100), Array(100).fill('sent'));
  assert.deepEqual(fake.calls, [], 'nothing handed over before the turn ends');
  await Promise.resolve();
  assert.deepEqual(fake.calls, [100], 'out before the next microtask of the caller: no extra loop iteration');
  assert.deepEqual(indexes(fake), range(0, 100));
  // Each packet kept its own bytes although the scratch buffer was rewritten after every send().
  for (const [i, d] of fake.delivered.entries()) {
    assert.equal(d.bytes.length, 60);
    assert.equal(d.bytes[59], i & 0xff);
    assert.equal(d.dst, DST);
  }
  const st = sink.stats;
  assert.equal(st.sent, 100);
  assert.equal(st.sentBytes, 6000);
  assert.equal(st.batches, 1);
  assert.equal(st.crossings, 1);
  assert.equal(st.queued, 0);
  // Each callback's packets are one batch: two immediates, two batches.
  setImmediate(() => sendMany(sink, 100, 3));
  setImmediate(() => sendMany(sink, 103, 2));
  await turn();
  await turn();
  assert.deepEqual(fake.calls, [100, 3, 2]);
  sink.close();
  assert.ok(fake.closed);
});

test('a full batch goes out at once: batchSize packets, or a full slab', async () => {
  const { sink, fake } = open({ batchSize: 64 });
  sendMany(sink, 0, 130);
  assert.deepEqual(fake.calls, [64, 64], 'two full batches sent inside send()');
  await turn();
  assert.deepEqual(fake.calls, [64, 64, 2]);
  assert.deepEqual(indexes(fake), range(0, 130));

  const big = open({ slabBytes: 65536 });
  sendMany(big.sink, 0, 5, 30000);
  assert.deepEqual(big.fake.calls, [2, 2], 'two 30,000-byte packets fill a 64 KiB slab');
  await turn();
  assert.deepEqual(big.fake.calls, [2, 2, 1]);
  assert.deepEqual(indexes(big.fake), range(0, 5));
  sink.close();
  big.sink.close();
});

test('refusals are counted by errno name and reported; the rest of the batch goes out', async () => {
  const { sink, fake } = open();
  fake.refuse.set(1, E.EMSGSIZE);
  fake.refuse.set(2, E.ENETUNREACH);
  fake.refuse.set(3, E.EPERM);
  const reasons: string[] = [];
  sink.on('refused', (r) => reasons.push(r));
  const scratch = Buffer.alloc(40);
  for (const dst of [DST, 1, DST, 2, 3, DST, 3]) sink.send(scratch, 0, 40, dst);
  await sink.flush();
  assert.deepEqual(fake.calls, [7], 'one call, refusals included');
  assert.equal(fake.delivered.length, 3);
  assert.deepEqual(sink.stats.refusedBy, { EMSGSIZE: 1, ENETUNREACH: 1, EPERM: 2 });
  assert.equal(sink.stats.refused, 4);
  assert.equal(sink.stats.sent, 3);
  assert.deepEqual(reasons, ['EMSGSIZE', 'ENETUNREACH', 'EPERM', 'EPERM']);
  // Refused without a kernel call: what the kernel would refuse anyway.
  assert.equal(sink.send(Buffer.alloc(70000), 0, 65536, DST), 'refused');
  assert.equal(sink.send(scratch, 0, 0, DST), 'refused');
  assert.deepEqual(sink.stats.refusedBy, { EMSGSIZE: 2, ENETUNREACH: 1, EPERM: 2, EINVAL: 1 });
  sink.close();
});

test('EAGAIN: the rest waits for writability (no calls meanwhile), later packets queue behind it, order is kept', async () => {
  const { sink, fake } = open({ highWater: 256 });
  fake.room = 100;
  const r = sendMany(sink, 0, 300);
  // The first 256 went out at once (full batch): 100 taken, then EAGAIN.
  assert.deepEqual(fake.calls, [256]);
  assert.equal(fake.waits, 1, 'writability wait armed once');
  assert.deepEqual(r.slice(0, 255), Array(255).fill('sent'));
  assert.deepEqual(r.slice(255), Array(45).fill('queued'), 'the packet whose send() met the push-back, and those after it');
  assert.equal(sink.queueLength, 200);
  assert.equal(sink.writable, true, '200 < highWater');
  let flushed = false;
  void sink.flush().then(() => (flushed = true));
  for (let k = 0; k < 5; k++) await turn();
  assert.deepEqual(fake.calls, [256], 'no call while waiting: nothing spins');
  assert.equal(flushed, false);
  fake.writable(150);
  assert.equal(fake.waits, 2, 'pushed back again after 150');
  fake.writable();
  await turn();
  assert.equal(flushed, true);
  assert.deepEqual(indexes(fake), range(0, 300));
  const st = sink.stats;
  assert.equal(st.sent, 300);
  assert.equal(st.eagain, 2);
  assert.equal(st.queued, 200, 'each waiting packet counted once');
  assert.equal(st.maxQueueDepth, 200);
  assert.equal(st.batches, 1, 'the turn-end batch of 44 joined the waiting one');
  assert.equal(st.crossings, 5, '3 sendBatch + 2 waitWritable');
  assert.equal(sink.queueLength, 0);
  sink.close();
});

test('slabs are bound to the addon once and reused; one left over after a burst is unbound', async () => {
  const { sink, fake } = open({ batchSize: 8, slabBytes: 65536 });
  for (let k = 0; k < 5; k++) {
    sendMany(sink, 0, 20);
    await sink.flush();
  }
  assert.deepEqual([...fake.bound.keys()], [0], 'one slab for five turns of three batches each');
  // Push-back: waiting packets spread over several slabs (large packets), then all go out.
  fake.room = 0;
  sendMany(sink, 0, 40, 30000);
  assert.ok(fake.bound.size > 3, `${fake.bound.size} slabs bound while waiting`);
  fake.writable();
  await sink.flush();
  assert.equal(fake.bound.size, 2, 'spares kept, the rest unbound');
  sink.close();
});

test("back-pressure: writable turns false at highWater, 'drain' fires below it, queue-full beyond maxQueued", async () => {
  const { sink, fake } = open({ highWater: 100, maxQueued: 150 });
  fake.room = 0;
  const r = sendMany(sink, 0, 200);
  assert.equal(sink.writable, false);
  assert.equal(r.filter((x) => x === 'refused').length, 50);
  assert.deepEqual(sink.stats.refusedBy, { 'queue-full': 50 });
  assert.equal(sink.stats.maxQueueDepth, 150);
  const drained = once(sink, 'drain');
  fake.writable(60);
  assert.equal(sink.writable, true, '90 left');
  await drained;
  assert.equal(sink.stats.drains, 1);
  fake.writable();
  await sink.flush();
  assert.deepEqual(indexes(fake), range(0, 150));
  assert.equal(sink.stats.drains, 1, "no second 'drain' without a second crossing of highWater");
  sink.close();
});

test('ENOBUFS: retried after retryMs, not by writability', async (t) => {
  const { sink, fake } = open({ retryMs: 5 });
  // Closed even when an assertion fails: a pending retry timer would keep the file running.
  t.after(() => sink.close());
  fake.room = 10;
  fake.pushBack = E.ENOBUFS;
  sendMany(sink, 0, 50);
  await turn();
  // On a loaded machine the 5 ms retry may already have run (and met ENOBUFS again).
  assert.equal(fake.calls[0], 50);
  assert.equal(fake.waits, 0, 'ENOBUFS does not wait for writability');
  const failedRetries = fake.calls.length - 1;
  fake.room = Infinity;
  await sink.flush();
  assert.deepEqual(indexes(fake), range(0, 50));
  assert.equal(sink.stats.enobufs, 1 + failedRetries);
  assert.equal(sink.stats.queued, 40);
});

test('close(): this turn’s batch still goes out; packets waiting on push-back are refused as closed; flush() resolves', async () => {
  const a = open();
  sendMany(a.sink, 0, 10);
  a.sink.close();
  assert.deepEqual(indexes(a.fake), range(0, 10));
  assert.ok(a.fake.closed);
  assert.equal(a.sink.send(Buffer.alloc(40), 0, 40, DST), 'refused');
  assert.deepEqual(a.sink.stats.refusedBy, { closed: 1 });
  a.sink.close(); // idempotent

  const b = open();
  b.fake.room = 4;
  sendMany(b.sink, 0, 10);
  const f = b.sink.flush();
  b.sink.close();
  await f;
  assert.deepEqual(b.sink.stats.refusedBy, { closed: 6 });
  assert.equal(b.sink.isClosed, true);
  assert.equal(b.sink.writable, false);
});

test("a broken socket or watcher: 'failed', waiting packets refused as socket-error", async () => {
  const a = open();
  a.fake.room = 3;
  a.fake.pushBack = E.EBADF;
  const failed = once(a.sink, 'failed');
  sendMany(a.sink, 0, 8);
  const [err] = (await failed) as [Error];
  assert.match(err.message, /EBADF/);
  assert.deepEqual(a.sink.stats.refusedBy, { 'socket-error': 5 });
  assert.ok(a.fake.closed);

  const b = open();
  b.fake.room = 0;
  sendMany(b.sink, 0, 4);
  await turn();
  const failedB = once(b.sink, 'failed');
  b.fake.waiting = false;
  b.fake.onWritable(-E.EIO);
  const [errB] = (await failedB) as [Error];
  assert.match(errB.message, /watcher failed \(EIO\)/);
  assert.deepEqual(b.sink.stats.refusedBy, { 'socket-error': 4 });
});

test('flush() sends at once; stats name the error-queue errnos', async () => {
  const { sink, fake } = open();
  sendMany(sink, 0, 3);
  await sink.flush();
  assert.deepEqual(fake.calls, [3]);
  fake.errQueueByErrno = { [String(E.EMSGSIZE)]: 2, '0': 1 };
  assert.deepEqual(sink.stats.errQueueBy, { EMSGSIZE: 2, unknown: 1 });
  assert.equal(sink.stats.errQueue, 3);
  assert.equal(sink.stats.sendCalls, 1);
  sink.close();
});

test('packets at an offset of the caller’s buffer and from changing buffers keep their bytes', async () => {
  const { sink, fake } = open();
  const a = Buffer.from('xxABCDEFyy');
  sink.send(a, 2, 6, DST);
  a.fill(0);
  sink.send(Buffer.from('0123'), 1, 2, DST);
  sink.send(Buffer.from('ZZZZ'), 0, 4, DST);
  await sink.flush();
  assert.deepEqual(
    fake.delivered.map((d) => d.bytes.toString()),
    ['ABCDEF', '12', 'ZZZZ'],
  );
  assert.throws(() => sink.send(Buffer.alloc(4), 2, 4, DST), RangeError);
  sink.close();
});

test("a 'refused' listener that sends (even a full batch) or closes from inside a flush: nothing is sent twice or lost", async () => {
  const { sink, fake } = open({ batchSize: 4 });
  fake.refuse.set(1, E.EPERM);
  const scratch = Buffer.alloc(40);
  let extra = 100;
  sink.on('refused', () => {
    // Five more: more than a batch, sent from inside the flush that reported the refusal.
    for (let k = 0; k < 5; k++) {
      scratch.writeUInt32BE(extra++, 0);
      sink.send(scratch, 0, 40, DST);
    }
  });
  for (const [i, dst] of [[0, DST], [1, 1], [2, DST], [3, DST]] as const) {
    scratch.writeUInt32BE(i, 0);
    sink.send(scratch, 0, 40, dst);
  }
  await sink.flush();
  assert.deepEqual(indexes(fake), [0, 2, 3, 100, 101, 102, 103, 104]);
  assert.equal(sink.stats.sent, 8);

  const b = open();
  b.fake.refuse.set(1, E.EPERM);
  b.sink.on('refused', () => b.sink.close());
  for (const dst of [DST, 1, DST]) b.sink.send(scratch, 0, 40, dst);
  await b.sink.flush();
  assert.equal(b.fake.delivered.length, 2, 'the batch was already in the kernel when the listener closed');
  assert.equal(b.sink.isClosed, true);
});

test('a socket the kernel refuses is a RawSinkError with the fix', () => {
  const mod = {
    RawSender: class {
      constructor() {
        throw Object.assign(new Error('cannot open a raw IPv4 socket: Operation not permitted (errno 1)'), { errno: E.EPERM });
      }
    },
  } as unknown as ConstructorParameters<typeof RawBatchSink>[0];
  assert.throws(() => new RawBatchSink(mod), (e: unknown) => e instanceof RawSinkError && /\(EPERM\): run as root or give node CAP_NET_RAW/.test(e.message));
});
