/**
 * Live copying at increasing connection rates: HTTP from many client addresses, one request per
 * connection (Connection: close), at fixed offered rates, until fidelity drops below 99.9% or the
 * load generator cannot offer more (it reached < 90% of the rate asked for).
 *
 * The live-copy lab of docs/LAB.md (test/integration/live-lab.ts): client ns (N aliases) ── online
 * ns (nginx :80, tcpcopy capturing its client-facing interface) ── target ns (nginx :80, intercept).
 * Per rate, ~`--seconds` of load twice: copying off (latency baseline) and copying on (a fresh
 * tcpcopy per step, stopped with SIGTERM after the target went quiet). Per row: offered and
 * achieved connection rate, fidelity (the target's access log against the online one, as a
 * multiset of unique paths), capture drops from the copier's summary, copier CPU per 10k requests
 * (utime+stime over the step, start-up excluded), interceptor CPU per 10k requests, and the online
 * clients' p50/p99 latency with copying off and on.
 *
 *   node dist/scripts/bench/online.js [--rates 500,1000,2000,3000,4000] [--seconds 5] [--aliases 50]
 * Root. The load generator is a small Node program with a fixed-rate schedule (wrk is closed-loop,
 * wrk2 is not in Debian), run inside the client namespace.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLab, requireRoot, type Lab } from '../../test/helpers/lab.js';
import { startNginx, type Nginx } from '../../test/helpers/servers.js';
import { liveNet, startLiveCopier, type LiveNet } from '../../test/integration/live-lab.js';
import { startIntercept } from '../../test/integration/replay-lab.js';

const { values: o } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000,2000,3000,4000' },
    seconds: { type: 'string', default: '5' },
    aliases: { type: 'string', default: '50' },
  },
});

// BENCH_COPIER_ARGS='--capture-latency 0': more tcpcopy flags for every step (as in scripts/bench/replay.ts).
const extraArgs = (process.env.BENCH_COPIER_ARGS ?? '').split(' ').filter((a) => a !== '');

// Fixed-rate open-loop generator: connection i starts at i / rate seconds, whatever the earlier
// ones are doing (bounded at 20k in flight); prints one JSON line.
const LOADGEN = `
import net from 'node:net';
import { performance } from 'node:perf_hooks';
const [host, port, rate, durMs, prefix, ...froms] = process.argv.slice(2);
const R = Number(rate), D = Number(durMs);
let launched = 0, ok = 0, errs = 0, inflight = 0;
const lat = [];
const t0 = performance.now();
function one(i) {
  inflight++;
  const start = performance.now();
  let buf = '';
  let done = false;
  const finish = (good) => { if (done) return; done = true; inflight--; if (good) { ok++; lat.push(performance.now() - start); } else errs++; };
  const s = net.connect({ host, port: Number(port), localAddress: froms[i % froms.length] });
  s.setNoDelay(true);
  s.setTimeout(10000, () => s.destroy());
  s.on('connect', () => s.write('GET /' + prefix + '/' + i + ' HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
  s.on('data', (d) => { buf += d.toString('latin1'); });
  s.on('end', () => { finish(buf.startsWith('HTTP/1.1 200')); s.destroy(); });
  s.on('close', () => finish(false));
  s.on('error', () => {});
}
const timer = setInterval(() => {
  const el = performance.now() - t0;
  const due = Math.min(Math.floor((el * R) / 1000), Math.floor((D * R) / 1000));
  while (launched < due && inflight < 20000) one(launched++);
  if (el >= D) {
    clearInterval(timer);
    const achieved = launched / (el / 1000);
    const wait = setInterval(() => {
      if (inflight > 0 && performance.now() - t0 < D + 10000) return;
      clearInterval(wait);
      lat.sort((a, b) => a - b);
      const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
      console.log(JSON.stringify({ launched, ok, errs, achieved, p50: q(0.5), p99: q(0.99) }));
      process.exit(0);
    }, 20);
  }
}, 1);
`;

interface LoadResult {
  launched: number;
  ok: number;
  errs: number;
  achieved: number;
  p50: number;
  p99: number;
}

/** utime and stime of a process, in ms (Linux USER_HZ = 100). */
function cpuMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

async function load(lab: Lab, net: LiveNet, file: string, rate: number, ms: number, prefix: string): Promise<LoadResult> {
  const r = await lab.exec(net.client, process.execPath, [file, net.onlineIp, '80', String(rate), String(ms), prefix, ...net.clientIps], { timeoutMs: ms + 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as LoadResult;
}

const paths = (n: Nginx, prefix: string): string[] => n.readAccessLog().map((e) => e.path).filter((p) => p.startsWith(`/${prefix}/`));

/** Waits until the count stops growing for 1.5 s (at most 20 s). */
async function settle(count: () => number, want: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const n = count();
    if (n >= want) return;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 1500) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const skip = requireRoot();
  if (skip) throw new Error(skip);
  const ms = Number(o.seconds) * 1000;
  const lab = await createLab({ name: 'bench-online' });
  try {
    const net = await liveNet(lab, Number(o.aliases));
    // The client side may hold many TIME_WAIT ports per address; widen the range.
    await lab.sysctl(net.client, { 'net.ipv4.ip_local_port_range': '10000 65000', 'net.ipv4.tcp_tw_reuse': '1' });
    const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
    const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
    const intercept = await startIntercept(lab, net.target, [80]);
    const file = join(lab.tmpDir, 'loadgen.mjs');
    writeFileSync(file, LOADGEN);
    const rows: string[] = [
      `${o.seconds} s per step, HTTP/1.1 GET with Connection: close (one request per connection) from ${o.aliases} client addresses; nginx 1 worker on both sides; veths, 2 shared cores`,
      '| offered conn/s | achieved (off / on) | fidelity | capture drops | copier CPU ms / 10k req (user + sys) | intercept CPU ms / 10k req | p50 off / on (ms) | p99 off / on (ms) |',
      '|---|---|---|---|---|---|---|---|',
    ];
    for (const rate of (o.rates ?? '').split(',').map(Number)) {
      const off = await load(lab, net, file, rate, ms, `off${rate}`);
      const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, ...extraArgs]);
      const c0 = cpuMs(copier.proc.pid);
      const i0 = cpuMs(intercept.pid);
      const on = await load(lab, net, file, rate, ms, `on${rate}`);
      const want = paths(online, `on${rate}`).length;
      await settle(() => paths(target, `on${rate}`).length, want);
      const c1 = cpuMs(copier.proc.pid);
      const i1 = cpuMs(intercept.pid);
      const run = await copier.stop(60_000);
      const got = paths(target, `on${rate}`);
      // Unique paths: fidelity = online requests found at the target (duplicates would be extra).
      const set = new Set(got);
      const found = paths(online, `on${rate}`).filter((p) => set.has(p)).length;
      const fidelity = want > 0 ? found / want : 0;
      const drops = /(\d+) dropped \(kernel (\d+), ring full (\d+), sink busy (\d+)/.exec(run.stdout);
      const per10k = (cpu: number): string => (want > 0 ? ((cpu * 10_000) / want).toFixed(0) : '-');
      rows.push(
        `| ${rate} | ${off.achieved.toFixed(0)} / ${on.achieved.toFixed(0)} | ${(fidelity * 100).toFixed(2)}% (${found}/${want}${got.length > set.size ? `, ${got.length - set.size} dup` : ''}) | ` +
          `${drops ? `${drops[1]} (kernel ${drops[2]}, ring ${drops[3]}, sink ${drops[4]})` : '?'} | ${per10k(c1.user + c1.sys - c0.user - c0.sys)} (${per10k(c1.user - c0.user)} + ${per10k(c1.sys - c0.sys)}) | ${per10k(i1.user + i1.sys - i0.user - i0.sys)} | ` +
          `${off.p50.toFixed(2)} / ${on.p50.toFixed(2)} | ${off.p99.toFixed(2)} / ${on.p99.toFixed(2)} |`,
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
