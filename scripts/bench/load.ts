/**
 * Load-mode benchmark (issue 12; root, bounded, namespaces): how many concurrent users one copier
 * holds, what each costs, and how fast they are established. Records 4 HTTP keep-alive sessions
 * (1 request each, then idle) against nginx, then for each point runs
 *
 *   tcpcopy -u N --comet -c 10.98.0.0/24 --ramp ⌈N / RATE⌉ --duration ramp + HOLD + 5
 *
 * against nginx in a target namespace (12 workers × 19,900 connections, keepalive_timeout 600 s,
 * somaxconn / SYN backlog raised: this machine caps every process at 20,000 open files) with our
 * intercept, and prints a markdown table:
 *
 *   users requested · users held (peak established connections at the target: Tcp CurrEstab of
 *   the target ns, every 250 ms while ramping and every second after, less the connections that
 *   are not users) · held for s (time ≥ 99 % of N were established) · copier RSS while holding
 *   (VmRSS) and per user (RSS ÷ N, and the increase over the previous point per added user) ·
 *   copier CPU % while holding (idle users), over the whole run, and in its busiest second
 *   (ramp-up; with intercept's busiest second) · establishment rate at the target (average from
 *   the first user to 99 % of them, and the best ≥ 1 s window) and tcpcopy's own peak second
 *
 *   node dist/scripts/bench/load.js [N,N,...] [rate]      default 10000,50000,100000,150000 25000
 *   (LOAD_BENCH_PROF=DIR writes a V8 CPU profile of each copier run into DIR; LOAD_BENCH_RPS=0
 *   turns off receive packet steering on the target's veth, see below)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createLab, requireRoot, twoHost, type Lab } from '../../test/helpers/lab.js';
import { NODE_FLAGS, cliPath } from '../../test/helpers/paths.js';
import { currEstab, establishedCount, raiseTargetLimits, recordThinkSessions } from '../../test/integration/load-lab.js';
import { startIntercept } from '../../test/integration/replay-lab.js';

const CLK_TCK = 100;
const HOLD_S = 15;
const WORKERS = 12;
const WORKER_CONNS = 19_900;

function procStat(pid: number): { cpuS: number; rssKb: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssKb: rss };
  } catch {
    return { cpuS: NaN, rssKb: 0 };
  }
}

/** TcpExt counters of a namespace that explain slow establishment (accept queue, SYN queue, SYN-ACK retransmits). */
async function targetCounters(lab: Lab, ns: string): Promise<Record<string, number>> {
  const text = (await lab.exec(ns, 'cat', ['/proc/net/netstat'])).stdout.split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < text.length; i += 2) {
    const names = (text[i] as string).split(' ');
    const vals = (text[i + 1] as string).split(' ');
    names.forEach((n, k) => {
      if (/^(ListenOverflows|ListenDrops|TCPSynRetrans|TCPReqQFullDrop|TCPReqQFullDoCookies|TCPTimeouts)$/.test(n)) out[n] = Number(vals[k]);
    });
  }
  return out;
}

async function startBigNginx(lab: Lab, ns: string, ip: string): Promise<void> {
  const dir = lab.mkdir('nginx-load');
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const conf = `worker_processes ${WORKERS};
worker_rlimit_nofile 20000;
daemon off;
master_process on;
user root;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${WORKER_CONNS}; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout 600;
  keepalive_requests 100000;
  server {
    listen ${ip}:80 backlog=65535 reuseport;
    location / { default_type text/plain; return 200 "ok $uri\\n"; }
  }
}
`;
  const path = join(dir, 'nginx.conf');
  writeFileSync(path, conf);
  const proc = lab.spawn(ns, 'nginx', ['-p', dir, '-c', path, '-e', join(dir, 'error.log')]);
  await lab.waitListening(ns, 80, 10_000, proc);
}

interface Row {
  users: number;
  held: number;
  heldS: number;
  rssMb: number;
  bytesPerUser: number;
  marginalBytesPerUser: number | null;
  cpuHoldPct: number;
  cpuRunPct: number;
  /** Busiest second of the copier and of intercept (ramp-up), % of one core. */
  cpuPeakPct: number;
  interceptPeakPct: number;
  rampRate: number;
  rampAvg: number;
  copierPeakRate: number;
  failures: string;
}

async function main(): Promise<void> {
  const skip = requireRoot();
  if (skip !== false) throw new Error(skip);
  const points = (process.argv[2] ?? '10000,50000,100000,150000').split(',').map(Number);
  const rate = Number(process.argv[3] ?? 25_000);
  const lab = await createLab({ name: 'bench-load' });
  const rows: Row[] = [];
  try {
    const rec = await recordThinkSessions(lab, { sessions: 4, requests: 1, thinkMs: 300, port: 80 });
    const net = await twoHost(lab);
    await raiseTargetLimits(lab, net.target);
    // On a veth the target's receive path runs inside the sender's syscall, i.e. on the copier's
    // thread (SYN → SYN-ACK → NFQUEUE, ACK → new socket: two thirds of the copier's CPU while
    // ramping, perf). Receive packet steering on the target's side hands it to the softirq of the
    // CPU the flow hashes to instead, as a separate test server would take it off the copier
    // (LOAD_BENCH_RPS=0: off, the copier pays for the target's kernel).
    if (process.env.LOAD_BENCH_RPS !== '0') {
      const cpus = ((1 << Math.min(os.cpus().length, 30)) - 1).toString(16);
      await lab.exec(net.target, 'sh', ['-c', `echo ${cpus} > /sys/class/net/${net.targetIf}/queues/rx-0/rps_cpus`]);
    }
    const intercept = await startIntercept(lab, net.target, [80]);
    await startBigNginx(lab, net.target, net.targetIp);
    let prev: Row | null = null;
    for (const n of points) {
      const rampS = Math.max(1, Math.ceil(n / rate));
      // Establishment may lag the ramp (measured ~10,000/s here): hold HOLD_S after all could be up.
      const duration = Math.max(rampS, Math.ceil(n / 8000)) + HOLD_S + 5;
      // LOAD_BENCH_PROF=DIR: a V8 CPU profile of each copier run in DIR.
      const prof = process.env.LOAD_BENCH_PROF;
      // Connections of the target namespace that are not users (intercept's channel).
      const base = await currEstab(lab, net.target);
      const copier = lab.spawn(net.copier, process.execPath, [
        ...(prof === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', prof]),
        ...(process.env.LOAD_BENCH_HEAPSNAP === undefined ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${process.env.LOAD_BENCH_HEAPSNAP}`]),
        ...NODE_FLAGS.tcpcopy, cliPath('tcpcopy'), '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap,
        '-u', String(n), '-c', '10.98.0.0/24', '--comet', '--ramp', String(rampS), '--duration', String(duration),
        '--quiet', '--stats-interval', '5', '--end-grace', '1000', '-m', '8192',
      ]);
      const counters0 = await targetCounters(lab, net.target);
      const t0 = Date.now();
      const cpu0 = procStat(copier.pid ?? 0).cpuS;
      let held = 0;
      let extra = 0;
      let heldSince = -1;
      let heldS = 0;
      let holdStart: { t: number; cpuS: number; rssKb: number } | null = null;
      let holdEnd: { t: number; cpuS: number; rssKb: number } | null = null;
      let rampRate = 0;
      let rampFrom = 0;
      let rampAvg = 0;
      let lastSample: { t: number; c: number } | null = null;
      let lastCpu: { t: number; copier: number; intercept: number } | null = null;
      let cpuPeakPct = 0;
      let interceptPeakPct = 0;
      while (copier.running && Date.now() - t0 < (duration + 30) * 1000) {
        const c = (await currEstab(lab, net.target)) - base;
        const t = Date.now();
        held = Math.max(held, c);
        // Peak rate over windows of at least 1 s; the ramp average from the last sample with no
        // user established to the first with 99 % of them.
        if (lastSample === null) lastSample = { t, c };
        else if (t - lastSample.t >= 1000) {
          rampRate = Math.max(rampRate, ((c - lastSample.c) * 1000) / (t - lastSample.t));
          lastSample = { t, c };
        }
        if (c <= 0) rampFrom = t;
        if (rampAvg === 0 && c >= 0.99 * n && rampFrom > 0 && t > rampFrom) rampAvg = (c * 1000) / (t - rampFrom);
        const ps = procStat(copier.pid ?? 0);
        const ic = procStat(intercept.pid ?? 0).cpuS;
        if (lastCpu !== null && t > lastCpu.t) {
          cpuPeakPct = Math.max(cpuPeakPct, (100 * (ps.cpuS - lastCpu.copier) * 1000) / (t - lastCpu.t));
          interceptPeakPct = Math.max(interceptPeakPct, (100 * (ic - lastCpu.intercept) * 1000) / (t - lastCpu.t));
        }
        if (Number.isFinite(ps.cpuS)) lastCpu = { t, copier: ps.cpuS, intercept: ic };
        if (c >= 0.99 * n) {
          if (heldSince < 0) heldSince = t;
          heldS = (t - heldSince) / 1000;
          if (holdStart === null && t - heldSince >= 2000) {
            holdStart = { t, ...ps };
            // Once, while the users are idle: the namespace's connections that are not users
            // (intercept's channel to the copier), for the held count below.
            extra = (await currEstab(lab, net.target)) - base - (await establishedCount(lab, net.target, 80));
            // LOAD_BENCH_HEAPSNAP=DIR: a heap snapshot of the copier holding its users.
            if (process.env.LOAD_BENCH_HEAPSNAP !== undefined) copier.signal('SIGUSR2');
          }
          if (holdStart !== null) holdEnd = { t, ...ps };
        } else heldSince = -1;
        // Every 250 ms until the users are up (CurrEstab is cheap), then every second.
        await new Promise((r) => setTimeout(r, heldSince < 0 ? 250 : 1000));
      }
      const res = await copier.exited;
      const counters1 = await targetCounters(lab, net.target);
      const delta = Object.fromEntries(Object.entries(counters1).map(([k, v]) => [k, v - (counters0[k] ?? 0)]));
      const runS = (Date.now() - t0) / 1000;
      const cpuEnd = Number(/cpu ([\d.]+) s user/.exec(copier.stdout)?.[1] ?? NaN);
      const copierPeakRate = Number(/peak (\d+)\/s\)/.exec(copier.stdout)?.[1] ?? NaN);
      const failures = /failures by cause: ([^;]*)/.exec(copier.stdout)?.[1] ?? `exit ${res.code}`;
      const rssKb = holdEnd?.rssKb ?? 0;
      const row: Row = {
        users: n,
        held: held - extra,
        heldS,
        rssMb: rssKb / 1024,
        bytesPerUser: (rssKb * 1024) / n,
        marginalBytesPerUser: prev === null || holdEnd === null ? null : ((rssKb - prev.rssMb * 1024) * 1024) / (n - prev.users),
        cpuHoldPct: holdStart !== null && holdEnd !== null && holdEnd.t > holdStart.t ? (100 * (holdEnd.cpuS - holdStart.cpuS) * 1000) / (holdEnd.t - holdStart.t) : NaN,
        cpuRunPct: (100 * ((holdEnd?.cpuS ?? cpuEnd) - cpu0)) / runS,
        cpuPeakPct,
        interceptPeakPct,
        rampRate: Math.round(rampRate),
        rampAvg: Math.round(rampAvg),
        copierPeakRate,
        failures,
      };
      rows.push(row);
      prev = row;
      process.stderr.write(`${JSON.stringify(row)}\ntarget TcpExt during the point: ${JSON.stringify(delta)}\n${copier.stdout.split('\n').filter((l) => /load:|memory at the end/.test(l)).join('\n')}\n${copier.stderr.slice(-1500)}\n`);
      // Let the target drop the previous point's connections (reset at the copier's end).
      await new Promise((r) => setTimeout(r, 3000));
    }
  } finally {
    await lab.destroy();
  }
  const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
  process.stdout.write(
    '| users requested | users held (target) | held ≥ 99 % for s | copier RSS MB | bytes/user (RSS ÷ N) | bytes per added user | copier CPU % holding | copier CPU % run | copier / intercept CPU % busiest s | established/s (target: ramp average / peak s) | established/s (copier peak) | failures |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.users} | ${r.held} | ${f(r.heldS, 1)} | ${f(r.rssMb)} | ${f(r.bytesPerUser)} | ${r.marginalBytesPerUser === null ? '–' : f(r.marginalBytesPerUser)} | ` +
        `${f(r.cpuHoldPct, 1)} | ${f(r.cpuRunPct, 1)} | ${f(r.cpuPeakPct)} / ${f(r.interceptPeakPct)} | ${r.rampAvg} / ${r.rampRate} | ${f(r.copierPeakRate)} | ${r.failures} |\n`,
    );
  }
}

await main();
