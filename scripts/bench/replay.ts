/**
 * Replay benchmark (root, bounded, namespaces): records HTTP workloads at several new-connection
 * rates from many client addresses (nginx, one worker; mixed short and keep-alive connections) and
 * a Redis SET workload, then replays each capture with our tcpcopy + intercept into a fresh target
 * at 1×, 2×, 5× and 10×, and prints a table:
 *
 *   requests recorded · requests the target saw (its own access log / DBSIZE) · fidelity % ·
 *   achieved requests/s · CPU s of tcpcopy and of intercept per 10,000 requests · peak RSS of each
 *
 *   node dist/scripts/bench/replay.js [workload,…] [accel,…]      (accel 0 = --rate, as fast as possible)
 *     workloads: http500 (1,500 conns at 500/s), http2000 (12,000 conns at 2,000/s), redis (SETs)
 *   e.g. node dist/scripts/bench/replay.js http2000 5
 *
 * tcpcopy's CPU and peak RSS come from its own summary (process.resourceUsage()); intercept's CPU
 * from /proc/PID/stat (utime + stime) before and after each replay, its peak RSS from VmHWM.
 * Achieved req/s = requests seen / tcpcopy's replay time (start-up to summary).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createLab, requireRoot, twoHost, type Lab, type LabProcess } from '../../test/helpers/lab.js';
import { cliPath } from '../../test/helpers/paths.js';
import type { RecordOptions } from '../../test/helpers/recorder.js';
import { startNginx, startRedis, type Nginx, type Redis } from '../../test/helpers/servers.js';
import { recordLossless } from '../../test/integration/replay-lab.js';

const CLK_TCK = 100;

interface Workload {
  name: string;
  kind: 'http' | 'redis';
  opts: RecordOptions & { aliases: number };
}

const WORKLOADS: Workload[] = [
  { name: 'http500', kind: 'http', opts: { aliases: 200, http: { connections: 1500, requestsPerConn: [1, 3, 5, 1, 2] }, rate: 500, concurrency: 128 } },
  { name: 'http2000', kind: 'http', opts: { aliases: 200, http: { connections: 12000, requestsPerConn: [1, 3, 5, 1, 2] }, rate: 2000, concurrency: 256 } },
  { name: 'redis', kind: 'redis', opts: { aliases: 200, redis: { connections: 200, keys: 20000, pipelineDepth: 8 }, rate: 500, concurrency: 64 } },
];

function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** CPU seconds of a process and its direct children (nginx master + workers). */
function treeCpuS(pid: number): number {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((x) => x !== '').map(Number);
  } catch {
    // no children file
  }
  return procCpuS(pid) + kids.reduce((a, k) => a + procCpuS(k), 0);
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

function procPeakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

interface Row {
  workload: string;
  accel: number;
  recorded: number;
  seen: number;
  fidelity: number;
  reqPerS: number;
  copierCpuPer10k: number;
  /** The copier's CPU split: user (ours) and system (sendto, which on a veth also runs the
   *  target's receive path, plus epoll/read). */
  copierUserPer10k: number;
  copierSysPer10k: number;
  interceptCpuPer10k: number;
  copierRssMb: number;
  interceptRssMb: number;
  completed: string;
  /** CPU of the test server (nginx / redis-server) per 10,000 requests. */
  serverCpuPer10k: number;
  /** Busy cores of the whole machine during the replay (copier, target, interceptor, kernel). */
  busyCores: number;
}

async function runCopier(lab: Lab, ns: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  // TCPCOPY_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' to profile the copier.
  const nodeArgs = (process.env.TCPCOPY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  // TCPCOPY_WRAP='strace -c -f -o FILE' or 'perf stat -o FILE' to run the copier under a tool.
  const wrap = (process.env.TCPCOPY_WRAP ?? '').split(' ').filter((a) => a !== '');
  const argv = [...wrap, process.execPath, ...nodeArgs, cliPath('tcpcopy'), ...args];
  const p = lab.spawn(ns, argv[0] as string, argv.slice(1));
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.exited, new Promise<null>((res) => (timer = setTimeout(() => res(null), 180_000)))]);
  clearTimeout(timer);
  if (r === null) await p.stop('SIGTERM', 5000);
  return { stdout: p.stdout, stderr: p.stderr, code: p.exitInfo?.code ?? null };
}

async function main(): Promise<void> {
  const why = requireRoot();
  if (why) {
    process.stderr.write(`replay bench skipped: ${why}\n`);
    process.exit(0);
  }
  const names = (process.argv[2] ?? 'http500,http2000,redis').split(',');
  const accels = (process.argv[3] ?? '1,2,5,10').split(',').map(Number);
  // BENCH_COPIER_ARGS: extra tcpcopy flags (e.g. '-r 1' to measure the fixed start-up cost).
  const extraArgs = (process.env.BENCH_COPIER_ARGS ?? '').split(' ').filter((a) => a !== '');
  const rows: Row[] = [];
  for (const w of WORKLOADS.filter((x) => names.includes(x.name))) {
    const lab = await createLab({ name: `bench-${w.name}` });
    try {
      process.stderr.write(`recording ${w.name} …\n`);
      const rec = await recordLossless(lab, w.opts);
      const recorded = w.kind === 'http' ? rec.truth.httpRequests.length : rec.truth.redisKeys.length;
      const port = w.kind === 'http' ? 80 : 6379;
      process.stderr.write(`  ${recorded} requests over ${rec.truth.connections.length} connections recorded in ${rec.truth.durationMs} ms (errors ${rec.truth.errors})\n`);
      const net = await twoHost(lab);
      const icpt: LabProcess = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--install-rule', String(port), '--stats-interval', '0']);
      await icpt.waitFor(/intercept ready/, 'stderr', 15_000);
      let nginx: Nginx | null = null;
      let redis: Redis | null = null;
      if (w.kind === 'http') nginx = await startNginx(lab, net.target, { port, bind: net.targetIp });
      else redis = await startRedis(lab, net.target, { port, bind: net.targetIp });
      for (const accel of accels) {
        const before = nginx?.readAccessLog().length ?? 0;
        if (redis !== null) await redis.cli(['FLUSHALL']);
        const cpu0 = procCpuS(icpt.pid);
        const serverPid = nginx !== null ? nginx.proc.pid : (redis as Redis).proc.pid;
        const srv0 = treeCpuS(serverPid);
        const m0 = machineCpu();
        const out = await runCopier(lab, net.copier, ['-x', `${port}-${net.targetIp}:${port}`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', ...(accel === 0 ? ['--rate'] : ['-a', String(accel)]), ...extraArgs]);
        const m1 = machineCpu();
        await new Promise((r) => setTimeout(r, 500));
        const icptCpu = procCpuS(icpt.pid) - cpu0;
        const serverCpu = treeCpuS(serverPid) - srv0;
        const seen = nginx !== null ? nginx.readAccessLog().length - before : await (redis as Redis).dbsize();
        const dur = Number(/replay (?:finished|stopped[^)]*\)) in ([0-9.]+) s/.exec(out.stdout)?.[1] ?? NaN);
        const cpuM = /resources: cpu ([0-9.]+) s \(user ([0-9.]+), system ([0-9.]+)\)/.exec(out.stdout);
        const cpu = Number(cpuM?.[1] ?? NaN);
        const rss = Number(/peak RSS (\d+) MB/.exec(out.stdout)?.[1] ?? NaN);
        const sess = /sessions: (\d+) started.*?(?:; (.*))?$/m.exec(out.stdout);
        if (out.code !== 0 || process.env.BENCH_VERBOSE) process.stderr.write(`  tcpcopy exit ${out.code}: ${out.stderr.slice(-1500)}\n${out.stdout}`);
        rows.push({
          workload: w.name,
          accel,
          recorded,
          seen,
          fidelity: (100 * seen) / recorded,
          reqPerS: seen / dur,
          copierCpuPer10k: (cpu * 10_000) / Math.max(1, seen),
          copierUserPer10k: (Number(cpuM?.[2] ?? NaN) * 10_000) / Math.max(1, seen),
          copierSysPer10k: (Number(cpuM?.[3] ?? NaN) * 10_000) / Math.max(1, seen),
          interceptCpuPer10k: (icptCpu * 10_000) / Math.max(1, seen),
          copierRssMb: rss,
          interceptRssMb: procPeakRssMb(icpt.pid),
          completed: sess?.[2] ?? '',
          serverCpuPer10k: (serverCpu * 10_000) / Math.max(1, seen),
          busyCores: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * os.cpus().length,
        });
        const r = rows[rows.length - 1] as Row;
        process.stderr.write(`  ${accel}×: ${seen}/${recorded} (${r.fidelity.toFixed(2)}%) in ${dur} s; ${r.completed}; machine busy ${r.busyCores.toFixed(2)} of ${os.cpus().length} cores\n`);
      }
    } finally {
      await lab.destroy();
    }
  }
  const head = ['workload', 'accel', 'recorded', 'seen', 'fidelity %', 'req/s', 'tcpcopy CPU s/10k', 'tcpcopy user/sys s/10k', 'intercept CPU s/10k', 'tcpcopy peak RSS MB', 'intercept peak RSS MB', 'server CPU s/10k', 'machine busy cores'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${r.workload} | ${r.accel === 0 ? '--rate' : `${r.accel}×`} | ${r.recorded} | ${r.seen} | ${r.fidelity.toFixed(2)} | ${Math.round(r.reqPerS)} | ${r.copierCpuPer10k.toFixed(2)} | ${r.copierUserPer10k.toFixed(2)}/${r.copierSysPer10k.toFixed(2)} | ${r.interceptCpuPer10k.toFixed(2)} | ${r.copierRssMb} | ${r.interceptRssMb} | ${r.serverCpuPer10k.toFixed(2)} | ${r.busyCores.toFixed(2)} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
