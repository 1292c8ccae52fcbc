/**
 * intercept benchmark (root): responses/s through NFQUEUE → verdict → record → channel, CPU per
 * response, added latency. Builds a two-host lab (test/helpers/lab.ts), runs intercept with its
 * rule in the target namespace, and for each offered rate runs a bounded flood
 * (scripts/bench/intercept-flood.ts) that sends TCP responses from port 80 through a raw socket
 * (so they cross OUTPUT and the NFQUEUE rule) and reads the records back from the channel.
 *
 *   node dist/scripts/bench/intercept.js [rate,rate,…] [seconds per rate] [--bare] [--backend fast|nfqueue|both]
 *   INTERCEPT_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' node dist/scripts/bench/intercept.js …   (profile)
 *
 * CPU is the intercept process's own on-CPU time (/proc/PID/schedstat: user + kernel in its
 * context: netlink recv, verdict send, channel writes). Kernel work done in the sender's context
 * (OUTPUT hook, queueing the packet) is not included, as for the C reference figures.
 * --bare runs the tap with a bare DROP handler instead of intercept (baseline: no records).
 * --backend picks the NFQUEUE backend (TCPCOPY_TS_NFQ_BACKEND for intercept): the project's
 * batched addon ('fast'), the `nfqueue` package ('nfqueue'), or each in turn ('both', default).
 * The load column is the 1-minute load average just before the rate's run (other work on the
 * machine skews CPU and latency figures).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createLab, requireRoot, twoHost } from '../../test/helpers/lab.js';
import { cliPath, repoRoot } from '../../test/helpers/paths.js';

const args = process.argv.slice(2);
const bare = args.includes('--bare');
const backendArg = args.indexOf('--backend');
const backendWanted = backendArg >= 0 ? (args[backendArg + 1] ?? 'both') : 'both';
const backends = backendWanted === 'both' ? ['fast', 'nfqueue'] : [backendWanted];
const positional = args.filter((a, i) => !a.startsWith('--') && !(backendArg >= 0 && i === backendArg + 1));
const rates = (positional[0] ?? '25000,50000,100000,150000').split(',').map(Number);
const seconds = Number(positional[1] ?? 2);
const MAX_COUNT = 400_000;

/** User and system CPU of a process in clock ticks (/proc/PID/stat fields 14 and 15; 100 Hz). */
function userSysTicks(pid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return [Number(f[11]), Number(f[12])];
}

function cpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

interface Row {
  backend: string;
  load: string;
  rate: number;
  sent: number;
  received: number;
  lost: number;
  kernelDrops: number;
  achieved: number;
  cpuUs: number;
  /** Share of that CPU spent in the kernel (recv, verdicts, channel writes). */
  sysShare: number;
  p50: number;
  p99: number;
  max: number;
  /** JS heap bytes allocated per handled packet (from --trace-gc; NaN without it). */
  allocB: number;
}

/**
 * JS heap bytes allocated, estimated from --trace-gc lines ("Scavenge 4.1 (5.6) -> 3.2 (6.6) MB"):
 * the growth between one collection's end and the next one's start, summed. 0.1 MB resolution.
 */
export function heapAllocatedBytes(traceGc: string): number {
  let total = 0;
  let lastAfter = -1;
  for (const m of traceGc.matchAll(/(?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)) {
    const before = Number(m[1]);
    if (lastAfter >= 0 && before > lastAfter) total += before - lastAfter;
    lastAfter = Number(m[2]);
  }
  return total * 1024 * 1024;
}

async function main(): Promise<void> {
  const why = requireRoot();
  if (why) {
    process.stderr.write(`intercept bench skipped: ${why}\n`);
    process.exit(0);
  }
  const lab = await createLab({ name: 'icpt-bench' });
  const rows: Row[] = [];
  try {
    const net = await twoHost(lab);
    // INTERCEPT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (or --trace-gc) to see where time goes.
    const nodeArgs = (process.env.INTERCEPT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    if (bare) await lab.exec(net.target, 'iptables', ['-w', '-I', 'OUTPUT', '-p', 'tcp', '--sport', '80', '!', '-o', 'lo', '-j', 'NFQUEUE', '--queue-num', '0']);
    const flood = join(repoRoot, 'dist', 'scripts', 'bench', 'intercept-flood.js');
    const kernel = async (): Promise<number> => {
      const t = (await lab.exec(net.target, 'cat', ['/proc/net/netfilter/nfnetlink_queue'])).stdout.trim().split(/\s+/).map(Number);
      return (t[5] ?? 0) + (t[6] ?? 0); // queue_dropped + user_dropped
    };
    for (const backend of backends) {
      const cmd = bare
        ? [join(repoRoot, 'dist', 'scripts', 'bench', 'intercept-bare.js'), '--backend', backend, '--copy-range', '64']
        : [cliPath('intercept'), '--install-rule', '80', '--stats-interval', '0', '--log-level', 'info'];
      const icpt = lab.spawn(net.target, process.execPath, [...nodeArgs, ...cmd], { env: { TCPCOPY_TS_NFQ_BACKEND: backend } });
      process.stderr.write(`${backend}: intercept pid ${icpt.pid}\n`); // for perf record -p
      if (bare) await icpt.waitFor(/intercept ready/, 'stderr', 10_000);
      else await lab.waitListening(net.target, 36524, 10_000, icpt);
      await new Promise((r) => setTimeout(r, 300));
      for (const rate of rates) {
        const count = Math.min(MAX_COUNT, Math.round(rate * seconds));
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
        const k0 = await kernel();
        const gc0 = icpt.stdout.length;
        const c0 = cpuNs(icpt.pid);
        const t0 = userSysTicks(icpt.pid);
        const r = await lab.exec(net.target, process.execPath, [flood, bare ? 'none' : '127.0.0.1', '36524', net.targetIp, String(count), String(rate)], { timeoutMs: 120_000 });
        const c1 = cpuNs(icpt.pid);
        const t1 = userSysTicks(icpt.pid);
        const k1 = await kernel();
        const gcText = icpt.stdout.slice(gc0);
        const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
        const sent = res.sent ?? 0;
        const received = bare ? sent : (res.received ?? 0);
        rows.push({
          backend,
          load,
          rate,
          sent,
          received: bare ? NaN : received,
          lost: bare ? NaN : sent - received,
          kernelDrops: k1 - k0,
          achieved: Math.round((sent / (res.sendMs ?? 1)) * 1000),
          // Per packet intercept actually handled (kernel drops never reached it).
          cpuUs: (c1 - c0) / 1000 / Math.max(1, sent - (k1 - k0)),
          sysShare: (t1[1] - t0[1]) / Math.max(1, t1[0] - t0[0] + t1[1] - t0[1]),
          p50: bare ? NaN : (res.p50us ?? NaN),
          p99: bare ? NaN : (res.p99us ?? NaN),
          max: bare ? NaN : (res.maxUs ?? NaN),
          allocB: nodeArgs.includes('--trace-gc') ? heapAllocatedBytes(gcText) / Math.max(1, sent - (k1 - k0)) : NaN,
        });
        process.stderr.write(`${backend} rate ${rate} (load ${load}): ${r.stdout.trim()}\n`);
      }
      await icpt.stop('SIGTERM', 5000);
      process.stderr.write(icpt.stderr.split('\n').filter((l) => /final stats|ERROR|WARN|Scavenge|Mark/.test(l)).slice(-40).join('\n') + '\n');
      if (process.env.INTERCEPT_TRACE_GC !== undefined) process.stderr.write(icpt.stdout.split('\n').slice(-60).join('\n') + '\n');
    }
  } finally {
    await lab.destroy();
  }
  const head = ['backend', 'load', 'offered/s', 'sent', 'records', 'lost', 'kernel drops', 'sent/s', 'CPU µs/handled', 'sys %', 'p50 µs', 'p99 µs', 'max µs', 'heap B/pkt'];
  const lines = rows.map((r) => [r.backend, r.load, r.rate, r.sent, r.received, r.lost, r.kernelDrops, r.achieved, r.cpuUs.toFixed(2), (r.sysShare * 100).toFixed(0), r.p50, r.p99, r.max, Number.isNaN(r.allocB) ? '-' : r.allocB.toFixed(0)].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  console.log(`intercept benchmark${bare ? ' (BARE tap DROP baseline)' : ''}: ${seconds} s per rate, 152-byte responses, 1 copier connection, ${cpus().length} CPUs`);
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

void main();
