// Issue 13: the replay report for Redis. The recorded redis-server held keys k0..k9; the test
// target's redis-server holds the same keys except k3 (another value) and k7 (missing). Exactly
// the GETs of those two keys must be reported, as redis GET mismatches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startRedis } from '../helpers/servers.js';
import { describeRun, replayTarget, runTcpcopy } from './replay-lab.js';
import { mismatchesByEndpoint, readReport, recordWorkload, REDIS_CLIENT } from './report-lab.js';

const skip = requireRoot();
const KEYS = Array.from({ length: 10 }, (_, i) => `k${i}`);

test('Redis report: exactly the GETs of the keys set differently on the target', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-redis' });
  const rec = await recordWorkload(
    lab,
    6379,
    REDIS_CLIENT,
    async (pair) => {
      const redis = await startRedis(lab, pair.server, { port: 6379, bind: pair.serverIp });
      for (const k of KEYS) await redis.cli(['SET', k, `value-of-${k}`]);
    },
    (pair) => ({ conns: Array.from({ length: 8 }, (_, i) => ({ from: pair.clientIps[i % pair.clientIps.length] as string, paths: KEYS.map((k) => ['GET', k]) })) }),
  );
  const { net } = await replayTarget(lab, [6379], ['--forward-payload', 'all']);
  const redis = await startRedis(lab, net.target, { port: 6379, bind: net.targetIp });
  for (const k of KEYS) if (k !== 'k7') await redis.cli(['SET', k, k === 'k3' ? 'changed' : `value-of-${k}`]);
  const json = join(lab.tmpDir, 'report.json');
  const run = await runTcpcopy(lab, net.copier, ['-x', `6379-${net.targetIp}:6379`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--report', json]);
  assert.equal(run.code, 0, describeRun(run));
  const r = readReport(json);
  assert.equal(r.totals.exchanges, rec.requests, describeRun(run));
  assert.deepEqual(mismatchesByEndpoint(r), { 'redis GET': 16 }, JSON.stringify(r.mismatches.slice(0, 2), null, 1));
  const keys = r.mismatches.map((m) => /\$2\\r\\n(k\d)/.exec(m.request)?.[1] ?? m.request).sort();
  assert.deepEqual([...new Set(keys)], ['k3', 'k7']);
  assert.equal(keys.length, 16);
  const missing = r.mismatches.find((m) => m.request.includes('k7'));
  assert.equal(missing?.test.status, '(nil)', JSON.stringify(missing));
  assert.match(run.stdout, /report: .*: 80 requests compared, 16 mismatched/, run.stdout);
});
