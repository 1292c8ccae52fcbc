import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/config/errors.js';
import {
  DEFAULT_CAPTURE_BUFFER_MB,
  DEFAULT_CAPTURE_LATENCY_MS,
  DEFAULT_SNAPLEN,
  LIVE_SESSION_TIMEOUT_S,
  OFFLINE_SESSION_TIMEOUT_S,
  parseCaptureInput,
  parseTcpcopyOptions,
  type TcpcopyRawOptions,
} from '../../../src/core/config/tcpcopy-cli.js';
import { OPENING_AUTO } from '../../../src/core/replay/opening-window.js';

const BASE = { transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2' };
const files = new Set(['traffic.pcap', 'eth0']);
const parse = (raw: TcpcopyRawOptions): ReturnType<typeof parseTcpcopyOptions> =>
  parseTcpcopyOptions({ ...BASE, ...raw }, { randomSeed: 1, isFile: (p) => files.has(p) });

test('-i: an existing file replays it, else a device list captures live, and no -i captures on any', () => {
  const noFile = (): boolean => false;
  assert.deepEqual(parseCaptureInput(undefined, noFile), { kind: 'live', devices: ['any'] });
  assert.deepEqual(parseCaptureInput('eth1', noFile), { kind: 'live', devices: ['eth1'] });
  assert.deepEqual(parseCaptureInput('eth1,bond0.100, eth1', noFile), { kind: 'live', devices: ['eth1', 'bond0.100'] });
  assert.deepEqual(parseCaptureInput('any', noFile), { kind: 'live', devices: ['any'] });
  // A file of that name wins (stock: -i names a file when one exists).
  assert.deepEqual(parseCaptureInput('eth0', (p) => p === 'eth0'), { kind: 'file', path: 'eth0' });
  // What cannot be an interface name stays a (missing) file, reported as such when opened.
  for (const p of ['/tmp/x.pcap', 'x.pcap', 'dump.pcapng', 'a-very-long-interface-name0', 'eth0,x.pcap', 'my file']) {
    assert.deepEqual(parseCaptureInput(p, noFile), { kind: 'file', path: p }, p);
  }
  assert.throws(() => parseCaptureInput('', noFile), (e: unknown) => e instanceof ConfigError && /^-i "": expected a pcap\/pcapng file, or capture device/.test(e.message));
  assert.throws(() => parseCaptureInput('any,eth0', noFile), /"any" already captures on every interface/);
});

test('live: -B and -S have stock defaults, -F is left to libpcap, timeouts are stock, offline-only flags warn', () => {
  const { config, warnings } = parse({ pcap: 'eth1', filter: 'tcp[13] & 2 != 0', accelerate: '5', times: '3' });
  assert.deepEqual(config.input, { kind: 'live', devices: ['eth1'] });
  assert.equal(config.bufferMb, DEFAULT_CAPTURE_BUFFER_MB);
  assert.equal(config.snapLen, DEFAULT_SNAPLEN);
  assert.equal(config.captureLatencyMs, DEFAULT_CAPTURE_LATENCY_MS);
  assert.ok(DEFAULT_CAPTURE_LATENCY_MS > 0, 'TPACKET_V3 blocks by default (immediate mode drops at top speed)');
  assert.equal(config.filter, null, 'libpcap applies -F live: not compiled (its grammar is wider) nor matched twice');
  assert.equal(config.filterText, 'tcp[13] & 2 != 0');
  assert.equal(config.engine.sessionTimeoutUs, LIVE_SESSION_TIMEOUT_S * 1e6);
  assert.equal(config.acceleration, 1);
  assert.equal(config.loops, 1);
  assert.ok(warnings.some((w) => /^-a, -T: only for a capture file/.test(w)), warnings.join('\n'));
  const sized = parse({ pcap: 'eth1', buffer: '64', snaplen: '1600', captureLatency: '0' }).config;
  assert.equal(sized.bufferMb, 64);
  assert.equal(sized.snapLen, 1600);
  assert.equal(sized.captureLatencyMs, 0, '0 = immediate mode');
  assert.equal(config.nice, 0, 'the priority is left alone unless asked');
  assert.equal(parse({ pcap: 'eth1', nice: '10' }).config.nice, 10);
});

test('a file: -F compiled by our filter, offline timeout, -B/-S warn that they do not apply', () => {
  const { config, warnings } = parse({ pcap: 'traffic.pcap', filter: 'src net 10.8.0.0/16', buffer: '8', captureLatency: '5' });
  assert.deepEqual(config.input, { kind: 'file', path: 'traffic.pcap' });
  assert.notEqual(config.filter, null);
  assert.equal(config.engine.sessionTimeoutUs, OFFLINE_SESSION_TIMEOUT_S * 1e6);
  assert.ok(warnings.includes('-B, --capture-latency: only for live capture; ignored when replaying traffic.pcap'), warnings.join('\n'));
});

test('bad -B / -S / -F values name the flag and the accepted form', () => {
  const cases: [TcpcopyRawOptions, RegExp][] = [
    [{ buffer: '0' }, /^-B "0": expected the capture buffer size in MiB: a whole number 1\.\.4096$/],
    [{ buffer: '16M' }, /^-B "16M": expected the capture buffer size in MiB/],
    [{ snaplen: '64' }, /^-S "64": expected the bytes captured per packet: a whole number 96\.\.65535$/],
    [{ snaplen: '70000' }, /^-S "70000": expected the bytes captured per packet/],
    [{ pcap: 'eth1', captureLatency: '-1' }, /^--capture-latency "-1": expected milliseconds a captured packet may wait in the kernel buffer \(0 = immediate mode\): a whole number 0\.\.1000$/],
    [{ pcap: 'eth1', captureLatency: '2ms' }, /^--capture-latency "2ms": expected milliseconds/],
    [{ pcap: 'eth1', nice: '20' }, /^--nice "20": expected how much to lower the copier's CPU priority: a whole number 0\.\.19$/],
    [{ pcap: 'eth1', nice: '-5' }, /^--nice "-5": expected how much to lower/],
    [{ pcap: 'eth1', filter: ' ' }, /^-F " ": expected a pcap-filter expression/],
    [{ pcap: 'traffic.pcap', filter: 'tcp and (' }, /^-F "tcp and \(": at character 10/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => parse(raw), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(raw));
  }
});

test('--max-opening: 512 with --rate, auto with -a, any count or auto given, refused form named; live it warns and is off', () => {
  assert.equal(parse({ pcap: 'traffic.pcap', rate: true }).config.maxOpening, 512);
  assert.equal(parse({ pcap: 'traffic.pcap', accelerate: '10' }).config.maxOpening, OPENING_AUTO, '-a: no limit until the target drops openings');
  assert.equal(parse({ pcap: 'traffic.pcap', rate: true, maxOpening: 'auto' }).config.maxOpening, OPENING_AUTO);
  assert.equal(parse({ pcap: 'traffic.pcap', rate: true, maxOpening: '0' }).config.maxOpening, 0);
  assert.equal(parse({ pcap: 'traffic.pcap', accelerate: '10', maxOpening: '128' }).config.maxOpening, 128);
  for (const bad of ['-1', 'many', '1.5', '2000000']) {
    assert.throws(() => parse({ pcap: 'traffic.pcap', maxOpening: bad }), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`--max-opening "${bad}"`) && /first answer/.test(e.message), bad);
  }
  const live = parse({ pcap: 'eth1', maxOpening: '64' });
  assert.equal(live.config.maxOpening, 0, 'a live capture cannot wait');
  assert.ok(live.warnings.some((w) => /--max-opening: only for a capture file/.test(w)), live.warnings.join('\n'));
});
