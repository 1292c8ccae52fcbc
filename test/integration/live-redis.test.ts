// Live copy of Redis traffic: real redis-cli / redis-benchmark clients write to the online
// redis-server while tcpcopy captures on the online server's interface and copies every
// connection to a fresh redis-server behind intercept. Judged by the servers' own data: after the
// copier drained, the test server holds exactly the online server's keys with the same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labFor, requireRoot } from '../helpers/lab.js';
import { prng, randInt } from '../helpers/prng.js';
import { startRedis, type Redis } from '../helpers/servers.js';
import { liveNet, startLiveCopier, waitCount } from './live-lab.js';
import { startIntercept } from './replay-lab.js';

const skip = requireRoot();

/** One RESP command (what `redis-cli --pipe` expects). */
const resp = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Every key of `redis` (redis-cli --scan), sorted. */
async function allKeys(redis: Redis): Promise<string[]> {
  const out = await redis.cli(['--raw', '--scan']);
  return out.split('\n').filter((k) => k !== '').sort();
}

/** The values of `keys`, in MGET batches (one redis-cli per batch keeps the argument list short). */
async function values(redis: Redis, keys: readonly string[]): Promise<string[]> {
  const vals: string[] = [];
  for (let i = 0; i < keys.length; i += 400) {
    const batch = keys.slice(i, i + 400);
    const out = (await redis.cli(['--raw', 'MGET', ...batch])).split('\n');
    assert.equal(out.length, batch.length, 'one MGET line per key');
    vals.push(...out);
  }
  return vals;
}

test('live Redis: SETs of real redis-cli (pipelined and not) and redis-benchmark clients reach the test server key for key', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-redis' });
  const net = await liveNet(lab, 2);
  const online = await startRedis(lab, net.online, { port: 6379, bind: net.onlineIp });
  const target = await startRedis(lab, net.target, { port: 6379, bind: net.targetIp });
  assert.equal(await target.dbsize(), 0, 'the test server starts empty');
  await startIntercept(lab, net.target, [6379]);
  // Default -B and --capture-latency: all the clients below start at once and redis-cli --pipe
  // and redis-benchmark send back to back, a burst of a few thousand packets on 2 cores. In
  // immediate mode (--capture-latency 0) the 64 MiB ring held ~1000 65535-byte frames and the
  // kernel dropped ~70 of ~2700 packets in trial runs; TPACKET_V3 blocks hold them all.
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `6379-${net.targetIp}:6379`, '-s', net.targetIp]);

  const rand = prng(0x6379);
  const expected = new Map<string, string>();
  const value = (tag: string, i: number): string => {
    // Mostly short values, some of several segments (up to 6 KB).
    const len = randInt(rand, 10) === 0 ? 1500 + randInt(rand, 4500) : 8 + randInt(rand, 60);
    const base = `${tag}-${i}-`;
    let v = base;
    while (v.length < len) v += rand().toString(36).slice(2);
    return v.slice(0, Math.max(len, base.length));
  };
  const host = ['-h', net.onlineIp, '-p', '6379'];
  const errors: string[] = [];

  // (a) Pipelined: 4 connections of `redis-cli --pipe`, 300 SETs each, sent back to back.
  const pipes = Array.from({ length: 4 }, (_, c) => {
    let text = '';
    for (let i = 0; i < 300; i++) {
      const k = `pipe:${c}:${i}`;
      const v = value(`p${c}`, i);
      expected.set(k, v);
      text += resp('SET', k, v);
    }
    return text;
  });
  // (b) Not pipelined: 3 redis-cli sessions reading commands from stdin, each waiting for its
  // reply before the next; 100 SETs each on one connection.
  const sessions = Array.from({ length: 3 }, (_, c) => {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const k = `seq:${c}:${i}`;
      const v = value(`s${c}`, i).slice(0, 60);
      expected.set(k, v);
      lines.push(`SET ${k} ${v}`);
    }
    return lines;
  });
  // (c) Single SETs: one connection each.
  const singles = Array.from({ length: 40 }, (_, i) => {
    const k = `one:${i}`;
    const v = value('o', i).slice(0, 40);
    expected.set(k, v);
    return [k, v] as const;
  });

  const jobs: Promise<void>[] = [
    ...pipes.map(async (input, c) => {
      const r = await lab.exec(net.client, 'redis-cli', [...host, '--pipe'], { input, check: false, timeoutMs: 60_000 });
      if (r.code !== 0 || !/errors: 0, replies: 300/.test(r.stdout)) errors.push(`pipe ${c}: exit ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
    }),
    ...sessions.map(async (lines, c) => {
      const r = await lab.exec(net.client, 'redis-cli', host, { input: `${lines.join('\n')}\n`, check: false, timeoutMs: 60_000 });
      const replies = r.stdout.split('\n').filter((l) => l !== '');
      if (r.code !== 0 || replies.length !== lines.length || replies.some((l) => l !== 'OK')) {
        errors.push(`session ${c}: exit ${r.code}, ${replies.length} replies: ${r.stdout.slice(0, 300)} ${r.stderr.trim()}`);
      }
    }),
    (async () => {
      for (let i = 0; i < singles.length; i += 8) {
        await Promise.all(
          singles.slice(i, i + 8).map(async ([k, v]) => {
            const r = await lab.exec(net.client, 'redis-cli', [...host, 'SET', k, v], { check: false });
            if (r.code !== 0 || r.stdout.trim() !== 'OK') errors.push(`SET ${k}: exit ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
          }),
        );
      }
    })(),
    // (d) redis-benchmark: 10 connections, 2000 SETs of random keys key:<12 digits> (values "xxx").
    (async () => {
      const r = await lab.exec(net.client, 'redis-benchmark', [...host, '-t', 'set', '-n', '2000', '-c', '10', '-r', '100000', '-q'], {
        check: false,
        timeoutMs: 60_000,
      });
      if (r.code !== 0 || !/SET: /.test(r.stdout) || /error/i.test(r.stdout + r.stderr)) errors.push(`redis-benchmark: exit ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
    })(),
  ];
  await Promise.all(jobs);
  assert.deepEqual(errors, [], 'the online clients saw no error');

  // The online server holds our keys with our values, plus the benchmark's.
  const onlineKeys = await allKeys(online);
  const ours = [...expected.keys()].sort();
  const onlineOurs = await values(online, ours);
  assert.deepEqual(
    ours.filter((k, i) => onlineOurs[i] !== expected.get(k)).slice(0, 5),
    [],
    'the online server holds every value the clients set',
  );
  const benchKeys = onlineKeys.filter((k) => /^key:\d{12}$/.test(k));
  assert.equal(onlineKeys.length, ours.length + benchKeys.length, 'online: our keys and the benchmark keys, nothing else');
  assert.ok(benchKeys.length > 1500, `redis-benchmark wrote ${benchKeys.length} distinct keys`);

  await waitCount(() => target.dbsize(), onlineKeys.length);
  const run = await copier.stop();
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);

  assert.equal(await target.dbsize(), await online.dbsize(), `DBSIZE of the test server equals the online one${detail}`);
  assert.deepEqual(await allKeys(target), onlineKeys, `the same keys${detail}`);
  // Every value of our keys and a sample of the benchmark's: MGET on both servers.
  const sample = [...ours, ...benchKeys.filter((_, i) => i % 7 === 0)];
  const want = await values(online, sample);
  const got = await values(target, sample);
  const differ = sample.flatMap((k, i) => (got[i] === want[i] ? [] : [`${k}: ${JSON.stringify(got[i]?.slice(0, 40))}`]));
  assert.deepEqual(differ.slice(0, 5), [], `${differ.length} values differ${detail}`);

  // Connections: 4 pipes + 3 sessions + 40 singles + redis-benchmark's 10 (and none picked up
  // mid-stream), every one completed, nothing dropped by the capture.
  assert.match(run.stdout, new RegExp(`replay stopped \\(SIGTERM\\) in .*: captured on ${net.onlineIf} for [\\d.]+ s, \\d+ packets, 0 dropped \\(kernel 0`), detail);
  assert.match(run.stdout, /sessions: \d+ started \(0 picked up mid-stream\)/, detail);
  assert.ok(run.summary.started >= 4 + 3 + 40 + 10, `${run.summary.started} sessions copied${detail}`);
  assert.equal(run.summary.started, run.summary.outcomes.completed, detail);
  t.diagnostic(`${onlineKeys.length} keys (${benchKeys.length} of redis-benchmark), ${run.summary.started} sessions copied`);
});
