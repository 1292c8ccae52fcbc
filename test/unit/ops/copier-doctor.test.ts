import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copierDoctorOptionsFrom } from '../../../src/app/doctor.js';
import { parseInterceptors, parseTransfers } from '../../../src/core/config/copier.js';

test('tcpcopy --check inputs come from -x, -s and -i (targets deduplicated, default channel port)', () => {
  const o = copierDoctorOptionsFrom({
    transfers: parseTransfers('80-10.0.0.2:8080,443-10.0.0.2:8443,6379-10.0.0.3:6379'),
    interceptors: parseInterceptors('10.0.0.2,10.0.0.3:4000', 36524),
    input: { kind: 'file', path: '/var/lib/tcpcopy/traffic.pcap' },
  });
  assert.deepEqual(o, {
    interceptors: [{ host: '10.0.0.2', port: 36524 }, { host: '10.0.0.3', port: 4000 }],
    targets: ['10.0.0.2', '10.0.0.3'],
    captureFile: '/var/lib/tcpcopy/traffic.pcap',
    captureDevices: [],
  });
});

test('tcpcopy --check of a live copy checks every capture device and no file', () => {
  const o = copierDoctorOptionsFrom({
    transfers: parseTransfers('80-10.0.0.2:8080'),
    interceptors: parseInterceptors('10.0.0.2', 36524),
    input: { kind: 'live', devices: ['eth0', 'eth1'] },
  });
  assert.equal(o.captureFile, null);
  assert.deepEqual(o.captureDevices, ['eth0', 'eth1']);
});

test('tcpcopy --check of a record-only run (--record without -s) checks no target route and no interceptor', () => {
  const o = copierDoctorOptionsFrom({
    transfers: parseTransfers('80-10.0.0.2:8080'),
    interceptors: [],
    input: { kind: 'live', devices: ['eth0'] },
    recordOnly: true,
  });
  assert.deepEqual(o.targets, []);
  assert.deepEqual(o.interceptors, []);
  assert.deepEqual(o.captureDevices, ['eth0']);
});
