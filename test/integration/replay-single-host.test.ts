// Issue 5, scenario 6: single-host set-up. Copier, interceptor, nginx and redis-server all in one
// namespace; tcpcopy sends to the namespace's own (non-loopback) address. Same assertions as the
// two-host HTTP and Redis replays, in one run with two -x entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labFor, requireRoot, singleHost } from '../helpers/lab.js';
import { startNginx, startRedis } from '../helpers/servers.js';
import { describeRun, multisetMinus, recordLossless, runTcpcopy, startIntercept } from './replay-lab.js';

const skip = requireRoot();

test('single host: HTTP and Redis replayed to the own address; access log and keys match', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-single' });
  const rec = await recordLossless(lab, {
    aliases: 30,
    http: { connections: 360, requestsPerConn: [1, 3, 5, 4], postEvery: 9, postBytes: 2500 },
    redis: { connections: 30, keys: 2100, pipelineDepth: 6 },
    rate: 300,
    concurrency: 24,
  });
  assert.equal(rec.truth.errors, 0);
  const recorded = rec.truth.httpRequests.map((r) => `${r.method} ${r.path}`);
  assert.ok(recorded.length >= 1000 && rec.truth.redisKeys.length >= 2000);

  const h = await singleHost(lab);
  await startIntercept(lab, h.ns, [80, 6379]);
  const nginx = await startNginx(lab, h.ns, { port: 80, bind: h.ip });
  const redis = await startRedis(lab, h.ns, { port: 6379, bind: h.ip });

  const run = await runTcpcopy(lab, h.ns, ['-x', `80-${h.ip}:80,6379-${h.ip}:6379`, '-s', h.ip, '-i', rec.pcap, '--quiet']);
  assert.equal(run.code, 0, describeRun(run));
  const conns = rec.truth.connections.length;
  assert.equal(run.summary.started, conns, describeRun(run));
  assert.equal(run.summary.outcomes.completed, conns, describeRun(run));

  await new Promise((r) => setTimeout(r, 300));
  const log = nginx.readAccessLog();
  const replayed = log.map((e) => `${e.method} ${e.path}`);
  assert.deepEqual(multisetMinus(recorded, replayed).slice(0, 5), [], 'requests missing at the target');
  assert.deepEqual(multisetMinus(replayed, recorded).slice(0, 5), [], 'unexpected requests at the target');
  assert.ok(log.every((e) => e.status === 200));
  // The target saw the recorded client addresses, not its own or loopback.
  assert.ok(log.every((e) => rec.pair.clientIps.includes(e.remoteAddr)));

  assert.equal(await redis.dbsize(), rec.truth.redisKeys.length);
  const sample = rec.truth.redisKeys.filter((_, i) => i % 7 === 0);
  const out = (await redis.cli(['--raw', 'MGET', ...sample.map((k) => k.key)])).split('\n');
  assert.deepEqual(out, sample.map((k) => k.value));
});
