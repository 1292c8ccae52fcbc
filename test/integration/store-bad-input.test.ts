// Recordings in NATS JetStream (issue 14, test 5): bad input to the store options is a clear error
// naming the flag (exit 2): an unreachable server, an unknown task, malformed URLs, --share
// without a store, a store command without its companion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { requireNats, startNats } from './store-lab.js';

const skip = requireRoot() || requireNats();
const fixture = join(repoRoot, 'test/fixtures/packets/kernel-http.pcap');

test('test 5: unreachable server, unknown task, malformed URL: exit 2 with a message naming the flag', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'store-bad' });
  const ns = await lab.addNamespace('store');
  const nats = await startNats(lab, ns);
  const url = `nats://127.0.0.1:${nats.port}/web`;
  const tcpcopy = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    lab.exec(ns, process.execPath, [cliPath('tcpcopy'), ...args], { check: false, timeoutMs: 20_000 });
  const replay = ['-x', '80-10.1.2.3:80', '-s', '10.1.2.3'];

  // A task to tell apart from the unknown one.
  const imp = await tcpcopy(['--import', fixture, '--record', `${url}?max-bytes=8MiB&max-age=1h`, '--task', 'known']);
  assert.equal(imp.code, 0, imp.stderr);
  // The retention given on the recording URL is the stream's.
  assert.match((await tcpcopy(['--tasks', url])).stdout, /^stream web: \d+ messages, .*; retention max 8\.00 MiB, max 3600 s old, 1 replica\(s\)$/m);

  const cases: { args: string[]; re: RegExp }[] = [
    { args: [...replay, '-i', 'nats://127.0.0.1:4999/web?task=known'], re: /^tcpcopy: -i "nats:\/\/127\.0\.0\.1:4999\/web\?task=known": cannot connect to 127\.0\.0\.1:4999/m },
    { args: ['--tasks', 'nats://127.0.0.1:4999/web'], re: /^tcpcopy: --tasks "nats:\/\/127\.0\.0\.1:4999\/web": cannot connect/m },
    { args: [...replay, '-i', `${url}?task=nope`], re: /^tcpcopy: -i ".*\?task=nope": no task "nope" in stream web \(tasks: known\)/m },
    { args: [...replay, '-i', `nats://127.0.0.1:${nats.port}/other?task=known`], re: /^tcpcopy: -i ".*": no stream "other"/m },
    { args: ['--task-stop', url, '--task', 'nope'], re: /^tcpcopy: --task-stop ".*": no task nope in stream web/m },
    { args: [...replay, '-i', `nats://127.0.0.1:${nats.port}`], re: /^tcpcopy: -i "nats:\/\/127\.0\.0\.1:\d+": expected nats:\/\/HOST\[:PORT\]/m },
    { args: [...replay, '-i', `${url}?task=a b`], re: /^tcpcopy: -i ".*": expected a task name of 1\.\.64 letters/m },
    { args: [...replay, '-i', 'kafka://10.0.0.1/web?task=x'], re: /^tcpcopy: -i ".*": unsupported store "kafka:\/\/"/m },
    { args: ['-i', 'eth0', '-x', '80-10.1.2.3:80', '--record', `${url}?tusk=x`], re: /^tcpcopy: --record ".*\?tusk=x": unknown parameter "tusk"/m },
    { args: [...replay, '-i', `${url}?task=known`, '--share', '3/2'], re: /^tcpcopy: --share "3\/2": expected K\/M with 1 ≤ K ≤ M ≤ 16/m },
    { args: [...replay, '-i', fixture, '--share', '1/2'], re: /^tcpcopy: --share "1\/2": only when replaying from a stream store/m },
    { args: ['--export', '/tmp/x.pcapng'], re: /^tcpcopy: --export "\/tmp\/x\.pcapng": needs the range to export: -i nats:/m },
    { args: ['--task-start', url], re: /^tcpcopy: --task-start ".*": needs the task: --task NAME/m },
    { args: ['--import', fixture, '--record', url, '--task', 'known'], re: /^tcpcopy: --record ".*": task known exists already/m },
  ];
  for (const c of cases) {
    const r = await tcpcopy(c.args);
    assert.equal(r.code, 2, `${c.args.join(' ')}: exit 2\n${r.stderr}`);
    assert.match(r.stderr, c.re, c.args.join(' '));
  }
});
