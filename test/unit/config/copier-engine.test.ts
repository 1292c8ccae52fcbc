import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineConfigFromFlags } from '../../../src/core/config/copier-engine.js';
import { ConfigError } from '../../../src/core/config/errors.js';

test('flags become an engine config; units converted; defaults kept', () => {
  const c = engineConfigFromFlags({
    transfers: '80-10.0.0.2:8080',
    clientPool: '10.0.0.2,10.0.0.3-5',
    replicas: '3',
    sample: '40',
    rtt: '20',
    sessionTimeout: '30',
    keepalive: '0',
    sessionBufferKb: '64',
    memoryMb: '10',
    acceleration: '2.5',
    noWait: true,
    seed: 9,
  });
  assert.equal(c.transfers.length, 1);
  assert.equal(c.clientPool.length, 3, 'the target address is removed from the pool');
  assert.equal(c.replicas, 3);
  assert.equal(c.samplePercent, 40);
  assert.equal(c.fixedRttUs, 20_000);
  assert.equal(c.sessionTimeoutUs, 30_000_000);
  assert.equal(c.keepaliveTimeoutUs, 150_000_000);
  assert.equal(c.sessionBufferCap, 65536);
  assert.equal(c.totalBufferCap, 10 * 1024 * 1024);
  assert.equal(c.acceleration, 2.5);
  assert.equal(c.noWait, true);
  assert.equal(c.lonely, false);
  assert.equal(c.seed, 9);
  const d = engineConfigFromFlags({ transfers: '80-10.0.0.2:8080' });
  assert.equal(d.mtu, 1500);
  assert.equal(d.keepaliveTimeoutUs, 720_000_000);
  assert.throws(() => engineConfigFromFlags({ transfers: '80-10.0.0.2:8080', mtu: 'big' }), ConfigError);
});
