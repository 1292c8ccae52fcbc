import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { LiveCaptureOpenError, LiveCaptureSource, type LiveCaptureSourceOptions } from '../../../src/app/source/live-capture-source.js';
import type { FeedResult, PacketConsumer, SourceEvents } from '../../../src/app/source/packet-source.js';
import { buildCaptureFilter } from '../../../src/core/capture/live-filter.js';
import { parseTransfers } from '../../../src/core/config/copier.js';
import { parseIpv4, TCP_ACK, TCP_PSH } from '../../../src/core/packet/index.js';
import type { CaptureHandle, CaptureStats, OpenCaptureOptions } from '../../../src/io/live-capture.js';
import { buildSegment } from '../../helpers/packet/build.js';

const ip = (s: string): number => parseIpv4(s) as number;
const TRANSFERS = parseTransfers('443-10.9.9.9:443,80-10.9.9.9:8080');

/** A capture device driven by the test: frames go in through `deliver`, drops are set by hand. */
class FakeHandle implements CaptureHandle {
  readonly backend = 'cap';
  closed = false;
  present = true;
  kernelDrops: number | null = 0;
  constructor(
    readonly device: string,
    readonly linkType: number,
    readonly o: OpenCaptureOptions,
  ) {}
  deliver(frame: Buffer): void {
    if (this.closed) throw new Error('frame after close');
    this.o.onPacket(frame, Math.min(frame.length, this.o.snapLen), frame.length > this.o.snapLen);
  }
  stats(): CaptureStats {
    return { kernelDrops: this.kernelDrops, ifDrops: 2, kernelDropsMissing: this.kernelDrops === null ? 'no addon' : null, devicePresent: this.present };
  }
  close(): void {
    this.closed = true;
  }
}

function ipPacket(o: { dport?: number; seq?: number; payload?: string; dst?: string }): Buffer {
  return buildSegment({
    src: ip('10.0.0.1'),
    dst: ip(o.dst ?? '10.0.0.2'),
    srcPort: 40000,
    dstPort: o.dport ?? 80,
    seq: o.seq ?? 1000,
    ack: 1,
    flags: TCP_ACK | TCP_PSH,
    window: 500,
    ipId: 1,
    payload: Buffer.from(o.payload ?? 'GET / HTTP/1.1\r\n\r\n'),
  });
}

function ether(p: Buffer, ethertype = 0x0800): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(ethertype, 12);
  return Buffer.concat([h, p]);
}

/** Linux cooked v1 (the `any` device): 16-byte header, protocol last. */
function cooked(p: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0x0800, 14);
  return Buffer.concat([h, p]);
}

interface Rig {
  src: LiveCaptureSource;
  handles: FakeHandle[];
  events: { wakes: number; ended: number; errors: string[]; infos: string[] };
  clock: { now: number };
}

function rig(over: Partial<LiveCaptureSourceOptions> & { linkType?: number } = {}): Rig {
  const handles: FakeHandle[] = [];
  const ev = { wakes: 0, ended: 0, errors: [] as string[], infos: [] as string[] };
  const events: SourceEvents = {
    wake: () => void ev.wakes++,
    info: (m) => void ev.infos.push(m),
    ended: () => void ev.ended++,
    error: (m) => void ev.errors.push(m),
  };
  const clock = { now: 5_000_000 };
  const src = LiveCaptureSource.open({
    devices: ['eth0'],
    transfers: TRANSFERS,
    filterText: null,
    bufferBytes: 1 << 20,
    snapLen: 65535,
    events,
    clock: () => clock.now,
    devicesAvailable: () => ['any', 'eth0', 'eth1', 'lo'],
    deviceFacts: (d) => (d === 'any' ? { arphrd: null, mac: null } : { arphrd: 1, mac: d === 'eth0' ? '02:00:00:00:00:01' : '02:00:00:00:00:02' }),
    open: (o) => {
      const h = new FakeHandle(o.device, over.linkType ?? (o.device === 'any' ? 113 : 1), o);
      handles.push(h);
      return h;
    },
    ...over,
  });
  return { src, handles, events: ev, clock };
}

class Sink implements PacketConsumer {
  accepting = true;
  got: { bytes: string; ts: number; idx: number }[] = [];
  packet(buf: Buffer, ipOff: number, capLen: number, tsUs: number, transferIdx: number): void {
    this.got.push({ bytes: buf.subarray(ipOff, ipOff + capLen).toString('hex'), ts: tsUs, idx: transferIdx });
  }
}

test('an unknown device is a usage error listing the available ones; the filter comes from -x and -F', () => {
  assert.throws(
    () => rig({ devices: ['nosuchdev0'] }),
    (e: unknown) => e instanceof LiveCaptureOpenError && e.message === '"nosuchdev0": no such capture device (and no such file); available: any, eth0, eth1, lo',
  );
  const r = rig({ devices: ['eth0', 'eth1'], filterText: 'src net 10.0.0.0/8' });
  assert.deepEqual(r.handles.map((h) => h.device), ['eth0', 'eth1']);
  assert.equal(r.handles[0]?.o.filter, buildCaptureFilter(TRANSFERS, 'src net 10.0.0.0/8', { kind: 'not-ether-src', mac: '02:00:00:00:00:01' }));
  assert.equal(r.handles[1]?.o.filter, 'not ether src 02:00:00:00:00:02 and tcp and ((dst port 443) or (dst port 80)) and (src net 10.0.0.0/8)', 'each device its own MAC');
  assert.equal(r.src.description, 'live capture on eth0, eth1');
  assert.equal(r.src.pausable, false);
});

test('an unsupported link type closes what was opened and says why', () => {
  let opened: FakeHandle[] = [];
  assert.throws(() => {
    const r = rig({ linkType: 105 });
    opened = r.handles;
  }, /eth0: link type 105 \(IEEE802_11\) is not supported/);
  assert.deepEqual(opened, []);
});

test('frames before start() are not replayed; after it, selected packets come out with the IP offset, arrival time and transfer', () => {
  const r = rig();
  const h = r.handles[0] as FakeHandle;
  h.deliver(ether(ipPacket({ seq: 1 })));
  r.src.start(r.clock.now);
  assert.deepEqual(r.events.infos, ['live capture: 1 packets arrived while the copier was starting (not replayed)']);
  const web = ipPacket({ seq: 2 });
  const tls = ipPacket({ seq: 3, dport: 443 });
  r.clock.now = 6_000_000;
  h.deliver(ether(web));
  h.deliver(ether(ipPacket({ dport: 22 })));
  h.deliver(ether(Buffer.alloc(28), 0x0806));
  r.clock.now = 6_000_100;
  h.deliver(ether(tls));
  assert.equal(r.events.wakes, 1, 'one wake for the burst');
  assert.equal(r.src.nextReleaseUs, 6_000_000);
  const sink = new Sink();
  assert.equal(r.src.feed(r.clock.now, sink), 'io');
  assert.deepEqual(sink.got, [
    { bytes: web.toString('hex'), ts: 6_000_000, idx: 1 },
    { bytes: tls.toString('hex'), ts: 6_000_100, idx: 0 },
  ]);
  assert.equal(r.src.nextReleaseUs, Infinity);
  h.deliver(ether(ipPacket({ seq: 4 })));
  assert.equal(r.events.wakes, 2, 'the next arrival after a feed wakes again');
  const t = r.src.totals();
  assert.equal(t.packetsRead, 5);
  assert.equal(t.packetsUsed, 2);
  assert.equal(t.nonIpv4, 1);
  assert.equal(t.notMatched, 1);
  assert.equal(t.live?.beforeStart, 1);
  assert.deepEqual(r.src.progress().fraction, null);
});

test('Linux cooked frames of the any device are decoded', () => {
  const r = rig({ devices: ['any'] });
  r.src.start(0);
  const p = ipPacket({});
  (r.handles[0] as FakeHandle).deliver(cooked(p));
  const sink = new Sink();
  r.src.feed(0, sink);
  assert.deepEqual(sink.got.map((g) => g.bytes), [p.toString('hex')]);
  assert.equal(r.src.description, 'live capture on all interfaces (any)');
});

test('a full ring drops and counts by reason: ring-full while the sink takes packets, sink-busy while it pushes back', () => {
  const r = rig({ ringSlots: 4 });
  const h = r.handles[0] as FakeHandle;
  r.src.start(0);
  for (let i = 0; i < 6; i++) h.deliver(ether(ipPacket({ seq: 100 + i })));
  const sink = new Sink();
  sink.accepting = false;
  assert.equal(r.src.feed(0, sink), 'paused');
  for (let i = 0; i < 3; i++) h.deliver(ether(ipPacket({ seq: 200 + i })));
  let t = r.src.totals();
  assert.deepEqual(t.live?.dropsByReason, { 'ring-full': 2, 'sink-busy': 3 });
  sink.accepting = true;
  assert.equal(r.src.feed(0, sink), 'io');
  assert.equal(sink.got.length, 4, 'the first four, in order');
  h.kernelDrops = 7;
  t = r.src.totals();
  assert.equal(t.drops, 12, 'ring + sink + kernel');
  assert.equal(t.live?.kernelDrops, 7);
  assert.equal(t.live?.interfaceDrops, 2);
  assert.equal(r.src.progress().drops, 12);
});

test('more than a batch is handed out over several feed() calls', () => {
  const r = rig();
  r.src.start(0);
  for (let i = 0; i < 600; i++) (r.handles[0] as FakeHandle).deliver(ether(ipPacket({ seq: i })));
  const sink = new Sink();
  const results: FeedResult[] = [r.src.feed(0, sink), r.src.feed(0, sink)];
  assert.deepEqual(results, ['more', 'io']);
  assert.equal(sink.got.length, 600);
});

test('stopInput() closes the devices, hands over what is held, then ends once', () => {
  const r = rig();
  r.src.start(0);
  (r.handles[0] as FakeHandle).deliver(ether(ipPacket({})));
  r.clock.now = 7_500_000;
  r.src.stopInput();
  assert.equal(r.handles[0]?.closed, true);
  assert.equal(r.src.ended, false, 'one packet still held');
  const sink = new Sink();
  assert.equal(r.src.feed(0, sink), 'done');
  assert.equal(sink.got.length, 1);
  assert.equal(r.src.ended, true);
  assert.equal(r.events.ended, 1);
  assert.equal(r.src.feed(0, sink), 'done');
  assert.equal(r.events.ended, 1);
  assert.equal(r.src.totals().live?.capturingUs, 7_500_000, "from start(0) to the stop");
  const empty = rig();
  empty.src.start(0);
  empty.src.stopInput();
  assert.equal(empty.events.ended, 1, 'nothing held: ends at once');
});

test('unknown kernel drops are said, and a device that vanished ends the source with an error', () => {
  const r = rig();
  r.src.start(0);
  const h = r.handles[0] as FakeHandle;
  h.kernelDrops = null;
  assert.equal(r.src.totals().live?.kernelDropsMissing, 'no addon');
  h.present = false;
  r.src.progress();
  assert.deepEqual(r.events.errors, ['capture device eth0 is gone']);
  assert.equal(h.closed, true);
  r.src.close();
});

/** Records what the tap sees. */
class Tap {
  ifs: { linkType: number; snapLen: number }[] = [];
  frames: { ifId: number; len: number; ts: number }[] = [];
  addInterface(linkType: number, snapLen: number): number {
    this.ifs.push({ linkType, snapLen });
    return this.ifs.length - 1;
  }
  frame(ifId: number, _buf: Buffer, len: number, tsUs: number): void {
    this.frames.push({ ifId, len, ts: tsUs });
  }
}

const response = (): Buffer =>
  buildSegment({ src: ip('10.0.0.2'), dst: ip('10.0.0.1'), srcPort: 80, dstPort: 40000, seq: 9, ack: 1, flags: TCP_ACK | TCP_PSH, window: 500, ipId: 2, payload: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') });

test('--record: the tap gets one interface per device and every frame, ring drops included; responses only reach the tap', () => {
  const tap = new Tap();
  const r = rig({ devices: ['eth0', 'any'], tap, recordResponses: true, ringSlots: 1 });
  assert.deepEqual(tap.ifs, [{ linkType: 1, snapLen: 65535 }, { linkType: 113, snapLen: 65535 }]);
  assert.match(r.handles[0]?.o.filter ?? '', /or \(tcp and \(\(src port 443\) or \(src port 80\)\)\)$/);
  r.src.start(r.clock.now);
  r.handles[0]?.deliver(ether(ipPacket({ seq: 1 })));
  r.handles[0]?.deliver(ether(ipPacket({ seq: 2 }))); // the one-slot ring is full: dropped, still recorded
  r.handles[1]?.deliver(cooked(response()));
  assert.deepEqual(tap.frames.map((f) => f.ifId), [0, 0, 1]);
  const sink = new Sink();
  assert.equal(r.src.feed(r.clock.now, sink) as FeedResult, 'io');
  assert.equal(sink.got.length, 1, 'the response is not replayed');
  const t = r.src.totals();
  assert.equal(t.packetsRead, 2);
  assert.equal(t.notMatched, 0, 'nor counted as not matching -x');
  assert.equal(t.live?.dropsByReason['ring-full'], 1);
  r.src.close();
  assert.ok(r.events.infos.includes('live capture: 1 server→client packets recorded only (--record-responses)'));
});

test('record only: frames reach the tap and nothing is held for a consumer', () => {
  const tap = new Tap();
  const r = rig({ tap, recordOnly: true });
  r.handles[0]?.deliver(ether(ipPacket({}))); // before start() too: the capture took it
  r.src.start(r.clock.now);
  r.handles[0]?.deliver(ether(ipPacket({ seq: 5 })));
  assert.equal(tap.frames.length, 2);
  assert.equal(r.src.nextReleaseUs, Infinity);
  assert.equal(r.src.totals().packetsRead, 2);
  r.src.close();
});

test('a batching backend: frames at an offset in a shared slab keep their capture timestamps; a handle error ends the source once', () => {
  const r = rig();
  const h = r.handles[0] as FakeHandle;
  r.src.start(r.clock.now);
  const a = ether(ipPacket({ seq: 7 }));
  const b = ether(ipPacket({ seq: 8, dport: 443 }));
  const slab = Buffer.concat([Buffer.alloc(3, 0xee), a, b]);
  h.o.onPacket(slab, a.length, false, 3, 1_234_000);
  h.o.onPacket(slab, b.length, false, 3 + a.length, 1_234_567);
  const sink = new Sink();
  assert.equal(r.src.feed(r.clock.now, sink), 'io');
  assert.deepEqual(
    sink.got.map((g) => [g.bytes, g.ts, g.idx]),
    [
      [a.subarray(14).toString('hex'), 1_234_000, 1],
      [b.subarray(14).toString('hex'), 1_234_567, 0],
    ],
  );
  h.o.onError?.('eth0: The interface went down');
  h.o.onError?.('eth0: again');
  assert.deepEqual(r.events.errors, ['capture failed on eth0: The interface went down']);
  assert.equal(h.closed, true);
});
