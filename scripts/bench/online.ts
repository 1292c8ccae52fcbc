/**
 * Live copying at increasing connection rates: HTTP or Redis from many client addresses, one
 * request per connection (HTTP: GET with Connection: close; Redis: one SET, then the client
 * closes), at fixed offered rates, until fidelity drops below 99.9% or the load generator cannot
 * offer more (it reached < 90% of the rate asked for).
 *
 * The live-copy lab of docs/LAB.md (test/integration/live-lab.ts): client ns (N aliases) ── online
 * ns (nginx :80 or redis-server :6379, tcpcopy capturing its client-facing interface) ── target ns
 * (the same server, intercept).
 * Per rate, a fresh tcpcopy (stopped with SIGTERM after the target went quiet) first gets
 * `--warmup` seconds of the load, measured apart: an online copier runs for hours, and its
 * first seconds cost more while V8 compiles the hot paths (about 20-30 s at 500 conn/s). Then one
 * run of 2 × `--seconds` alternates every `--phase` ms (by scheduled start) between the copied
 * address of the online server and a second address of the same server that the copier's -x
 * (and kernel filter) leaves out: copying on and off side by side, from one warm generator, so a
 * drift in this shared machine's speed weighs on both (separate off and on runs differed by more
 * than the effect measured). The CPU column is the steady state, the warm-up column what those
 * first seconds cost. Per row: offered and achieved connection rate, fidelity (the target's access log against the online one, as a
 * multiset of unique paths; for Redis the keys the online server holds found at the target), capture drops from the copier's summary, copier CPU per 10k requests
 * (utime+stime over the step, start-up excluded), interceptor CPU per 10k requests, and the online
 * clients' p50/p99 latency with copying off and on.
 *
 *   node dist/scripts/bench/online.js [--proto http|redis] [--rates 500,1000,2000,3000,4000] [--seconds 30] [--phase 200] [--warmup 20] [--aliases 50]
 * Root. The load generator is a small Node program with a fixed-rate schedule (wrk is closed-loop,
 * wrk2 is not in Debian), run inside the client namespace.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLab, requireRoot, type Lab } from '../../test/helpers/lab.js';
import { startNginx, startRedis, type Redis } from '../../test/helpers/servers.js';
import { liveNet, startLiveCopier } from '../../test/integration/live-lab.js';
import { startIntercept } from '../../test/integration/replay-lab.js';
import { cpuMs, load, LOADGEN, paths, settle, type LoadProto, type LoadResult } from './live-load.js';

const { values: o } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000,2000,3000,4000' },
    seconds: { type: 'string', default: '30' },
    phase: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    aliases: { type: 'string', default: '50' },
    proto: { type: 'string', default: 'http' },
  },
});
if (o.proto !== 'http' && o.proto !== 'redis') throw new Error(`--proto: expected http or redis, got ${JSON.stringify(o.proto)}`);
const proto: LoadProto = o.proto;

/**
 * The keys under `prefix:` a Redis server holds (redis-cli --scan). Retried: above ~8,000 conn/s
 * the target can be at its client limit for a moment ("max number of clients reached").
 */
async function redisKeys(r: Redis, prefix: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await r.cli(['--raw', '--scan', '--pattern', `${prefix}:*`]);
      return out.split('\n').filter((k) => k !== '');
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}

// BENCH_COPIER_ARGS='--capture-latency 0': more tcpcopy flags for every step (as in scripts/bench/replay.ts).
const extraArgs = (process.env.BENCH_COPIER_ARGS ?? '').split(' ').filter((a) => a !== '');
/*
 * BENCH_TARGET_NICE=19: renice everything in the target namespace (its nginx and intercept). In
 * production the test server is another machine; here its work shares the 2 cores with the online
 * nginx and the clients, and shows up in the online latency. The copier keeps its priority, and
 * the target's receive path that a veth runs inside the copier's sends stays at that priority.
 */
const targetNice = process.env.BENCH_TARGET_NICE ?? '';
/*
 * BENCH_HOSTS=pinned: the two cores as the online host and "the other machines". CPU 0 runs the
 * online namespace (its server and the copier); CPU 1 the clients, the test server and intercept.
 * Each namespace's interfaces steer their receive work to their own CPU (RPS), as a NIC would
 * interrupt the host it is in: without it a veth runs the receiver's TCP stack on the sender's
 * CPU, so the test server's work would land on the online host inside the copier's sends.
 */
const pinned = process.env.BENCH_HOSTS === 'pinned';

/** Pins every thread of these processes to the CPUs of `mask` (taskset). */
function pin(pids: readonly (number | string)[], mask: string): void {
  for (const pid of pids) execFileSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' });
}

/** Steers the receive work of every interface of `ns` but lo to the CPUs of `mask` (RPS). */
async function steer(lab: Lab, ns: string, mask: string): Promise<void> {
  const links = (await lab.exec(ns, 'ip', ['-o', 'link', 'show'])).stdout.split('\n');
  for (const l of links) {
    const dev = /^\d+: ([^:@]+)/.exec(l)?.[1];
    if (dev === undefined || dev === 'lo') continue;
    await lab.exec(ns, 'sh', ['-c', `for q in /sys/class/net/${dev}/queues/rx-*; do echo ${mask} > $q/rps_cpus; done`]);
  }
}

const nsPids = (ns: string): string[] => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
/*
 * BENCH_COPIER_SCHED=idle: run the copier (all its threads) under SCHED_IDLE (`chrt -a -i -p 0`),
 * as an operator can (`chrt -i 0 tcpcopy ...`, systemd CPUSchedulingPolicy=idle): it then only
 * gets CPU time the online service leaves.
 */
const copierSched = process.env.BENCH_COPIER_SCHED ?? '';

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)} %`;

async function main(): Promise<void> {
  const skip = requireRoot();
  if (skip) throw new Error(skip);
  const ms = Number(o.seconds) * 1000;
  const phaseMs = Number(o.phase);
  if (!(phaseMs >= 10)) throw new Error(`--phase: expected milliseconds ≥ 10, got ${JSON.stringify(o.phase)}`);
  const lab = await createLab({ name: 'bench-online' });
  try {
    const net = await liveNet(lab, Number(o.aliases));
    // The client side may hold many TIME_WAIT ports per address; widen the range.
    await lab.sysctl(net.client, { 'net.ipv4.ip_local_port_range': '10000 65000', 'net.ipv4.tcp_tw_reuse': '1' });
    const port = proto === 'redis' ? 6379 : 80;
    // A second address of the online server for the phases with copying off: the same server
    // process and port, but outside the copier's -x (and so its kernel filter).
    const onlineIp2 = net.clientSubnet.host(2);
    await lab.addAddress(net.online, net.onlineIf, `${onlineIp2}/24`);
    // What each side served under a prefix: the access log's paths, or the keys redis holds.
    let served: (side: 'online' | 'target', prefix: string) => Promise<string[]>;
    if (proto === 'redis') {
      const r = { online: await startRedis(lab, net.online, { port }), target: await startRedis(lab, net.target, { port, bind: net.targetIp }) };
      served = (side, prefix) => redisKeys(r[side], prefix);
    } else {
      const n = { online: await startNginx(lab, net.online, { port }), target: await startNginx(lab, net.target, { port, bind: net.targetIp }) };
      served = (side, prefix) => Promise.resolve(paths(n[side], prefix));
    }
    const intercept = await startIntercept(lab, net.target, [port]);
    if (targetNice !== '') execFileSync('renice', ['-n', targetNice, '-p', ...nsPids(net.target)], { stdio: 'ignore' });
    if (pinned) {
      // This process and so every later child (the load generator) on CPU 1, the "other machines".
      pin([process.pid], '2');
      pin(nsPids(net.target), '2');
      pin(nsPids(net.online), '1');
      await steer(lab, net.client, '2');
      await steer(lab, net.target, '2');
      await steer(lab, net.online, '1');
    }
    const file = join(lab.tmpDir, 'loadgen.mjs');
    writeFileSync(file, LOADGEN);
    const rows: string[] = [
      `${o.seconds} s per side, on and off alternating every ${phaseMs} ms, after ${o.warmup} s of warm-up, ${proto === 'redis' ? 'Redis SET, the client closing after +OK' : 'HTTP/1.1 GET with Connection: close'} (one request per connection) from ${o.aliases} client addresses; ${proto === 'redis' ? 'redis-server' : 'nginx 1 worker'} on both sides; veths, 2 shared cores${targetNice === '' ? '' : `; target namespace at nice ${targetNice}`}${copierSched === '' ? '' : `; copier under SCHED_${copierSched.toUpperCase()}`}${pinned ? '; pinned: CPU 0 the online host (server, copier), CPU 1 the clients and the test server, receive work steered to each (RPS)' : ''}`,
      '| offered conn/s | achieved (off / on) | fidelity | capture drops | copier CPU ms / 10k req (user + sys) | copier CPU ms / 10k req in the warm-up | intercept CPU ms / 10k req | p50 off / on (ms) | p99 off / on (ms) | p99 change |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const rate of (o.rates ?? '').split(',').map(Number)) {
      const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `${net.onlineIp}:${port}-${net.targetIp}:${port}`, '-s', net.targetIp, ...extraArgs]);
      if (copierSched === 'idle') execFileSync('chrt', ['-a', '-i', '-p', '0', String(copier.proc.pid)], { stdio: 'ignore' });
      if (pinned) pin([copier.proc.pid], '1');
      const w0 = cpuMs(copier.proc.pid);
      let warm = '-';
      if (Number(o.warmup) > 0) {
        await load(lab, net, file, rate, Number(o.warmup) * 1000, `warm${rate}`, proto);
        const wantWarm = (await served('online', `warm${rate}`)).length;
        await settle(async () => (await served('target', `warm${rate}`)).length, wantWarm);
        const w1 = cpuMs(copier.proc.pid);
        if (wantWarm > 0) warm = (((w1.user + w1.sys - w0.user - w0.sys) * 10_000) / wantWarm).toFixed(0);
      }
      const c0 = cpuMs(copier.proc.pid);
      const i0 = cpuMs(intercept.pid);
      // Copying on and off in alternate phases of one run: the same warm generator, and a drift
      // in the machine's speed weighs on both sides alike.
      const on = await load(lab, net, file, rate, 2 * ms, `on${rate}`, proto, { host: onlineIp2, phaseMs });
      const off = on.b as LoadResult;
      const onlineSeen = await served('online', `on${rate}`);
      const want = onlineSeen.length;
      await settle(async () => (await served('target', `on${rate}`)).length, want);
      const c1 = cpuMs(copier.proc.pid);
      const i1 = cpuMs(intercept.pid);
      const run = await copier.stop(60_000);
      const got = await served('target', `on${rate}`);
      // Unique paths: fidelity = online requests found at the target (duplicates would be extra).
      const set = new Set(got);
      const found = onlineSeen.filter((p) => set.has(p)).length;
      const fidelity = want > 0 ? found / want : 0;
      const drops = /(\d+) dropped \(kernel (\d+), ring full (\d+), sink busy (\d+)/.exec(run.stdout);
      const per10k = (cpu: number): string => (want > 0 ? ((cpu * 10_000) / want).toFixed(0) : '-');
      rows.push(
        `| ${rate} | ${off.achieved.toFixed(0)} / ${on.achieved.toFixed(0)} | ${(fidelity * 100).toFixed(2)}% (${found}/${want}${got.length > set.size ? `, ${got.length - set.size} dup` : ''}) | ` +
          `${drops ? `${drops[1]} (kernel ${drops[2]}, ring ${drops[3]}, sink ${drops[4]})` : '?'} | ${per10k(c1.user + c1.sys - c0.user - c0.sys)} (${per10k(c1.user - c0.user)} + ${per10k(c1.sys - c0.sys)}) | ${warm} | ${per10k(i1.user + i1.sys - i0.user - i0.sys)} | ` +
          `${off.p50.toFixed(2)} / ${on.p50.toFixed(2)} | ${off.p99.toFixed(2)} / ${on.p99.toFixed(2)} | ${pct(on.p99 / off.p99 - 1)} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n  errors off ${off.errs}, on ${on.errs}; ${/sessions: .*$/m.exec(run.stdout)?.[0] ?? ''}\n  ${/event loop: .*$/m.exec(run.stderr)?.[0] ?? ''}\n`);
      if (fidelity < 0.999) {
        rows.push(`stopped: fidelity below 99.9% at ${rate} conn/s`);
        break;
      }
      if (on.achieved < 0.9 * rate || off.achieved < 0.9 * rate) {
        rows.push(`stopped: the load generator reached only ${Math.min(on.achieved, off.achieved).toFixed(0)} of ${rate} conn/s`);
        break;
      }
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await lab.destroy();
  }
}

await main();
