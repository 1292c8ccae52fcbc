import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShare, parseStoreUrl } from '../../../src/core/config/store-url.js';
import { parseStoreCommand } from '../../../src/core/config/store-commands.js';
import { parseTcpcopyOptions, type TcpcopyRawOptions } from '../../../src/core/config/tcpcopy-cli.js';

const parse = (raw: TcpcopyRawOptions): ReturnType<typeof parseTcpcopyOptions> => parseTcpcopyOptions(raw, { randomSeed: 1, isFile: (p) => p.endsWith('.pcap') });

test('store URLs: servers with default ports, stream, task or time range, recording parameters', () => {
  const u = parseStoreUrl('nats://a,b:4333/web?task=peak', '-i');
  assert.deepEqual([u.servers, u.stream, u.task, u.sinceUs], [['a:4222', 'b:4333'], 'web', 'peak', null]);
  const r = parseStoreUrl('nats://10.0.0.5/web?since=2026-12-02T08:00:00Z&until=1796198500', '-i');
  assert.equal(r.sinceUs, Date.parse('2026-12-02T08:00:00Z') * 1000);
  assert.equal(r.untilUs, 1796198500 * 1e6);
  const rec = parseStoreUrl('nats://s1/web?host=web-1&max-bytes=10GiB&max-age=7d&replicas=3', '--record');
  assert.deepEqual([rec.host, rec.maxBytes, rec.maxAgeMs, rec.replicas], ['web-1', 10 * 1073741824, 7 * 86_400_000, 3]);
  assert.throws(() => parseStoreUrl('nats://h', '-i'), /^ConfigError: -i "nats:\/\/h": expected nats:\/\/HOST/);
  assert.throws(() => parseStoreUrl('nats://h/web?task=x&since=1', '-i'), /either task=NAME or since=/);
  assert.throws(() => parseStoreUrl('nats://h/web?since=5&until=4', '-i'), /until must be later/);
  assert.throws(() => parseStoreUrl('nats://h:99999/web', '--record'), /^ConfigError: --record .*port must be 1\.\.65535/);
  assert.throws(() => parseStoreUrl('nats://h/web?max-age=10GiB', '--record'), /max-age: expected a duration/);
  assert.throws(() => parseStoreUrl('kafka://h/web', '-i'), /unsupported store "kafka:\/\/"/);
  assert.deepEqual(parseShare('2/3', 16), { index: 2, of: 3 });
  assert.throws(() => parseShare('0/2', 16), /^ConfigError: --share "0\/2"/);
  assert.throws(() => parseShare('1/17', 16), /M ≤ 16/);
});

test('-i nats://… is a store input; --record nats://… a store recording with --task; file-only options refused', () => {
  const c = parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', pcap: 'nats://s/web?task=t', share: '1/2', accelerate: '5' }).config;
  assert.equal(c.input.kind, 'store');
  assert.deepEqual(c.share, { index: 1, of: 2 });
  assert.equal(c.acceleration, 5, 'a store replays like a file: -a applies');
  const r = parse({ transfer: '80-10.0.0.2:80', pcap: 'eth0', record: 'nats://s/web?host=h1', task: 'peak' }).config;
  assert.equal(r.recordOnly, true);
  assert.equal(r.record?.store?.stream, 'web');
  assert.equal(r.record?.task, 'peak');
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', pcap: 'eth0', record: 'nats://s/web', recordRotate: '1h' }), /^ConfigError: --record-rotate "1h": only with --record PATH \(a file\)/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', pcap: 'eth0', record: '/tmp/r', task: 'x' }), /^ConfigError: --task "x": only with --record nats:/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', pcap: 'in.pcap', share: '1/2' }), /^ConfigError: --share "1\/2": only when replaying from a stream store/);
  assert.throws(() => parse({ transfer: '80-10.0.0.2:80', intercept: '10.0.0.2', pcap: 'nats://s/web?task=t', record: 'nats://s/x' }), /^ConfigError: --record .*: only for live capture; -i is a stream store/);
});

test('store commands: list, start/stop with the task, export needs -i, import needs --record and --task', () => {
  assert.equal(parseStoreCommand({}), null);
  assert.equal(parseStoreCommand({ tasks: 'nats://s/web' })?.kind, 'list');
  assert.deepEqual(parseStoreCommand({ taskStart: 'nats://s/web', task: 'n1' }), { kind: 'start', url: parseStoreUrl('nats://s/web', '--task-start'), task: 'n1' });
  assert.equal(parseStoreCommand({ taskStop: 'nats://s/web?task=n2' })?.kind, 'stop');
  assert.throws(() => parseStoreCommand({ taskStop: 'nats://s/web' }), /^ConfigError: --task-stop .*needs the task/);
  assert.throws(() => parseStoreCommand({ tasks: 'nats://s/web', export: 'f' }), /one store command at a time/);
  assert.throws(() => parseStoreCommand({ export: 'f.pcapng', pcap: 'nats://s/web' }), /^ConfigError: -i .*name the range/);
  assert.equal(parseStoreCommand({ export: 'f.pcapng', pcap: 'nats://s/web?task=a' })?.kind, 'export');
  assert.throws(() => parseStoreCommand({ import: 'f.pcap', record: 'nats://s/web' }), /^ConfigError: --import .*needs the task/);
  assert.throws(() => parseStoreCommand({ import: 'f.pcap' }), /^ConfigError: --import "f.pcap": needs the store/);
});
