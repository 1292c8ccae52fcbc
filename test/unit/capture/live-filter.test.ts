import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCaptureFilter, directionRule } from '../../../src/core/capture/live-filter.js';
import { parseTransfers } from '../../../src/core/config/copier.js';

const f = (x: string, user: string | null = null): string => buildCaptureFilter(parseTransfers(x), user);

test('one transfer: TCP to the online port', () => {
  assert.equal(f('80-10.0.0.2:8080'), 'tcp and (dst port 80)');
});

test('an online address adds dst host; several transfers are ORed, each in parentheses', () => {
  assert.equal(f('192.0.2.1:80-10.0.0.2:80,443-10.0.0.2:8443'), 'tcp and ((dst host 192.0.2.1 and dst port 80) or (dst port 443))');
});

test('duplicates collapse, and a host-specific term is dropped when the bare port already covers it', () => {
  assert.equal(f('80-10.0.0.2:80,80-10.0.0.3:80'), 'tcp and (dst port 80)');
  assert.equal(f('192.0.2.1:80-10.0.0.2:80,80-10.0.0.3:80'), 'tcp and (dst port 80)');
  assert.equal(
    f('192.0.2.1:80-10.0.0.2:80,192.0.2.2:80-10.0.0.3:80'),
    'tcp and ((dst host 192.0.2.1 and dst port 80) or (dst host 192.0.2.2 and dst port 80))',
  );
});

test('-F is ANDed as given, in parentheses so its "or" stays inside', () => {
  assert.equal(f('80-10.0.0.2:80', 'src net 10.8.0.0/16 or src host 10.9.0.1'), 'tcp and (dst port 80) and (src net 10.8.0.0/16 or src host 10.9.0.1)');
  assert.equal(f('80-10.0.0.2:80', '   '), 'tcp and (dst port 80)');
  // libpcap-only syntax passes through untouched (our offline filter does not know tcp[13]).
  assert.equal(f('80-10.0.0.2:80', 'tcp[13] & 2 != 0'), 'tcp and (dst port 80) and (tcp[13] & 2 != 0)');
});

test('incoming only: inbound on any, not our own MAC on Ethernet, nothing on loopback, inbound elsewhere', () => {
  assert.deepEqual(directionRule('any', null, null), { kind: 'inbound' });
  assert.deepEqual(directionRule('eth0', 1, '02:AB:00:00:00:01\n'), { kind: 'not-ether-src', mac: '02:ab:00:00:00:01' });
  assert.deepEqual(directionRule('lo', 772, '00:00:00:00:00:00'), { kind: 'none' });
  assert.deepEqual(directionRule('dummy0', 1, '00:00:00:00:00:00'), { kind: 'inbound' }, 'no usable MAC');
  assert.deepEqual(directionRule('tun0', 65534, null), { kind: 'inbound' });
  const t = parseTransfers('80-10.0.0.2:80');
  assert.equal(buildCaptureFilter(t, null, directionRule('any', null, null)), 'inbound and tcp and (dst port 80)');
  assert.equal(buildCaptureFilter(t, 'src net 10.8.0.0/16', { kind: 'not-ether-src', mac: '02:00:00:00:00:01' }), 'not ether src 02:00:00:00:00:01 and tcp and (dst port 80) and (src net 10.8.0.0/16)');
});

test('--record-responses: the services\' source side too, without the direction rule (a local server\'s answers leave)', () => {
  const t = parseTransfers('80-10.0.0.2:80,192.0.2.1:443-10.0.0.2:443');
  const mac = { kind: 'not-ether-src', mac: '02:00:00:00:00:01' } as const;
  assert.equal(
    buildCaptureFilter(t, null, mac, true),
    '(not ether src 02:00:00:00:00:01 and tcp and ((dst port 80) or (dst host 192.0.2.1 and dst port 443))) or (tcp and ((src port 80) or (src host 192.0.2.1 and src port 443)))',
  );
  assert.equal(buildCaptureFilter(parseTransfers('80-10.0.0.2:80'), 'net 10.8.0.0/16', { kind: 'none' }, true), '((tcp and (dst port 80)) or (tcp and (src port 80))) and (net 10.8.0.0/16)');
});

test('record only with -F alone: -F with the direction rule, or as given with responses', () => {
  assert.equal(buildCaptureFilter([], 'tcp dst port 80', { kind: 'inbound' }), 'inbound and (tcp dst port 80)');
  assert.equal(buildCaptureFilter([], 'tcp port 80', { kind: 'inbound' }, true), '(tcp port 80)');
  assert.equal(buildCaptureFilter([], 'tcp port 80', { kind: 'none' }), '(tcp port 80)');
});
