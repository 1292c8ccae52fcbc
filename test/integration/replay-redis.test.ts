// Issue 5, scenario 2: a Redis client doing SETs of distinct keys over several connections,
// pipelined and not, replayed into a fresh redis-server: the target's DBSIZE equals the recorded
// key count and every value matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startRedis } from '../helpers/servers.js';
import { describeRun, recordLossless, replayTarget, runTcpcopy } from './replay-lab.js';

const skip = requireRoot();

test('Redis replay: DBSIZE equals the recorded key count and every value matches, also with 5% loss each way', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-redis' });
  const rec = await recordLossless(lab, { aliases: 20, redis: { connections: 40, keys: 2400, pipelineDepth: 8 }, rate: 200, concurrency: 16 });
  assert.equal(rec.truth.errors, 0);
  const keys = rec.truth.redisKeys;
  assert.ok(keys.length >= 2000, `recorded ${keys.length} keys`);
  assert.equal(new Set(keys.map((k) => k.key)).size, keys.length, 'distinct keys');
  const redisConns = rec.truth.connections.filter((c) => c.kind === 'redis');
  assert.ok(redisConns.some((c) => c.pipelined) && redisConns.some((c) => !c.pipelined));

  const { net } = await replayTarget(lab, [6379]);
  const redis = await startRedis(lab, net.target, { port: 6379, bind: net.targetIp });
  assert.equal(await redis.dbsize(), 0);

  const run = await runTcpcopy(lab, net.copier, ['-x', `6379-${net.targetIp}:6379`, '-s', net.targetIp, '-i', rec.pcap, '--quiet']);
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.summary.started, redisConns.length, describeRun(run));
  assert.equal(run.summary.outcomes.completed, redisConns.length, describeRun(run));

  assert.equal(await redis.dbsize(), keys.length, describeRun(run));
  // Values, in MGET batches (one redis-cli per batch keeps the argument list short).
  const wrong: string[] = [];
  for (let i = 0; i < keys.length; i += 400) {
    const batch = keys.slice(i, i + 400);
    const out = (await redis.cli(['--raw', 'MGET', ...batch.map((k) => k.key)])).split('\n');
    assert.equal(out.length, batch.length);
    batch.forEach((k, j) => {
      if (out[j] !== k.value) wrong.push(`${k.key}=${JSON.stringify(out[j])} (recorded ${k.value})`);
    });
  }
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} values differ`);

  // Again with 5% of the copier's packets and 5% of the target's responses dropped at random
  // (iptables statistic; the kernel here has no netem): retransmissions must repair every loss.
  await redis.cli(['FLUSHALL']);
  assert.equal(await redis.dbsize(), 0);
  const drop = ['-m', 'statistic', '--mode', 'random', '--probability', '0.05', '-j', 'DROP'];
  await lab.exec(net.target, 'iptables', ['-w', '-I', 'INPUT', '-p', 'tcp', '--dport', '6379', ...drop]);
  await lab.exec(net.target, 'iptables', ['-w', '-I', 'OUTPUT', '-p', 'tcp', '--sport', '6379', ...drop]);
  // --end-grace above the SYN backoff: at 5% loss each way a handshake may need a third SYN
  // (1 s + 2 s + 4 s), and the default 3 s of silence after the capture would end it first.
  const lossy = await runTcpcopy(lab, net.copier, ['-x', `6379-${net.targetIp}:6379`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--end-grace', '10000']);
  assert.equal(lossy.code, 0, describeRun(lossy));
  assert.equal(lossy.summary.outcomes.completed, redisConns.length, describeRun(lossy));
  assert.ok(lossy.summary.retransmits > 0, 'losses were repaired by retransmission');
  assert.equal(await redis.dbsize(), keys.length, describeRun(lossy));
  const sample = keys.filter((_, i) => i % 11 === 0);
  assert.deepEqual((await redis.cli(['--raw', 'MGET', ...sample.map((k) => k.key)])).split('\n'), sample.map((k) => k.value));
});
