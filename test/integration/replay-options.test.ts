// Issue 5, scenario 5: -a 5, -T 2, -r 50, -n 2 and a one-address -c pool together. What reaches
// the target must be exactly what the options promise: the sampled half of the connections, each
// replayed 2 (runs) × 2 (copies) times, every request of a kept connection four times and none of
// the others, all from the pool address, each session its own connection; and the two runs take
// about 2 × capture duration / 5. Then -F keeps only the connections of two client addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { CaptureFileReader } from '../../src/io/pcap-file.js';
import { describeRun, recordLossless, replayTarget, runTcpcopy } from './replay-lab.js';

const skip = requireRoot();

function captureSpanMs(file: string): number {
  let first = -1;
  let last = -1;
  for (const rec of CaptureFileReader.open(file)) {
    if (first < 0) first = rec.tsUs;
    last = rec.tsUs;
  }
  return (last - first) / 1000;
}

test('-a 5 -T 2 -r 50 -n 2 -c one address: counts at the target match the options', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-opts' });
  const rec = await recordLossless(lab, { aliases: 20, http: { connections: 200, requestsPerConn: [1, 2, 3] }, rate: 80, concurrency: 16 });
  assert.equal(rec.truth.errors, 0);
  const span = captureSpanMs(rec.pcap);
  assert.ok(span > 1500, `capture spans ${span} ms`);

  const { net } = await replayTarget(lab, [80]);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  const pool = rec.pair.subnet.host(200); // not on the target's link: answered via its default route
  const run = await runTcpcopy(lab, net.copier, [
    '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet',
    '-a', '5', '-T', '2', '-r', '50', '-n', '2', '-c', pool,
  ]);
  assert.equal(run.code, 0, describeRun(run));

  // Which recorded connections were kept: those whose paths reached the target.
  const log = nginx.readAccessLog();
  const byPath = new Map<string, number>();
  for (const e of log) byPath.set(e.path, (byPath.get(e.path) ?? 0) + 1);
  const conns = rec.truth.connections;
  let kept = 0;
  let keptRequests = 0;
  for (const c of conns) {
    const counts = c.items.map((p) => byPath.get(p) ?? 0);
    const all4 = counts.every((n) => n === 4);
    const none = counts.every((n) => n === 0);
    assert.ok(all4 || none, `connection ${c.index} (${c.items.join(' ')}): per-path counts ${counts.join(',')}, expected all 4 or all 0`);
    if (all4) {
      kept++;
      keptRequests += c.items.length;
    }
  }
  assert.equal(byPath.size, keptRequests, 'only recorded paths reached the target');
  assert.ok(kept >= conns.length * 0.3 && kept <= conns.length * 0.7, `-r 50 kept ${kept} of ${conns.length}`);
  assert.equal(log.length, keptRequests * 4);
  assert.ok(log.every((e) => e.remoteAddr === pool && e.status === 200), 'every request from the -c address');
  // 2 runs × 2 copies: four target connections per kept captured connection.
  assert.equal(new Set(log.map((e) => e.connection)).size, kept * 4);
  assert.equal(run.summary.started, kept * 4, describeRun(run));
  assert.equal(run.summary.outcomes.completed, kept * 4, describeRun(run));
  assert.equal(run.summary.outcomes['sampled-out'], (conns.length - kept) * 2, describeRun(run));

  // -a 5 over two runs: about 2 × span / 5 of pacing, never faster.
  const paced = (2 * span) / 5;
  assert.ok(run.ms >= paced * 0.9, `replay took ${run.ms} ms, pacing promises at least ${paced.toFixed(0)} ms`);
  assert.ok(run.ms < paced + 4000, `replay took ${run.ms} ms for ${paced.toFixed(0)} ms of paced capture`);

  // -F: only two client addresses' connections, at -a 10, without -c: exactly their requests.
  const [a, b] = rec.pair.clientIps as [string, string];
  const before = nginx.readAccessLog().length;
  const filtered = await runTcpcopy(lab, net.copier, [
    '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '-a', '10', '-F', `tcp and (src host ${a} or src host ${b})`,
  ]);
  assert.equal(filtered.code, 0, describeRun(filtered));
  const got = nginx.readAccessLog().slice(before);
  const want = conns.filter((c) => c.localAddress === a || c.localAddress === b).flatMap((c) => c.items);
  assert.ok(got.every((e) => e.remoteAddr === a || e.remoteAddr === b));
  assert.deepEqual(got.map((e) => e.path).sort(), [...want].sort());
});
