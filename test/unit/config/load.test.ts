import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseTcpcopyOptions, type TcpcopyRawOptions } from '../../../src/core/config/tcpcopy-cli.js';

// -u and its companions: what load mode hands the source and the engine.

const BASE = { transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'traffic.pcap' };
const parse = (raw: TcpcopyRawOptions): ReturnType<typeof parseTcpcopyOptions>['config'] =>
  parseTcpcopyOptions({ ...BASE, ...raw }, { randomSeed: 1, isFile: (p) => p === 'traffic.pcap' }).config;

test('-u: users, -c as their addresses (the engine keeps the source\'s tuples), --ramp, --duration, -T as passes', () => {
  const c = parse({ users: '5000', clientIp: '10.201.100.0/24', ramp: '10', duration: '60', times: '3' });
  assert.ok(c.load !== null);
  assert.equal(c.load.users, 5000);
  assert.equal(c.load.addresses.length, 254);
  assert.deepEqual(c.engine.clientPool, [], 'load mode: the source picks addresses and ports');
  assert.equal(c.load.rampUs, 10e6);
  assert.equal(c.load.durationUs, 60e6);
  assert.equal(c.load.passes, 3);
  assert.equal(c.loops, 1, 'the file is read once');
  assert.equal(c.load.comet, false);
  assert.equal(c.engine.closeWithTarget, false);
  assert.equal(c.engine.keepaliveTimeoutUs, 720e6);
  // Without -u, -c is the engine's pool and -T the file's runs.
  const plain = parse({ clientIp: '10.201.100.0/24', times: '3' });
  assert.equal(plain.load, null);
  assert.equal(plain.engine.clientPool.length, 254);
  assert.equal(plain.loops, 3);
});

test('--comet: no -k unless given, the engine closes with the target; --clients is -c', () => {
  const c = parse({ users: '10', clients: '10.9.0.1-4', comet: true });
  assert.equal(c.load?.comet, true);
  assert.equal(c.load?.durationUs, Infinity);
  assert.equal(c.load?.passes, null);
  assert.deepEqual(c.load?.addresses.length, 4);
  assert.equal(c.engine.keepaliveTimeoutUs, Infinity);
  assert.equal(c.engine.closeWithTarget, true);
  assert.equal(parse({ users: '10', comet: true, keepalive: '100' }).engine.keepaliveTimeoutUs, 100e6);
});

test('-u errors name the flags: live input, too many users for -c (and -n), companions without -u', () => {
  const bad = (raw: TcpcopyRawOptions, flag: string, re: RegExp): void => {
    assert.throws(() => parse(raw), (e: unknown) => e instanceof ConfigError && e.flag === flag && re.test(e.message));
  };
  bad({ users: '10', pcap: 'eth0' }, '-u', /give -i FILE/);
  bad({ users: '64513', clientIp: '10.0.0.9' }, '-u', /at most 64512 users for the 1 address\(es\) of -c/);
  bad({ users: '32257', clientIp: '10.0.0.9', replicas: '2' }, '-u', /÷ -n 2/);
  bad({ ramp: '5' }, '--ramp', /only with -u/);
  bad({ users: '10', duration: '0' }, '--duration', /the run time in seconds/);
  bad({ users: '10', pcap: 'nats://store:4222/web?task=a' }, '-u', /export the task with --export FILE first/);
  bad({ users: '10', report: 'r.json' }, '--report', /not with -u\/--users \(load mode\)/);
  bad({ users: '10', mirror: true }, '--mirror', /not with -u/);
  bad({ users: '10', percentage: '10' }, '-r', /-u sets how many users run/);
  bad({ users: '10', gradual: true }, '-g', /not with -u/);
  bad({ users: '10', rate: true }, '--rate', /not with -u/);
  bad({ users: '10', maxOpening: '64' }, '--max-opening', /not with -u/);
});
