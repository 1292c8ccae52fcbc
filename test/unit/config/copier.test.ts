import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAcceleration,
  parseClientPool,
  parseInterceptors,
  parseKeepaliveTimeout,
  parseMtu,
  parseReplicas,
  parseSampleRate,
  parseSessionTimeout,
  parseTransfers,
  parsePortShift,
  parseAddress,
  parseMss,
  parseFixedRtt,
  parseSessionBufferKb,
  parseMemoryMb,
} from '../../../src/core/config/copier.js';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseIpv4 } from '../../../src/core/packet/index.js';

const ip = (s: string): number => parseIpv4(s) as number;

function throwsFlag(fn: () => unknown, flag: string, mentions: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    assert.equal(e.flag, flag);
    assert.match(e.message, mentions);
    return true;
  });
}

test('-x: one or several transfers, with and without the online address', () => {
  assert.deepEqual(parseTransfers('80-10.0.0.2:8080'), [{ onlineIp: null, onlinePort: 80, targetIp: ip('10.0.0.2'), targetPort: 8080 }]);
  assert.deepEqual(parseTransfers('192.0.2.1:80-10.0.0.2:80, 443-10.0.0.3:8443'), [
    { onlineIp: ip('192.0.2.1'), onlinePort: 80, targetIp: ip('10.0.0.2'), targetPort: 80 },
    { onlineIp: null, onlinePort: 443, targetIp: ip('10.0.0.3'), targetPort: 8443 },
  ]);
});

test('-x: bad forms name the flag and the accepted form', () => {
  for (const bad of ['', '80', '80-10.0.0.2', '80-10.0.0.300:1', '0-10.0.0.2:80', '80-10.0.0.2:70000', 'x:80-10.0.0.2:80', '80-10.0.0.2:80,']) {
    throwsFlag(() => parseTransfers(bad), '-x', /\[onlineIp:\]port-targetIp:targetPort/);
  }
  throwsFlag(() => parseTransfers(Array(33).fill('80-10.0.0.2:80').join(',')), '-x', /at most 32/);
});

test('-c: addresses, ranges, a.b.c.x; targets removed; duplicates once', () => {
  assert.deepEqual(parseClientPool('10.1.0.1,10.1.0.2'), [ip('10.1.0.1'), ip('10.1.0.2')]);
  assert.deepEqual(parseClientPool('10.1.0.250-10.1.1.1'), [ip('10.1.0.250'), ip('10.1.0.251'), ip('10.1.0.252'), ip('10.1.0.253'), ip('10.1.0.254'), ip('10.1.0.255'), ip('10.1.1.0'), ip('10.1.1.1')]);
  assert.deepEqual(parseClientPool('10.1.0.5-7'), [ip('10.1.0.5'), ip('10.1.0.6'), ip('10.1.0.7')]);
  const x = parseClientPool('62.135.200.x');
  assert.equal(x.length, 254);
  assert.equal(x[0], ip('62.135.200.1'));
  assert.equal(x[253], ip('62.135.200.254'));
  assert.deepEqual(parseClientPool('10.0.0.2,10.0.0.3,10.0.0.3', [ip('10.0.0.2')]), [ip('10.0.0.3')]);
  assert.deepEqual(parseClientPool('10.0.0.*'), parseClientPool('10.0.0.x'));
  assert.equal(parseClientPool('10.0.0.*').length, 254);
  // CIDR: host addresses only (network and broadcast excluded up to /30), masked to the network.
  assert.deepEqual(parseClientPool('10.9.8.7/30'), [ip('10.9.8.5'), ip('10.9.8.6')]);
  assert.deepEqual(parseClientPool('10.9.8.7/32'), [ip('10.9.8.7')]);
  assert.deepEqual(parseClientPool('10.9.8.6/31'), [ip('10.9.8.6'), ip('10.9.8.7')]);
  assert.equal(parseClientPool('10.201.100.0/24').length, 254);
  assert.equal(parseClientPool('10.201.0.0/16').length, 65534);
  assert.equal(parseClientPool('10.201.100.0/24', [ip('10.201.100.1')])[0], ip('10.201.100.2'));
  throwsFlag(() => parseClientPool('10.0.0.0/33'), '-c', /CIDR/);
  throwsFlag(() => parseClientPool('10.0.0.0/8'), '-c', /more than 65536/);
  throwsFlag(() => parseClientPool('10.0.0.9-10.0.0.1'), '-c', /low-high/);
  throwsFlag(() => parseClientPool('10.0.0.2', [ip('10.0.0.2')]), '-c', /no usable address/);
  throwsFlag(() => parseClientPool('nonsense'), '-c', /a\.b\.c\.x/);
});

test('numeric flags: ranges and stock special values', () => {
  assert.equal(parseReplicas('3'), 3);
  assert.equal(parseReplicas('0'), 1);
  throwsFlag(() => parseReplicas('1024'), '-n', /0\.\.1023/);
  assert.equal(parsePortShift('5'), 5);
  throwsFlag(() => parsePortShift('-1'), '-f', /0\.\.1023/);
  assert.equal(parseSampleRate('50'), 50);
  assert.equal(parseSampleRate('0'), 100);
  throwsFlag(() => parseSampleRate('101'), '-r', /percentage/);
  throwsFlag(() => parseSampleRate('5.5'), '-r', /whole number/);
  assert.equal(parseMtu('1500'), 1500);
  throwsFlag(() => parseMtu('100'), '-M', /MTU/);
  assert.equal(parseMss('1460'), 1460);
  assert.equal(parseFixedRtt('20'), 20);
  assert.equal(parseSessionTimeout('-5'), 600);
  assert.equal(parseSessionTimeout('30'), 30);
  throwsFlag(() => parseSessionTimeout('0'), '-t', /timeout/);
  assert.equal(parseKeepaliveTimeout('0', 30), 150);
  assert.equal(parseKeepaliveTimeout('40', 30), 40);
  assert.equal(parseSessionBufferKb('64'), 64);
  assert.equal(parseMemoryMb('2048'), 2048);
  assert.equal(parseAcceleration('2.5'), 2.5);
  throwsFlag(() => parseAcceleration('0'), '-a', /speed-up/);
  throwsFlag(() => parseAcceleration('fast'), '-a', /speed-up/);
  assert.equal(parseAddress('10.0.0.9', '-H'), ip('10.0.0.9'));
  throwsFlag(() => parseAddress('10.0.0', '-H'), '-H', /IPv4/);
});

test('-s: interceptors with default port', () => {
  assert.deepEqual(parseInterceptors('10.0.0.2,10.0.0.3:4000', 36524), [
    { ip: ip('10.0.0.2'), port: 36524 },
    { ip: ip('10.0.0.3'), port: 4000 },
  ]);
  throwsFlag(() => parseInterceptors('10.0.0.2:0', 36524), '-s', /ip\[:port\]/);
});
