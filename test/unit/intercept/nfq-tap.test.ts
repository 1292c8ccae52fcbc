import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';
import { loadAddon, NativeAddonError, nfqAddonPath } from '../../../src/io/native.js';
import { BACKEND_ENV, NfqueueTap, rcvbufFor } from '../../../src/io/nfqueue-tap.js';

// No root needed: everything here fails (on purpose) before a netlink socket is opened.

interface FastModule {
  NfqQueue: new (o: Record<string, unknown>) => unknown;
}

function fastModule(): FastModule | null {
  try {
    return loadAddon<FastModule>('nfq');
  } catch {
    return null;
  }
}

test("the fast addon's load error says how to build it", () => {
  const e = new NativeAddonError('nfq', new Error('Cannot find module …/nfq.node'));
  assert.match(e.message, /native addon 'nfq' could not be loaded \(Cannot find module/);
  assert.match(e.message, /npm run build:native/);
  assert.equal(nfqAddonPath(), join(repoRoot, 'src', 'native', 'nfq', 'build', 'Release', 'nfq.node'));
});

test(`${BACKEND_ENV} with an unknown value is refused, naming the accepted values`, () => {
  const saved = process.env[BACKEND_ENV];
  process.env[BACKEND_ENV] = 'turbo';
  try {
    assert.throws(
      () => NfqueueTap.open({ queueNum: 0, rcvbufBytes: 1 << 20 }, () => 0, () => undefined),
      /TCPCOPY_TS_NFQ_BACKEND=turbo: expected fast, nfqueue or auto/,
    );
  } finally {
    if (saved === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = saved;
  }
});

const mod = fastModule();
test('the addon checks its options before touching the kernel', { skip: mod === null ? 'fast addon not built (npm run build:native)' : false }, () => {
  const Q = (mod as FastModule).NfqQueue;
  assert.throws(() => new Q({ queueNum: 70000 }), { name: 'RangeError', message: /queueNum must be 0\.\.65535/ });
  assert.throws(() => new Q({ copyRange: 20 }), { name: 'RangeError', message: /copyRange must be 40\.\.65531/ });
  assert.throws(() => new Q({ batchSize: 0 }), { name: 'RangeError', message: /batchSize must be 1\.\.4096/ });
  assert.throws(() => new Q({ maxLen: 0 }), { name: 'RangeError', message: /maxLen must be at least 1/ });
  assert.throws(() => new Q({ maxLen: '5000' }), { name: 'TypeError', message: /'maxLen' must be a number/ });
  assert.throws(() => new Q({ rcvbuf: 1.5 }), { name: 'RangeError', message: /'rcvbuf' must be an integer/ });
  assert.throws(() => new (Q as unknown as new () => unknown)(), { name: 'TypeError', message: /new NfqQueue\(\{ queueNum/ });
});

test('the receive buffer grows with -q so the whole queue fits in the socket', () => {
  // 65536 messages × (64 + 1024) / 2 (the kernel doubles it): above the 16 MiB asked.
  assert.equal(rcvbufFor(16 << 20, 65536, 64), 35_651_584);
  assert.equal(rcvbufFor(16 << 20, 1024, 64), 16 << 20, 'never below what was asked');
  assert.equal(rcvbufFor(16 << 20, 1_000_000, 192), 256 << 20, 'capped at 256 MiB');
});
