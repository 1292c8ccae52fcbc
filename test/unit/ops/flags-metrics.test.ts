import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpsOptions } from '../../../src/core/doctor/flags.js';
import { ConfigError } from '../../../src/core/config/errors.js';
import { buildRegistry, snakeCase, startMetricsServer } from '../../../src/io/metrics.js';

test('ops flags: defaults, metrics on loopback by default, errors name the flag', () => {
  assert.deepEqual(parseOpsOptions({}), { check: false, checkPorts: [], checkClients: [], checkCopier: null, metrics: null });
  const o = parseOpsOptions({ check: true, checkPorts: '80,6379', checkClients: '10.9.0.0/16,10.8.0.1', checkCopier: '10.1.0.1', metricsPort: '9101' });
  assert.deepEqual(o.checkPorts, [80, 6379]);
  assert.deepEqual(o.checkClients, ['10.9.0.0/16', '10.8.0.1']);
  assert.deepEqual(o.metrics, { port: 9101, host: '127.0.0.1' });
  assert.deepEqual(parseOpsOptions({ metricsPort: '9101', metricsBind: '0.0.0.0' }).metrics, { port: 9101, host: '0.0.0.0' });
  assert.throws(() => parseOpsOptions({ metricsPort: '70000' }), (e: unknown) => e instanceof ConfigError && e.flag === '--metrics-port');
  assert.throws(() => parseOpsOptions({ metricsBind: '0.0.0.0' }), /--metrics-bind "0.0.0.0": needs --metrics-port/);
  assert.throws(() => parseOpsOptions({ checkClients: '10.9.0.0/40' }), /--check-clients/);
  assert.throws(() => parseOpsOptions({ checkCopier: 'host' }), /--check-copier "host"/);
});

test('metrics: every snapshot counter exported (counters _total, gauges plain) with live values', async () => {
  assert.equal(snakeCase('kernelQueueDropped'), 'kernel_queue_dropped');
  const stats = { queued: 5, connsLive: 2, backpressureDrops: 0 };
  const reg = buildRegistry({ prefix: 'tcpcopy_test', snapshot: () => stats, gauges: new Set(['connsLive']) });
  let text = await reg.metrics();
  assert.match(text, /^tcpcopy_test_queued_total 5$/m);
  assert.match(text, /^# TYPE tcpcopy_test_conns_live gauge$/m);
  assert.match(text, /^tcpcopy_test_conns_live 2$/m);
  assert.match(text, /^tcpcopy_test_backpressure_drops_total 0$/m);
  assert.match(text, /^tcpcopy_test_process_cpu_user_seconds_total /m, 'default process metrics');
  stats.queued = 9;
  stats.connsLive = 1;
  text = await reg.metrics();
  assert.match(text, /^tcpcopy_test_queued_total 9$/m);
  assert.match(text, /^tcpcopy_test_conns_live 1$/m);
});

test('metrics server: loopback, GET /metrics, 404 elsewhere, close', async () => {
  const srv = await startMetricsServer({ prefix: 'tcpcopy_test2', port: 0, host: '127.0.0.1', snapshot: () => ({ records: 3 }) });
  try {
    assert.equal(srv.address.address, '127.0.0.1');
    const base = `http://127.0.0.1:${srv.address.port}`;
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(await res.text(), /^tcpcopy_test2_records_total 3$/m);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    await srv.close();
  }
});
