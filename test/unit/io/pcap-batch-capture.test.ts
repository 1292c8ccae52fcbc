import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';
import { CaptureOpenError, type OpenCaptureOptions } from '../../../src/io/live-capture.js';
import { NativeAddonError } from '../../../src/io/native.js';
import { chooseCapture } from '../../../src/io/open-capture.js';
import { META_WORDS, openPcapBatchCapture, type PcapBatchHandle, type PcapBatchModule, type PcapBatchOpenOptions, type PcapBatchStats } from '../../../src/io/pcap-batch-capture.js';

/** The addon as the adapter sees it: the test plays pcap_dispatch rounds by hand. */
class FakePcap implements PcapBatchHandle {
  static last: FakePcap | null = null;
  static refuse: string | null = null;
  readonly linkType = 1;
  readonly snaplen: number;
  slab: Uint8Array | null = null;
  meta: Uint32Array | null = null;
  started = false;
  closed = false;
  counters: PcapBatchStats = { recv: 0, drop: 0, ifdrop: 0 };
  constructor(
    readonly o: PcapBatchOpenOptions,
    readonly onBatch: (count: number, error: string | null) => void,
  ) {
    if (FakePcap.refuse !== null) throw new Error(FakePcap.refuse);
    this.snaplen = o.snaplen;
    FakePcap.last = this;
  }
  bind(slab: Uint8Array, meta: Uint32Array): void {
    this.slab = slab;
    this.meta = meta;
  }
  start(): void {
    this.started = true;
  }
  stats(): PcapBatchStats {
    return this.counters;
  }
  close(): void {
    this.closed = true;
  }
  /** One dispatch round: copies frames (cut at snaplen) like on_packet does, then one callback. */
  dispatch(frames: { bytes: Buffer; sec: number; usec: number }[]): void {
    let used = 0;
    frames.forEach((f, i) => {
      const cap = Math.min(f.bytes.length, this.snaplen);
      (this.slab as Uint8Array).set(f.bytes.subarray(0, cap), used);
      (this.meta as Uint32Array).set([used, cap, f.bytes.length, f.sec, f.usec], i * META_WORDS);
      used += cap;
    });
    this.onBatch(frames.length, null);
  }
}

const mod: PcapBatchModule = { PcapCapture: FakePcap };

function open(over: Partial<OpenCaptureOptions> = {}): { got: [string, boolean, number][]; errors: string[] } {
  const got: [string, boolean, number][] = [];
  const errors: string[] = [];
  openPcapBatchCapture(
    {
      device: 'eth0',
      filter: 'tcp',
      bufferBytes: 1 << 20,
      snapLen: 8,
      onPacket: (buf, len, truncated, off = 0, tsUs = -1) => got.push([buf.subarray(off, off + len).toString('hex'), truncated, tsUs]),
      onError: (m) => errors.push(m),
      ...over,
    },
    { module: mod, devicePresent: () => true },
  );
  return { got, errors };
}

test('pcap backend: opens with -S/-B/--capture-latency/filter, binds once, starts; one batch hands out every packet with its offset, truncation and capture time', () => {
  const { got } = open({ timeoutMs: 2 });
  const h = FakePcap.last as FakePcap;
  assert.deepEqual(h.o, { device: 'eth0', snaplen: 8, bufferSize: 1 << 20, timeoutMs: 2, filter: 'tcp' });
  assert.equal(h.started, true);
  assert.ok(h.slab !== null && h.slab.length >= 2 * 8);
  h.dispatch([
    { bytes: Buffer.from('0102030405', 'hex'), sec: 1_700_000_000, usec: 5 },
    { bytes: Buffer.from('aabbccddeeff00112233', 'hex'), sec: 1_700_000_001, usec: 999_999 },
  ]);
  assert.deepEqual(got, [
    ['0102030405', false, 1_700_000_000_000_005],
    ['aabbccddeeff0011', true, 1_700_000_001_999_999],
  ]);
  h.dispatch([]);
  assert.equal(got.length, 2, 'an empty round hands nothing out');
});

test('pcap backend: drops come from pcap_stats (no pktstat); `any` has no interface drops; counters survive close', () => {
  const handle = openPcapBatchCapture(
    { device: 'eth0', filter: 'tcp', bufferBytes: 0, snapLen: 64, onPacket: () => undefined },
    { module: mod, devicePresent: () => true },
  );
  const h = FakePcap.last as FakePcap;
  assert.equal(handle.backend, 'pcap');
  h.counters = { recv: 100, drop: 7, ifdrop: 2 };
  assert.deepEqual(handle.stats(), { kernelDrops: 7, ifDrops: 2, kernelDropsMissing: null, devicePresent: true });
  h.counters = { recv: 120, drop: 9, ifdrop: 3 };
  handle.close();
  assert.equal(h.closed, true);
  h.counters = { error: 'closed' };
  assert.deepEqual(handle.stats(), { kernelDrops: 9, ifDrops: 3, kernelDropsMissing: null, devicePresent: true });
  const any = openPcapBatchCapture({ device: 'any', filter: 'tcp', bufferBytes: 0, snapLen: 64, onPacket: () => undefined }, { module: mod });
  (FakePcap.last as FakePcap).counters = { recv: 5, drop: 1, ifdrop: 4 };
  assert.deepEqual(any.stats(), { kernelDrops: 1, ifDrops: null, kernelDropsMissing: null, devicePresent: true });
});

test('pcap backend: a failing handle reports an error value (no throw); later stats keep the last counts and say the device is unusable', () => {
  const { errors } = open({ device: 'eth1' });
  const h = FakePcap.last as FakePcap;
  h.counters = { recv: 3, drop: 1, ifdrop: 0 };
  h.onBatch(-1, 'The interface went down');
  assert.deepEqual(errors, ['eth1: The interface went down']);
});

test('pcap backend: libpcap refusing the device or filter is a CaptureOpenError', () => {
  FakePcap.refuse = 'pcap_compile: syntax error';
  try {
    assert.throws(() => open(), (e: unknown) => e instanceof CaptureOpenError && e.message === 'pcap_compile: syntax error');
  } finally {
    FakePcap.refuse = null;
  }
});

test('--capture-backend: auto takes the addon, falls back to cap when it is not built; pcap by name fails; cap by name', () => {
  assert.equal(chooseCapture('auto', { loadPcap: () => mod }).backend, 'pcap');
  assert.equal(chooseCapture('auto', { loadPcap: () => mod }).fallbackReason, null);
  const missing = (): PcapBatchModule => {
    throw new NativeAddonError('pcapbatch', new Error('Cannot find module'));
  };
  const fb = chooseCapture('auto', { loadPcap: missing });
  assert.equal(fb.backend, 'cap');
  assert.match(fb.fallbackReason ?? '', /native addon 'pcapbatch' could not be loaded/);
  assert.throws(() => chooseCapture('pcap', { loadPcap: missing }), NativeAddonError);
  assert.equal(chooseCapture('cap', { loadPcap: missing }).backend, 'cap');
});
