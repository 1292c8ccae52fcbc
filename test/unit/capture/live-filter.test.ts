import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCaptureFilter } from '../../../src/core/capture/live-filter.js';
import { parseTransfers } from '../../../src/core/config/copier.js';

const f = (x: string, user: string | null = null): string => buildCaptureFilter(parseTransfers(x), user);

test('one transfer: inbound TCP to the online port', () => {
  assert.equal(f('80-10.0.0.2:8080'), 'inbound and tcp and (dst port 80)');
});

test('an online address adds dst host; several transfers are ORed, each in parentheses', () => {
  assert.equal(
    f('192.0.2.1:80-10.0.0.2:80,443-10.0.0.2:8443'),
    'inbound and tcp and ((dst host 192.0.2.1 and dst port 80) or (dst port 443))',
  );
});

test('duplicates collapse, and a host-specific term is dropped when the bare port already covers it', () => {
  assert.equal(f('80-10.0.0.2:80,80-10.0.0.3:80'), 'inbound and tcp and (dst port 80)');
  assert.equal(f('192.0.2.1:80-10.0.0.2:80,80-10.0.0.3:80'), 'inbound and tcp and (dst port 80)');
  assert.equal(
    f('192.0.2.1:80-10.0.0.2:80,192.0.2.2:80-10.0.0.3:80'),
    'inbound and tcp and ((dst host 192.0.2.1 and dst port 80) or (dst host 192.0.2.2 and dst port 80))',
  );
});

test('-F is ANDed as given, in parentheses so its "or" stays inside', () => {
  assert.equal(f('80-10.0.0.2:80', 'src net 10.8.0.0/16 or src host 10.9.0.1'), 'inbound and tcp and (dst port 80) and (src net 10.8.0.0/16 or src host 10.9.0.1)');
  assert.equal(f('80-10.0.0.2:80', '   '), 'inbound and tcp and (dst port 80)');
  // libpcap-only syntax passes through untouched (our offline filter does not know tcp[13]).
  assert.equal(f('80-10.0.0.2:80', 'tcp[13] & 2 != 0'), 'inbound and tcp and (dst port 80) and (tcp[13] & 2 != 0)');
});
