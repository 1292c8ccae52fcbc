// Recording (--record): tcpcopy records live client traffic (record only: no -s) into pcapng
// files rotated by size; each file must read back with the project's reader and with tcpdump, and
// replaying the files with -i FILE must deliver the recorded requests to a test server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureFileReader } from '../../src/io/pcap-file.js';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, tcpdumpRead } from '../helpers/servers.js';
import { curlJobs, liveNet, mixedJobs, startLiveCopier, waitCount } from './live-lab.js';
import { describeRun, multisetMinus, runTcpcopy, startIntercept } from './replay-lab.js';

const skip = requireRoot();

/** Every record of a capture file, read with the project's reader: [records, warnings]. */
function readAll(path: string): { packets: number; linkTypes: Set<number>; warnings: number } {
  const r = CaptureFileReader.open(path);
  const linkTypes = new Set<number>();
  let packets = 0;
  try {
    for (let guard = 0; guard < 1_000_000; guard++) {
      for (let rec = r.nextBuffered(); rec !== null; rec = r.nextBuffered()) {
        packets++;
        linkTypes.add(rec.linkType);
      }
      if (!r.fillSync()) break;
    }
    for (let rec = r.nextBuffered(); rec !== null; rec = r.nextBuffered()) packets++;
    return { packets, linkTypes, warnings: r.warnings.length };
  } finally {
    r.close();
  }
}

test('record only, rotated by size: valid pcapng files (own reader, tcpdump) that replay the recorded requests', { skip, timeout: 240_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-record' });
  const net = await liveNet(lab, 6);
  const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const dir = lab.tmpDir;
  const base = join(dir, 'web.pcapng');
  const rec = lab.spawn(net.online, process.execPath, [
    cliPath('tcpcopy'),
    '-i', net.onlineIf,
    '-x', `80-${net.targetIp}:80`,
    '--record', base,
    '--record-rotate', '24KiB',
    '--record-files', '50',
    '--record-responses',
  ]);
  await rec.waitFor(/recording live capture on .* \(record only\) to /, 'stderr', 20_000);

  const total = 120;
  const clients = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'rec', total));
  assert.deepEqual(clients.errors, []);
  assert.equal(await waitCount(() => online.readAccessLog().length, total), total);
  // curl returns before its connection's last FIN/ACK is captured (TPACKET_V3 blocks flush after
  // --capture-latency); let the teardown land in the current file before asking for a new one.
  await sleep(500);
  // SIGHUP: a new file at once (besides the log reopen).
  rec.signal('SIGHUP');
  await rec.waitFor(/log file reopened \(SIGHUP\)/, 'stderr', 5000);
  rec.signal('SIGTERM');
  const exit = await rec.exited;
  assert.equal(exit.code, 0, rec.stderr);
  assert.match(rec.stderr, /recording: \d+ packets, \d+ bytes in \d+ file\(s\)/);

  const files = readdirSync(dir).filter((f) => /^web-\d{6}\.pcapng$/.test(f)).sort();
  assert.ok(files.length >= 3, `rotated into several files: ${files.join(', ')}\n${rec.stderr}`);
  t.diagnostic(`${files.length} files: ${files.join(', ')}`);
  let requests = 0;
  let responses = 0;
  const nonEmpty: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const own = readAll(path);
    assert.equal(own.warnings, 0, `${f}: the project's reader has no complaint`);
    assert.deepEqual([...own.linkTypes], own.packets === 0 ? [] : [1], `${f}: Ethernet frames`);
    const lines = (await tcpdumpRead(lab, path, ['-nn'])).split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, own.packets, `${f}: tcpdump reads as many packets as our reader`);
    if (own.packets > 0) nonEmpty.push(f);
    requests += lines.filter((l) => l.includes(`> ${net.onlineIp}.80:`)).length;
    responses += lines.filter((l) => l.includes(` ${net.onlineIp}.80 > `)).length;
  }
  assert.equal(readAll(join(dir, files.at(-1) as string)).packets, 0, 'SIGHUP after the traffic started a new (empty) file');
  assert.ok(requests > total && responses > total, `both directions recorded: ${requests} to port 80, ${responses} from it`);

  // Replay every file, in order, into the test server (through intercept there).
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  for (const f of nonEmpty) {
    const run = await runTcpcopy(lab, net.online, ['-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', join(dir, f), '--quiet', '--end-grace', '1000']);
    assert.equal(run.code, 0, `${f}: ${describeRun(run)}`);
  }
  await waitCount(() => target.readAccessLog().length, total, 5000);
  const uris = (l: { path: string }[]): string[] => l.map((e) => e.path);
  const missing = multisetMinus(uris(online.readAccessLog()), uris(target.readAccessLog()));
  const extra = multisetMinus(uris(target.readAccessLog()), uris(online.readAccessLog()));
  assert.deepEqual(missing, [], 'every recorded request reached the test server');
  assert.deepEqual(extra, []);
});

test('copying live with --record: the copy reaches the test server and the recording holds every captured frame', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-record-copy' });
  const net = await liveNet(lab, 4);
  const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const base = join(lab.tmpDir, 'copy');
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '--record', base]);
  const clients = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'copy', 60));
  assert.deepEqual(clients.errors, []);
  await waitCount(() => target.readAccessLog().length, 60);
  const run = await copier.stop();
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);
  assert.deepEqual(multisetMinus(online.readAccessLog().map((e) => e.path), target.readAccessLog().map((e) => e.path)), [], detail);
  const captured = Number(/captured on \S+ for [\d.]+ s, (\d+) packets/.exec(run.stdout)?.[1] ?? NaN);
  const recorded = Number(/recording: (\d+) packets/.exec(run.stderr)?.[1] ?? NaN);
  assert.equal(recorded, captured, `every captured frame recorded${detail}`);
  const own = readAll(join(lab.tmpDir, 'copy-000001.pcapng'));
  assert.equal(own.packets, captured);
  const lines = (await tcpdumpRead(lab, join(lab.tmpDir, 'copy-000001.pcapng'), ['-nn'])).split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, captured);
  assert.ok(lines.every((l) => l.includes(`> ${net.onlineIp}.80:`)), 'without --record-responses: client→server only');
});
