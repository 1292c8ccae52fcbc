// Issue 13, "nothing else": the recorder's mixed workloads (HTTP short and keep-alive connections
// with multi-segment POST bodies and server- or client-side closes; Redis SETs, half of the
// connections pipelined) replayed with --report into the same kind of server: every request is
// compared and none differs. Guards the request cutting and the answer collection against false
// mismatches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, startRedis } from '../helpers/servers.js';
import { describeRun, recordLossless, replayTarget, runTcpcopy } from './replay-lab.js';
import { readReport } from './report-lab.js';

const skip = requireRoot();

test('report of a replay into an identical target: every request compared, no mismatch (HTTP and pipelined Redis)', { skip, timeout: 150_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-same' });
  const rec = await recordLossless(lab, {
    aliases: 10,
    http: { connections: 120, requestsPerConn: [1, 3, 5], postEvery: 4, postBytes: 5000 },
    redis: { connections: 40, keys: 400, pipelineDepth: 4 },
    rate: 300,
    concurrency: 24,
  });
  assert.equal(rec.truth.errors, 0);
  const { net } = await replayTarget(lab, [80, 6379], ['--forward-payload', 'all']);
  await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startRedis(lab, net.target, { port: 6379, bind: net.targetIp });
  const json = join(lab.tmpDir, 'report.json');
  const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80,6379-${net.targetIp}:6379`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--report', json]);
  assert.equal(run.code, 0, describeRun(run));
  const r = readReport(json);
  t.diagnostic(run.stdout.split('\n').filter((l) => l.startsWith('report:')).join(' / '));
  assert.equal(r.testPayload, 'forwarded');
  assert.equal(r.totals.noReference, 0);
  const compared = r.totals.targets.reduce((n, x) => n + x.compared, 0);
  // HTTP: one exchange per request; Redis: pipelined commands written at once are one exchange.
  const http = rec.truth.httpRequests.length;
  assert.ok(compared >= http + 40 && compared <= http + rec.truth.redisKeys.length, `${compared} exchanges for ${http} HTTP requests and ${rec.truth.redisKeys.length} Redis SETs`);
  assert.deepEqual(r.mismatches.slice(0, 3), [], JSON.stringify(r.mismatches.slice(0, 3), null, 1));
  assert.equal(r.totals.targets.reduce((n, x) => n + x.mismatched, 0), 0);
  const endpoints = r.endpoints.map((e) => e.endpoint).sort();
  assert.ok(endpoints.includes('POST /r/{hex}/{id}') || endpoints.some((e) => e.startsWith('POST ')), endpoints.join(', '));
  assert.ok(endpoints.some((e) => e.startsWith('redis SET')), endpoints.join(', '));
});
