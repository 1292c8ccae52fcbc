import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/config/errors.js';
import { engineOptionsFrom, parseAllowList, parseBytes, parseInterceptOptions } from '../../../src/core/config/intercept.js';
import { cidrContains } from '../../../src/core/intercept/index.js';
import { nfqueueRuleSpec, rulesFeedQueue } from '../../../src/io/iptables.js';
import { parseKernelQueueStats } from '../../../src/io/nfqueue-tap.js';
import { peerIpv4 } from '../../../src/io/channel-server.js';
import { parseIpv4 } from '../../../src/core/packet/ipv4.js';

test('defaults follow stock intercept', () => {
  const { config, warnings } = parseInterceptOptions({});
  assert.equal(config.port, 36524);
  assert.equal(config.bind, null);
  assert.deepEqual(config.passList, []);
  assert.equal(config.maxFrameRecords, 16);
  assert.equal(config.queueNum, 0);
  assert.equal(config.statsIntervalMs, 30_000);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.protect, false);
  assert.deepEqual(config.installRulePorts, []);
  assert.deepEqual(warnings, []);
});

test('stock flags parse to typed values', () => {
  const { config } = parseInterceptOptions({
    port: '4000',
    bind: '10.0.0.2',
    pass: '10.0.0.5,10.0.0.6',
    combine: '4',
    queueLen: '65536',
    hashSize: '65536',
    protect: true,
    docker: '172.17.0.2-10.0.0.2',
    log: '/tmp/x.log',
    pidFile: '/tmp/x.pid',
    daemon: true,
    queueNum: '3',
    withPayload: true,
    allow: '10.0.0.0/8,192.0.2.7',
    statsInterval: '0.5',
    logLevel: 'DEBUG',
    installRule: '80,8080,80',
    connBuffer: '1m',
    stuckTimeout: '2.5',
  });
  assert.equal(config.port, 4000);
  assert.deepEqual(config.passList, [0x0a000005, 0x0a000006]);
  assert.equal(config.maxFrameRecords, 4);
  assert.equal(config.queueMaxLen, 65536);
  assert.deepEqual(config.docker, { from: 0xac110002, to: 0x0a000002 });
  assert.equal(config.queueNum, 3);
  assert.equal(config.statsIntervalMs, 500);
  assert.equal(config.logLevel, 'debug');
  assert.deepEqual(config.installRulePorts, [80, 8080]);
  assert.equal(config.connBufferBytes, 1024 * 1024);
  assert.deepEqual(config.allow, [
    { net: 0x0a000000, mask: 0xff000000 },
    { net: 0xc0000207, mask: 0xffffffff },
  ]);
  const e = engineOptionsFrom(config);
  assert.equal(e.withPayload, true);
  assert.equal(e.protect, true);
  assert.equal(e.maxFrameRecords, 4);
  assert.equal(e.stuckUs, 2_500_000);
  assert.equal(engineOptionsFrom(parseInterceptOptions({}).config).stuckUs, 10_000_000);
});

test('-n outside 1..15 is ignored as stock does; payload variant caps frames at 6', () => {
  assert.equal(parseInterceptOptions({ combine: '0' }).config.maxFrameRecords, 16);
  assert.equal(parseInterceptOptions({ combine: '40' }).warnings.length, 1);
  assert.equal(parseInterceptOptions({ withPayload: true }).config.maxFrameRecords, 6);
  assert.equal(parseInterceptOptions({ withPayload: true, combine: '10' }).config.maxFrameRecords, 6);
});

test('bad values throw a ConfigError naming the flag and the accepted form', () => {
  const cases: [Parameters<typeof parseInterceptOptions>[0], string][] = [
    [{ port: '0' }, '-p'],
    [{ port: '70000' }, '-p'],
    [{ port: 'http' }, '-p'],
    [{ pass: '10.0.0.256' }, '-x'],
    [{ pass: Array.from({ length: 33 }, (_, i) => `10.0.0.${i}`).join(',') }, '-x'],
    [{ docker: '1.2.3.4' }, '-D'],
    [{ combine: '-1' }, '-n'],
    [{ queueNum: '65536' }, '--queue-num'],
    [{ allow: '10.0.0.0/33' }, '--allow'],
    [{ logLevel: 'verbose' }, '--log-level'],
    [{ statsInterval: 'often' }, '--stats-interval'],
    [{ installRule: '80,x' }, '--install-rule'],
    [{ installRule: '36524' }, '--install-rule'],
    [{ connBuffer: '12' }, '--conn-buffer'],
    [{ stuckTimeout: '0' }, '--stuck-timeout'],
    [{ bind: 'not an address' }, '-b'],
  ];
  for (const [raw, flag] of cases) {
    assert.throws(
      () => parseInterceptOptions(raw),
      (err: unknown) => err instanceof ConfigError && err.flag === flag && /expected|must/.test(err.message),
      `${flag} ${JSON.stringify(raw)}`,
    );
  }
});

test('CIDR and byte helpers', () => {
  const [net] = parseAllowList('10.1.0.0/16');
  assert.ok(net && cidrContains(net, 0x0a01ffff));
  assert.ok(net && !cidrContains(net, 0x0a02ffff));
  const [all] = parseAllowList('0.0.0.0/0');
  assert.ok(all && cidrContains(all, 0xffffffff));
  assert.equal(parseBytes('64k', '--x', 1), 65536);
});

test('iptables listing: which rules feed a queue', () => {
  const listing = [
    '-P OUTPUT ACCEPT',
    '-A OUTPUT ! -o lo -p tcp -m tcp --sport 80 -m comment --comment "tcpcopy-ts intercept" -j NFQUEUE --queue-num 0',
    '-A OUTPUT -p tcp --sport 81 -j NFQUEUE --queue-balance 4:7',
  ].join('\n');
  assert.ok(rulesFeedQueue(listing, 0));
  assert.ok(rulesFeedQueue(listing, 5));
  assert.ok(!rulesFeedQueue(listing, 3));
  assert.ok(rulesFeedQueue('-A OUTPUT -p tcp -j NFQUEUE', 0), 'no --queue-num means queue 0');
  assert.ok(!rulesFeedQueue('-A OUTPUT -p tcp -j ACCEPT', 0));
  assert.deepEqual(nfqueueRuleSpec(80, 2).slice(0, 5), ['OUTPUT', '-p', 'tcp', '--sport', '80']);
  assert.deepEqual(nfqueueRuleSpec(80, 2).slice(-3), ['NFQUEUE', '--queue-num', '2']);
});

test('kernel queue counters and peer addresses parse', () => {
  const text = '    0  12345     3 2 65531   17   42 991 1\n    1  0 0 2 65531 0 0 0 1\n';
  assert.deepEqual(parseKernelQueueStats(text, 0), {
    queueNum: 0,
    peerPortId: 12345,
    queueTotal: 3,
    copyMode: 2,
    copyRange: 65531,
    queueDropped: 17,
    userDropped: 42,
    idSequence: 991,
  });
  assert.equal(parseKernelQueueStats(text, 2), null);
  assert.equal(peerIpv4('::ffff:10.1.2.3'), 0x0a010203);
  assert.equal(peerIpv4('10.1.2.3'), 0x0a010203);
  assert.equal(peerIpv4('::1'), -1);
  assert.equal(peerIpv4('10.1.2.300'), -1);
});

test('peerIpv4 reads a peer address exactly as parseIpv4 reads a dotted quad (one IPv4 parser)', () => {
  for (const a of ['10.1.2.3', '010.1.2.3', '10.1.2.03', '0.0.0.0', '255.255.255.255', '1.2.3', '1.2.3.4.5', '', ' 10.1.2.3', '10.1.2.3a']) {
    assert.equal(peerIpv4(a), parseIpv4(a) ?? -1, a);
    assert.equal(peerIpv4(`::ffff:${a}`), parseIpv4(a) ?? -1, `::ffff:${a}`);
  }
  assert.equal(peerIpv4(undefined), -1);
  assert.equal(peerIpv4('fe80::1'), -1);
});
