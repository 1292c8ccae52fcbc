import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecordFiles, parseRotate } from '../../../src/core/config/record.js';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseTcpcopyOptions, type TcpcopyRawOptions } from '../../../src/core/config/tcpcopy-cli.js';

test('--record-rotate: sizes (SI and binary) and durations; m is minutes', () => {
  assert.deepEqual(parseRotate('500MiB'), { kind: 'size', bytes: 500 * 1048576 });
  assert.deepEqual(parseRotate('1GiB'), { kind: 'size', bytes: 1073741824 });
  assert.deepEqual(parseRotate('1.5GB'), { kind: 'size', bytes: 1.5e9 });
  assert.deepEqual(parseRotate('64kB'), { kind: 'size', bytes: 64000 });
  assert.deepEqual(parseRotate('10m'), { kind: 'time', ms: 600_000 });
  assert.deepEqual(parseRotate('1h'), { kind: 'time', ms: 3_600_000 });
  assert.deepEqual(parseRotate('30s'), { kind: 'time', ms: 30_000 });
});

test('--record-rotate: bad forms name the flag and the accepted form', () => {
  for (const bad of ['', '100', 'MiB', '1 parsec', '-1h', '1e3MiB']) {
    assert.throws(() => parseRotate(bad), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`--record-rotate ${JSON.stringify(bad)}: expected a size such as`), bad);
  }
  assert.throws(() => parseRotate('100B'), /--record-rotate "100B": expected a size from 4KiB/);
  assert.throws(() => parseRotate('0s'), /--record-rotate "0s": expected a duration from 1s/);
  assert.throws(() => parseRotate('8d'), /expected a duration from 1s to 7d/);
});

test('--record-files: 1..100000', () => {
  assert.equal(parseRecordFiles('3'), 3);
  for (const bad of ['0', 'x', '1.5', '100001']) assert.throws(() => parseRecordFiles(bad), /^ConfigError: --record-files/);
});

const parse = (raw: TcpcopyRawOptions) => parseTcpcopyOptions(raw, { randomSeed: 1, isFile: (p) => p.endsWith('.pcap') });

test('--record on a live copy; record-only without -s needs -x or -F; a file input is refused', () => {
  const c = parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', pcap: 'eth0', record: '/tmp/r.pcapng', recordRotate: '1GiB', recordResponses: true }).config;
  assert.deepEqual(c.record, { path: '/tmp/r.pcapng', store: null, task: null, rotate: { kind: 'size', bytes: 1073741824 }, files: 10, responses: true });
  assert.equal(c.recordOnly, false);
  const only = parse({ pcap: 'eth0', record: 'r', filter: 'tcp dst port 80', recordFiles: '4' }).config;
  assert.equal(only.recordOnly, true);
  assert.equal(only.record?.files, 4);
  assert.deepEqual(only.transfers, []);
  assert.equal(parse({ transfer: '80-10.0.0.2:80', record: 'r' }).config.recordOnly, true);
  assert.throws(() => parse({ record: 'r' }), /--record "r": recording without -s \(record only\) needs -x or -F/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', pcap: 'in.pcap', record: 'r' }), /--record "r": only for live capture/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', recordRotate: '1h' }), /--record-rotate "1h": only with --record PATH/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80' }), /^ConfigError: -s/, 'without --record, -s is still required');
});
