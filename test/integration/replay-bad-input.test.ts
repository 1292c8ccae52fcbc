// Issue 5, scenario 7: bad input. A truncated capture (replayed up to the cut, with a warning), a
// capture cut inside its header, a capture with no packet for -x, an unreachable interceptor, a
// bad -x, a test server without the NFQUEUE rule and a closed target port: each gives a clear
// message and the documented exit code, and leaves nothing behind (no process, no pid file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { labFor, requireRoot, type Lab } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { CaptureFileReader, PcapFileWriter } from '../../src/io/pcap-file.js';
import { describeRun, multisetMinus, recordLossless, replayTarget, runTcpcopy, startIntercept, type TcpcopyRun } from './replay-lab.js';

const skip = requireRoot();

async function nothingLeft(lab: Lab, ns: string, pidFile: string, run: TcpcopyRun): Promise<void> {
  assert.ok(!existsSync(pidFile), `pid file ${pidFile} left behind\n${describeRun(run)}`);
  const pids = (await lab.exec(null, 'ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter((p) => p !== '');
  for (const pid of pids) {
    const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    assert.ok(!cmd.includes('tcpcopy'), `a tcpcopy process is still running in ${ns}: ${pid}`);
  }
}

test('bad input and process control: clear messages, exit codes, nothing left behind', { skip, timeout: 240_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-bad' });
  const rec = await recordLossless(lab, { aliases: 10, http: { connections: 120, requestsPerConn: [1, 3] }, rate: 200, concurrency: 16 });
  const { net } = await replayTarget(lab, [80]);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  const pidFile = join(lab.tmpDir, 'tcpcopy.pid');
  const base = (file: string, x = `80-${net.targetIp}:80`, s = net.targetIp): string[] => ['-x', x, '-s', s, '-i', file, '--quiet', '-P', pidFile];

  await t.test('bad -x value: exit 2 naming the flag and the accepted form', async () => {
    const run = await runTcpcopy(lab, net.copier, base(rec.pcap, `80-${net.targetIp}`), 10_000);
    assert.equal(run.code, 2, describeRun(run));
    assert.match(run.stderr, /^tcpcopy: -x "80-[0-9.]+": target needs ip:port; expected \[onlineIp:\]port-targetIp:targetPort/m);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('unreachable interceptor: exit 1 naming the address and what to check', async () => {
    const run = await runTcpcopy(lab, net.copier, base(rec.pcap, undefined, `${net.targetIp}:36999`), 20_000);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, new RegExp(`no interceptor reachable: ${net.targetIp.replace(/\./g, '\\.')}:36999 \\(ECONNREFUSED\\)`));
    assert.match(run.stderr, /Check that intercept is running/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('no packet matches -x: exit 1 with what the file holds', async () => {
    const run = await runTcpcopy(lab, net.copier, base(rec.pcap, `8080-${net.targetIp}:80`), 20_000);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /no session could be established: no packet in .* matched -x 8080-/);
    assert.match(run.stderr, new RegExp(`most frequent TCP destinations in the file: ${rec.pair.serverIp.replace(/\./g, '\\.')}:80 \\(`));
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('capture cut inside its header: exit 2', async () => {
    const file = join(lab.tmpDir, 'header-cut.pcap');
    writeFileSync(file, readFileSync(rec.pcap).subarray(0, 10));
    const run = await runTcpcopy(lab, net.copier, base(file), 10_000);
    assert.equal(run.code, 2, describeRun(run));
    assert.match(run.stderr, /-i ".*header-cut\.pcap": cannot replay: .*inside the capture file header/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('truncated capture: replays what is there, warns with the byte offset, exit 0', async () => {
    const file = join(lab.tmpDir, 'truncated.pcap');
    const whole = readFileSync(rec.pcap);
    // Cut in the middle of a record (a record header is 16 bytes; +7 lands inside one or its data).
    writeFileSync(file, whole.subarray(0, Math.floor(statSync(rec.pcap).size * 0.6) + 7));
    const before = nginx.readAccessLog().length;
    const run = await runTcpcopy(lab, net.copier, [...base(file), '-t', '5'], 60_000);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /truncated\.pcap: byte offset \d+: truncated final record/);
    assert.ok(run.summary.established > 0 && run.summary.stillOpen === 0, describeRun(run));
    const replayed = nginx.readAccessLog().slice(before).map((e) => e.path);
    const recorded = rec.truth.httpRequests.map((r) => r.path);
    assert.ok(replayed.length > 0 && replayed.length < recorded.length);
    assert.deepEqual(multisetMinus(replayed, recorded), [], 'only recorded requests');
    assert.ok(run.ms < 20_000, `took ${run.ms} ms`);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('capture with a 100-byte snap length: exit 1 saying requests could not be sent and why', async () => {
    const file = join(lab.tmpDir, 'snap100.pcap');
    const w = new PcapFileWriter(file, { linkType: 1, snaplen: 100 });
    for (const r of CaptureFileReader.open(rec.pcap)) w.write(r.tsSec, r.tsNsec, r.data.subarray(0, Math.min(100, r.capLen)), r.origLen);
    w.close();
    const run = await runTcpcopy(lab, net.copier, [...base(file), '--end-grace', '500'], 30_000);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /replay failed: connections were opened but no request could be sent: .*snap length.*tcpdump -s 0/);
    assert.match(run.stderr, /warning: \d+ capture records were shorter than the packet on the wire/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('closed target port: exit 1 saying the target answers with resets', async () => {
    const icpt = await startIntercept(lab, net.target, [81], ['-p', '36600', '--queue-num', '1']);
    const run = await runTcpcopy(lab, net.copier, [...base(rec.pcap, `80-${net.targetIp}:81`, `${net.targetIp}:36600`), '-a', '10'], 60_000);
    await icpt.stop('SIGTERM', 5000);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /no session could be established: the target answered the SYNs with resets .*nothing listens on [0-9.]+:81/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('SIGTERM mid-replay: summary printed, sessions reset, exit 0, pid file removed; SIGHUP reopens -l; stats lines', async () => {
    const logFile = join(lab.tmpDir, 'run.log');
    const p = lab.spawn(net.copier, process.execPath, [join(process.cwd(), 'dist/src/cli/tcpcopy.js'), ...base(rec.pcap), '-T', '100', '-l', logFile, '--stats-interval', '1', '--metrics-port', '9464']);
    await new Promise((r) => setTimeout(r, 1200));
    const scrape = (await lab.exec(net.copier, 'curl', ['-s', 'http://127.0.0.1:9464/metrics'])).stdout;
    assert.match(scrape, /^tcpcopy_copier_sessions_started_total [1-9]\d*$/m);
    assert.match(scrape, /^tcpcopy_copier_active_sessions \d+$/m);
    assert.ok(existsSync(pidFile), 'pid file written while running');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(p.pid));
    // logrotate: move the file away, SIGHUP, the daemon writes to a new file at the old path.
    renameSync(logFile, `${logFile}.1`);
    p.signal('SIGHUP');
    await new Promise((r) => setTimeout(r, 1300));
    assert.match(readFileSync(`${logFile}.1`, 'utf8'), /INFO replaying /);
    const fresh = readFileSync(logFile, 'utf8');
    assert.match(fresh, /log file reopened \(SIGHUP\)/);
    assert.match(fresh, /INFO stats: active \d+, started \d+, established \d+/);
    const exit = await p.stop('SIGTERM', 10_000);
    assert.equal(exit.code, 0, p.stderr);
    assert.match(p.stdout, /replay stopped \(SIGTERM\) in .*: \d+\/100 run\(s\)/);
    assert.match(p.stdout, /sessions: \d+ started .* 0 still open/);
    assert.match(readFileSync(logFile, 'utf8'), /INFO replay stopped \(SIGTERM\)/);
    assert.ok(!existsSync(pidFile));
  });

  await t.test('-d: detaches, the background run logs to -l and removes its pid file', async () => {
    const logFile = join(lab.tmpDir, 'daemon.log');
    const run = await runTcpcopy(lab, net.copier, [...base(rec.pcap, undefined, `${net.targetIp}:36999`), '-d', '-l', logFile], 10_000);
    assert.equal(run.code, 0, describeRun(run));
    const pid = Number(/running in the background, PID (\d+), logging to /.exec(run.stdout)?.[1]);
    assert.ok(pid > 0, run.stdout);
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!existsSync(`/proc/${pid}`), 'background copier still running');
    assert.match(readFileSync(logFile, 'utf8'), /ERROR no interceptor reachable: [0-9.]+:36999/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('-m memory cap: clean stop with a message, exit 3', async () => {
    const run = await runTcpcopy(lab, net.copier, [...base(rec.pcap), '-m', '1', '-T', '100'], 20_000);
    assert.equal(run.code, 3, describeRun(run));
    assert.match(run.stderr, /tcpcopy: memory use \d+ MB is above the -m limit of 1 MB; stopping/);
    assert.match(run.stdout, /replay stopped \(memory limit\)/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });

  await t.test('interceptor lost mid-replay (no -L): stops with the summary, exit 1', async () => {
    const icpt = await startIntercept(lab, net.target, [80], ['-p', '36602', '--queue-num', '3']);
    const p = lab.spawn(net.copier, process.execPath, [join(process.cwd(), 'dist/src/cli/tcpcopy.js'), ...base(rec.pcap, undefined, `${net.targetIp}:36602`), '-T', '100']);
    await p.waitFor(/replaying /, 'stderr', 10_000);
    await new Promise((r) => setTimeout(r, 800));
    await icpt.stop('SIGTERM', 5000);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([p.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 15_000)))]);
    clearTimeout(timer);
    assert.ok(exit !== null, `tcpcopy kept running after its interceptor went away\n${p.stderr.slice(-2000)}`);
    assert.equal(exit.code, 1, p.stderr);
    assert.match(p.stderr, /lost every interceptor connection; stopping \(use -L to keep replaying without one\)/);
    assert.match(p.stdout, /replay stopped \(interceptor lost\)/);
    assert.ok(!existsSync(pidFile));
  });

  await t.test('-L without an interceptor at start: replays anyway, connects when intercept comes up, later sessions complete', async () => {
    const p = lab.spawn(net.copier, process.execPath, [join(process.cwd(), 'dist/src/cli/tcpcopy.js'), ...base(rec.pcap, undefined, `${net.targetIp}:36603`), '-L', '-T', '30', '-t', '2']);
    await p.waitFor(/no interceptor reachable; -L: replaying anyway/, 'stderr', 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const icpt = await startIntercept(lab, net.target, [80], ['-p', '36603', '--queue-num', '4']);
    await p.waitFor(/interceptor [0-9.]+:36603 connected/, 'stderr', 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const exit = await p.stop('SIGTERM', 10_000);
    await icpt.stop('SIGTERM', 5000);
    assert.equal(exit.code, 0, p.stderr);
    const m = /sessions: (\d+) started .* (\d+) established.*completed (\d+)/.exec(p.stdout);
    assert.ok(m !== null && Number(m[3]) > 0, `sessions completed after the interceptor came up\n${p.stdout}`);
    assert.ok(!existsSync(pidFile));
  });

  await t.test('no NFQUEUE rule on the test server: exit 1 pointing at the rule and the route', async () => {
    // An intercept without --install-rule (and no rule): SYN-ACKs leave the target unseen.
    let icpt = lab.spawn(net.target, process.execPath, [join(process.cwd(), 'dist/src/cli/intercept.js'), '-p', '36601', '--queue-num', '2', '--stats-interval', '0']);
    try {
      await icpt.waitFor(/intercept ready/, 'stderr', 15_000);
    } catch {
      // One retry: dist/ is shared with engineers who rebuild it while tests run.
      icpt = lab.spawn(net.target, process.execPath, [join(process.cwd(), 'dist/src/cli/intercept.js'), '-p', '36601', '--queue-num', '2', '--stats-interval', '0']);
      await icpt.waitFor(/intercept ready/, 'stderr', 15_000);
    }
    const run = await runTcpcopy(lab, net.copier, [...base(rec.pcap, undefined, `${net.targetIp}:36601`), '-a', '10', '-t', '3'], 60_000);
    await icpt.stop('SIGTERM', 5000);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /no session could be established: no interceptor records arrived .*NFQUEUE rule .*route from the test server back to the client addresses/);
    await nothingLeft(lab, net.copier, pidFile, run);
  });
});
