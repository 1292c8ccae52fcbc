// Issue 5, scenario 3: a server-first protocol (the greeting server speaks before the client).
// Every session completes, the target receives every recorded line, and no session stalls for
// the ~200 ms a greeting retransmission costs the stock copier: each session's duration is
// checked (from tcpcopy's debug log), and the whole replay is far below sessions × 200 ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startGreetingServer } from '../helpers/servers.js';
import { describeRun, multisetMinus, recordLossless, replayTarget, runTcpcopy, startIntercept } from './replay-lab.js';

const skip = requireRoot();
const PORT = 2525;

test('server-first protocol: every session completes, no per-connection greeting stall', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-greet' });
  // One connection at a time, unpaced: in the replay, sessions follow each other as captured,
  // so a stall per connection would add up.
  const rec = await recordLossless(lab, { aliases: 10, greeting: { connections: 80, linesPerConn: 3, port: PORT }, rate: 0, concurrency: 1 });
  assert.equal(rec.truth.errors, 0);
  const sessions = rec.truth.connections.length;
  const recordedLines = (rec.greeting?.readLines() ?? []).map((l) => l.slice(l.indexOf(' ') + 1));
  assert.ok(recordedLines.length >= sessions * 3);

  const { net, intercept: icpt } = await replayTarget(lab, [PORT]);
  const server = await startGreetingServer(lab, net.target, PORT, net.targetIp);
  const logFile = join(lab.tmpDir, 'tcpcopy-greeting.log');
  const run = await runTcpcopy(lab, net.copier, ['-x', `${PORT}-${net.targetIp}:${PORT}`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--log-level', 'debug', '-l', logFile]);
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.summary.outcomes.completed, sessions, describeRun(run));

  const replayed = server.readLines().map((l) => l.slice(l.indexOf(' ') + 1));
  assert.deepEqual(multisetMinus(recordedLines, replayed), [], 'lines missing at the target');
  assert.deepEqual(multisetMinus(replayed, recordedLines), [], 'unexpected lines at the target');

  const durations = [...readFileSync(logFile, 'utf8').matchAll(/: completed in ([0-9.]+) ms/g)].map((m) => Number(m[1]));
  assert.equal(durations.length, sessions);
  const slow = durations.filter((d) => d >= 150);
  assert.deepEqual(slow, [], `sessions that took ≥ 150 ms (a greeting stall): ${slow.join(', ')}`);
  assert.ok(run.ms < (sessions * 200) / 4, `replay took ${run.ms} ms for ${sessions} sessions`);

  // The payload variant (192-byte records) on both sides gives the same result.
  await icpt.stop('SIGTERM', 5000);
  await startIntercept(lab, net.target, [PORT], ['--with-payload']);
  const before = server.readLines().length;
  const again = await runTcpcopy(lab, net.copier, ['-x', `${PORT}-${net.targetIp}:${PORT}`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--with-payload']);
  assert.equal(again.code, 0, describeRun(again));
  assert.equal(again.summary.outcomes.completed, sessions, describeRun(again));
  const second = server.readLines().slice(before).map((l) => l.slice(l.indexOf(' ') + 1));
  assert.deepEqual(multisetMinus(recordedLines, second), []);
  assert.deepEqual(multisetMinus(second, recordedLines), []);
});
