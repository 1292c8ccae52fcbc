// --max-opening: a --rate replay of 2,000 one-request connections into an nginx with a 16-entry
// accept queue. Without a limit the copier opens connections faster than nginx accepts them and
// the target's kernel counts listen-queue overflows (dropped SYNs and handshake ACKs: 700-2,000 in
// trial runs), and some connections end in a bare RST with their request lost or, worse, read by
// the target after all (its answers lost in the overloaded interceptor's queue), so only the
// overflows are checked there. With --max-opening 8 there are next to none (0-10: a connection
// whose request is still further on in the file when its handshake completes is not counted, and
// can sit in the queue beside the 8) and every request arrives exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { describeRun, multisetMinus, recordLossless, replayTarget, runTcpcopy } from './replay-lab.js';

const skip = requireRoot();

/** TcpExt ListenOverflows of the network namespace process `pid` runs in. */
function listenOverflows(pid: number): number {
  const lines = readFileSync(`/proc/${pid}/net/netstat`, 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const keys = (lines[0] ?? '').trim().split(/\s+/);
  const vals = (lines[1] ?? '').trim().split(/\s+/);
  return Number(vals[keys.indexOf('ListenOverflows')]);
}

test('--rate into a 16-entry accept queue: overflows without a limit; with --max-opening 8 next to none and every request delivered once', { skip, timeout: 240_000 }, async (t) => {
  const lab = await labFor(t, { name: 'max-opening' });
  const rec = await recordLossless(lab, { aliases: 20, http: { connections: 2000, requestsPerConn: [1] }, rate: 1000, concurrency: 64 });
  assert.equal(rec.truth.errors, 0);
  const recorded = rec.truth.httpRequests.map((r) => r.path);
  const { net } = await replayTarget(lab, [80]);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp, backlog: 16 });
  const nginxPid = nginx.proc.pid;

  const replay = async (maxOpening: string): Promise<{ overflows: number; stderr: string }> => {
    const before = nginx.readAccessLog().length;
    const o0 = listenOverflows(nginxPid);
    // -T 1 run per replay; the second one's clock-based ISNs are newer than any TIME_WAIT of the first.
    const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--rate', '--max-opening', maxOpening]);
    assert.equal(run.code, 0, describeRun(run));
    await new Promise((r) => setTimeout(r, 300));
    const seen = nginx.readAccessLog().slice(before).map((e) => e.path);
    const missing = multisetMinus(recorded, seen).length;
    const extra = multisetMinus(seen, recorded).length;
    t.diagnostic(`--max-opening ${maxOpening}: ${missing} missing, ${extra} extra at the target; ${/sessions: .*/.exec(run.stdout)?.[0] ?? ''}`);
    if (maxOpening !== '0') {
      assert.deepEqual(multisetMinus(recorded, seen), [], `--max-opening ${maxOpening}: missing at the target\n${describeRun(run)}`);
      assert.deepEqual(multisetMinus(seen, recorded), [], `--max-opening ${maxOpening}: unexpected at the target`);
    }
    return { overflows: listenOverflows(nginxPid) - o0, stderr: run.stderr };
  };

  const free = await replay('0');
  t.diagnostic(`no limit: ${free.overflows} listen overflows`);
  assert.ok(free.overflows >= 100, `without a limit the 16-entry queue overflows (else this test proves nothing): ${free.overflows}`);
  const bounded = await replay('8');
  t.diagnostic(`--max-opening 8: ${bounded.overflows} listen overflows; ${/--max-opening 8 held[^\n]*/.exec(bounded.stderr)?.[0] ?? ''}`);
  assert.ok(bounded.overflows * 50 <= free.overflows, `at most 8 opening: ${bounded.overflows} overflows against ${free.overflows}`);
  assert.match(bounded.stderr, /--max-opening 8 held the file back [1-9]\d* times/);
});
