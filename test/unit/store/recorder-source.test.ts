import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { StoreRecorder } from '../../../src/app/store/store-recorder.js';
import { StoreSource } from '../../../src/app/source/store-source.js';
import { startTask, stopTask } from '../../../src/app/store/tasks.js';
import { parseStoreUrl } from '../../../src/core/config/store-url.js';
import { parseTransfers } from '../../../src/core/config/copier.js';
import type { TaskHostStats, TaskManifest } from '../../../src/core/store/task.js';
import { TaskConflictError, type RangeQuery, type RecordStore, type StoredMessage, type TaskBucket } from '../../../src/core/store/types.js';
import type { PacketConsumer } from '../../../src/app/source/packet-source.js';
import { buildSegment } from '../../helpers/packet/build.js';

/** An in-memory stream store: what the NATS adapter does, minus the network. */
class MemoryStore implements RecordStore {
  readonly description = 'memory store';
  connected = true;
  messages: StoredMessage[] = [];
  /** Publishes wait here until release() when set. */
  hold = false;
  failNext = 0;
  private held: (() => void)[] = [];
  private readonly kv = new Map<string, { json: string; rev: number }>();
  private rev = 0;

  ensureStream(): Promise<void> {
    return Promise.resolve();
  }
  streamState(): Promise<{ firstSeq: number; lastSeq: number; messages: number; bytes: number; maxBytes: null; maxAgeMs: null; replicas: number }> {
    return Promise.resolve({ firstSeq: 1, lastSeq: this.messages.length, messages: this.messages.length, bytes: 0, maxBytes: null, maxAgeMs: null, replicas: 1 });
  }
  onStatus(): void {}
  publish(subject: string, data: Uint8Array): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('no ack'));
    }
    const seq = this.messages.push({ seq: this.messages.length + 1, subject, data: Buffer.from(data), timeUs: 0 });
    return this.hold ? new Promise((r) => this.held.push(() => r(seq))) : Promise.resolve(seq);
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  openRange(q: RangeQuery): Promise<{ next(max: number): Promise<StoredMessage[] | null>; close(): Promise<void> }> {
    const prefix = q.subject.endsWith('.>') ? q.subject.slice(0, -1) : q.subject;
    const list = this.messages.filter((m) => m.seq >= (q.fromSeq ?? 1) && m.seq <= q.toSeq && m.subject.startsWith(prefix));
    let at = 0;
    return Promise.resolve({
      next: (max: number) => Promise.resolve(at >= list.length ? null : list.slice(at, (at += max))),
      close: () => Promise.resolve(),
    });
  }
  get tasks(): TaskBucket {
    const kv = this.kv;
    const next = (): number => ++this.rev;
    return {
      getTask: (stream, name) => {
        const e = kv.get(`${stream}.${name}`);
        return Promise.resolve(e === undefined ? null : { value: JSON.parse(e.json) as TaskManifest, revision: e.rev });
      },
      putTask: (m, revision) => {
        const key = `${m.stream}.${m.name}`;
        const e = kv.get(key);
        if ((revision === null && e !== undefined) || (revision !== null && e?.rev !== revision)) return Promise.reject(new TaskConflictError('changed'));
        kv.set(key, { json: JSON.stringify(m), rev: next() });
        return Promise.resolve();
      },
      putHostStats: (stream, task, s) => {
        kv.set(`${stream}.${task}.h.${s.host}`, { json: JSON.stringify(s), rev: next() });
        return Promise.resolve();
      },
      listTasks: () => Promise.resolve([]),
      hostStats: (stream, task) => Promise.resolve([...kv.entries()].filter(([k]) => k.startsWith(`${stream}.${task}.h.`)).map(([, e]) => JSON.parse(e.json) as TaskHostStats)),
    };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ETH = Buffer.from('0000000000020000000000010800', 'hex');
/** An Ethernet frame of a client→server segment (port 80) or the server's answer. */
function frame(port: number, toServer: boolean, seq: number): Buffer {
  const a = 0x0a000001;
  const b = 0x0a000002;
  const ip = toServer
    ? buildSegment({ src: a, dst: b, srcPort: port, dstPort: 80, seq, ack: 1, flags: seq === 1 ? 0x02 : 0x18, window: 100, ipId: 1, payload: Buffer.from('GET /') })
    : buildSegment({ src: b, dst: a, srcPort: 80, dstPort: port, seq: 7, ack: seq, flags: 0x10, window: 100, ipId: 1 });
  return Buffer.concat([ETH, ip]);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function record(store: MemoryStore, conns: number): Promise<StoreRecorder> {
  const rec = new StoreRecorder({ store, stream: 'web', host: 'h1', clock: () => 0, info: () => undefined });
  const ifId = rec.addInterface(1);
  for (let c = 0; c < conns; c++) {
    for (let k = 1; k <= 3; k++) {
      const f = frame(2000 + c, true, k);
      rec.frame(ifId, f, f.length, 1_000_000 + c * 10 + k);
      const r = frame(2000 + c, false, k);
      rec.frame(ifId, r, r.length, 1_000_000 + c * 10 + k);
    }
  }
  rec.flush();
  await tick();
  return rec;
}

test('the recorder stores batches per flow partition and counts drops by reason, with missing ranges', async () => {
  const store = new MemoryStore();
  const rec = await record(store, 40);
  assert.equal(rec.total.stats.packets, 240);
  assert.equal(rec.total.stats.sessions, 40, 'client SYNs');
  const subjects = new Set(store.messages.map((m) => m.subject));
  assert.ok(subjects.size > 8 && [...subjects].every((s) => /^web\.h1\.\d+$/.test(s)), [...subjects].join());

  store.connected = false;
  const task = rec.track();
  const f = frame(9, true, 1);
  rec.frame(0, f, f.length, 5_000_000);
  rec.flush();
  store.connected = true;
  store.failNext = 1;
  rec.frame(0, f, f.length, 6_000_000);
  rec.flush();
  await tick();
  rec.frame(0, f, f.length, 7_000_000);
  rec.flush();
  await tick();
  assert.deepEqual(task.stats.drops, { 'store-away': 1, 'store-busy': 0, 'store-error': 1 });
  assert.deepEqual(task.stats.missing.map((m) => [m.fromUs, m.toUs, m.packets]), [[5_000_000, 6_000_000, 2]], 'one open range until a publish succeeds');
  assert.equal(task.stats.packets, 1);

  const tight = new StoreRecorder({ store, stream: 'web', host: 'h2', clock: () => 0, info: () => undefined, maxInFlightBytes: 100 });
  store.hold = true;
  tight.addInterface(1);
  for (let i = 0; i < 3; i++) {
    tight.frame(0, f, f.length, i);
    tight.flush();
  }
  assert.equal(tight.total.stats.drops['store-busy'], 2, 'beyond the in-flight limit: dropped, never waiting');
  store.release();
  await tight.drained();
  assert.equal(tight.total.stats.packets, 1);
});

test('replay from the store: a task range, shares that add up to the whole, -T runs', async () => {
  const store = new MemoryStore();
  await store.publish('web.other.0', Buffer.from('not in the task'));
  const t = await startTask(store, 'web', 'peak', { host: 'h1', by: 'test', filter: null, nowUs: 0 });
  assert.equal(t.startSeq, 2);
  await record(store, 40);
  await stopTask(store, 'web', 'peak', 'test', 1);
  await store.publish('web.h1.3', Buffer.from('after the stop'));

  const replay = async (share: { index: number; of: number } | null, loops = 1): Promise<string[]> => {
    const got: string[] = [];
    let ended = false;
    const src = await StoreSource.open({
      store,
      url: parseStoreUrl('nats://x/web?task=peak', '-i'),
      share,
      transfers: parseTransfers('80-10.9.9.9:80', '-x'),
      filter: null,
      pacing: { fastest: true, loops },
      events: { wake: () => undefined, info: () => undefined, ended: () => (ended = true), error: (m) => assert.fail(m) },
    });
    const consumer: PacketConsumer = {
      accepting: true,
      packet: (buf, ipOff) => got.push(`${buf.readUInt16BE(ipOff + 20)}:${buf.readUInt32BE(ipOff + 24)}`),
    };
    src.start(0);
    for (let i = 0; i < 1000 && !ended; i++) {
      if (src.feed(0, consumer) !== 'more') await tick();
    }
    assert.ok(ended, 'the source ends after the range');
    assert.equal(src.progress().fraction, 1);
    src.close();
    return got;
  };
  const all = await replay(null);
  assert.equal(all.length, 120, 'client→server packets of the task only (responses fail -x)');
  const a = await replay({ index: 1, of: 2 });
  const b = await replay({ index: 2, of: 2 });
  assert.ok(a.length > 0 && b.length > 0);
  assert.deepEqual([...a, ...b].sort(), [...all].sort(), 'two shares: every packet once');
  const ports = (l: string[]): Set<string> => new Set(l.map((s) => s.split(':')[0] as string));
  assert.deepEqual([...ports(a)].filter((p) => ports(b).has(p)), [], 'a session is never split between shares');
  const twice = await replay(null, 2);
  assert.equal(twice.length, 240);
  assert.notDeepEqual(twice.slice(120), twice.slice(0, 120), 'the second run shifts the sequence space');
});
