/**
 * Replay benchmark (root, bounded, namespaces): records HTTP workloads at several new-connection
 * rates from many client addresses (nginx, one worker; mixed short and keep-alive connections) and
 * a Redis SET workload, then replays each capture with our tcpcopy + intercept into a fresh target
 * at 1×, 2×, 5× and 10× (or as given), and prints a table:
 *
 *   requests recorded and seen by the target (its own access log / DBSIZE) · ideal s (capture span
 *   / accel) · wall s · fidelity % · achieved req/s · the target's own ceiling (wrk) · CPU of
 *   tcpcopy (user/sys) and intercept per 10,000 requests · tcpcopy user µs per packet sent · the
 *   target's TCP retransmissions · peak RSS of each
 *
 *   node dist/scripts/bench/replay.js [workload,…] [accel,…]      (accel 0 = --rate, as fast as possible)
 *     workloads: http500 (1,500 conns at 500/s), http2000 (12,000 conns at 2,000/s),
 *                http2000mix (30,000 conns at 2,000/s, 60 % short / 40 % keep-alive with 2–8
 *                requests, static files of 0.4–32 KB), redis (SETs)
 *   e.g. node dist/scripts/bench/replay.js http2000mix 1,5,10,0
 *
 * tcpcopy's CPU, packets sent and peak RSS come from its own summary (process.resourceUsage());
 * intercept's CPU from /proc/PID/stat (utime + stime) before and after each replay, its peak RSS
 * from VmHWM. Wall s is tcpcopy's replay time (start-up to summary); achieved req/s = requests
 * seen / wall s. Retransmissions are the target namespace's Tcp RetransSegs (and OutSegs, for the
 * percentage) from /proc/<server pid>/net/snmp before and after each replay.
 *
 * The ceiling (HTTP workloads, once per workload, before intercept starts so the target runs as it
 * would alone): wrk from the copier namespace against the same nginx, WRK_THREADS threads and
 * WRK_CONNS connections for WRK_SECONDS s, with a Lua script replaying the workload's request mix
 * (same files and size draws; `Connection: close` on the last request of each connection of the
 * per-connection pattern). wrk's connections share one request sequence per thread, so the share
 * of requests that close a connection matches the workload (e.g. 35 of 91 for http2000mix), not
 * the per-connection lengths. Install wrk with `bash scripts/install-deps.sh --with-bench-tools`.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { createLab, requireRoot, twoHost, type Lab, type LabProcess } from '../../test/helpers/lab.js';
import { NODE_FLAGS, cliPath } from '../../test/helpers/paths.js';
import type { RecordOptions } from '../../test/helpers/recorder.js';
import { pickBodySizes, sizedPath } from '../../test/helpers/recorder-client.js';
import { startNginx, startRedis, type Nginx, type Redis } from '../../test/helpers/servers.js';
import { parseSummary, recordLossless } from '../../test/integration/replay-lab.js';

const CLK_TCK = 100;

interface Workload {
  name: string;
  kind: 'http' | 'redis';
  opts: RecordOptions & { aliases: number };
}

/**
 * Requests per connection of http2000mix, cycled: of every 5 connections 3 are short (1 request)
 * and 2 keep-alive, the keep-alive ones taking 2, 3, … 8 requests in turn (35 connections, 91
 * requests: 2.6 per connection, so 30,000 connections make about 78,000 requests).
 */
function mixPattern(): number[] {
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < 35; i++) out.push(i % 5 === 1 || i % 5 === 3 ? 2 + (k++ % 7) : 1);
  return out;
}

/** `n` sizes spaced evenly on a log scale from `lo` to `hi` bytes (a log-uniform spread when drawn uniformly). */
function logSpaced(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(lo * (hi / lo) ** (i / (n - 1))));
}

const WORKLOADS: Workload[] = [
  { name: 'http500', kind: 'http', opts: { aliases: 200, http: { connections: 1500, requestsPerConn: [1, 3, 5, 1, 2] }, rate: 500, concurrency: 128 } },
  { name: 'http2000', kind: 'http', opts: { aliases: 200, http: { connections: 12000, requestsPerConn: [1, 3, 5, 1, 2] }, rate: 2000, concurrency: 256 } },
  {
    name: 'http2000mix',
    kind: 'http',
    // 15 s at 2,000 new connections/s; 400 B … 32 KiB responses (8 files, log-spaced).
    opts: { aliases: 200, http: { connections: 30_000, requestsPerConn: mixPattern(), bodySizes: logSpaced(400, 32_768, 8) }, rate: 2000, concurrency: 256 },
  },
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

/** Time from the first to the last packet of a pcap file (µs or ns timestamps, either byte order). */
function captureSpanS(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(24);
    if (readSync(fd, head, 0, 24, 0) < 24) return NaN;
    const magics: Record<number, number> = { 0xa1b2c3d4: 1e6, 0xa1b23c4d: 1e9 };
    const le = magics[head.readUInt32LE(0)] !== undefined;
    const unitsPerS = magics[le ? head.readUInt32LE(0) : head.readUInt32BE(0)];
    if (unitsPerS === undefined) return NaN;
    const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    // Walk the 16-byte record headers chunk by chunk; a record cut by the chunk end is re-read.
    const buf = Buffer.alloc(4 << 20);
    let pos = 24;
    let first = NaN;
    let last = NaN;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      let off = 0;
      while (off + 16 <= n) {
        const incl = u32(buf, off + 8);
        if (off + 16 + incl > n) break;
        const t = u32(buf, off) + u32(buf, off + 4) / unitsPerS;
        if (Number.isNaN(first)) first = t;
        last = t;
        off += 16 + incl;
      }
      // off 0: end of file, or a truncated last record (or one bigger than the chunk).
      if (off === 0) break;
      pos += off;
    }
    return last - first;
  } finally {
    closeSync(fd);
  }
}

/**
 * A counter getter for one table (`Tcp:` of /proc/PID/net/snmp, `TcpExt:` of .../netstat) of the
 * namespace `pid` lives in (/proc/PID/net follows the task's netns): a header line, then values.
 */
function netCounters(pid: number, file: 'snmp' | 'netstat', table: string): (key: string) => number {
  const [keys, vals] = readFileSync(`/proc/${pid}/net/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${table}:`))
    .map((l) => l.trim().split(/\s+/).slice(1));
  return (k) => Number(vals?.[keys?.indexOf(k) ?? -1] ?? NaN);
}

function tcpSnmp(pid: number): { retransSegs: number; outSegs: number } {
  const get = netCounters(pid, 'snmp', 'Tcp');
  return { retransSegs: get('RetransSegs'), outSegs: get('OutSegs') };
}

/** Accept-queue overflows (a SYN or handshake ACK dropped: the listener's queue was full) and SYN/SYN-ACK retransmissions. */
function tcpExt(pid: number): { listenOverflows: number; synRetrans: number } {
  const get = netCounters(pid, 'netstat', 'TcpExt');
  return { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
}

/** Peak RSS (VmHWM) of a Node process that only waits 200 ms: the floor under any Node program here. */
function emptyNodePeakRssMb(): number {
  const script = "setTimeout(() => process.stdout.write(/VmHWM:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]), 200)";
  return Math.round(Number(execFileSync(process.execPath, ['-e', script], { timeout: 10_000 }).toString()) / 1024);
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, cmd)));
}

const WRK_THREADS = 2;
const WRK_CONNS = 64;
const WRK_SECONDS = 5;

interface Ceiling {
  reqPerS: number;
  /** wrk's errors and the server's CPU use during the run, for the log. */
  note: string;
}

/**
 * The target's own ceiling for an HTTP workload: wrk in `ns` against http://ip:port with the
 * workload's request mix (see the header comment). Null when wrk is not installed.
 */
async function measureCeiling(lab: Lab, ns: string, ip: string, port: number, http: NonNullable<RecordOptions['http']>, serverPid: number): Promise<Ceiling | null> {
  if (!onPath('wrk')) return null;
  const pattern = http.requestsPerConn ?? [1, 3, 5];
  const perCycle = pattern.reduce((a, b) => a + b, 0);
  // Whole cycles of the pattern, at least 2,000 requests, so the size draws are well spread.
  const count = Math.ceil(2000 / perCycle) * perCycle;
  const sizes = http.bodySizes ?? [];
  const drawn = sizes.length > 0 ? pickBodySizes(sizes, count) : [];
  const plan: string[] = [];
  for (let c = 0; plan.length < count; c++) {
    const n = pattern[c % pattern.length] ?? 1;
    for (let i = 0; i < n && plan.length < count; i++) {
      const k = plan.length;
      const path = sizes.length > 0 ? sizedPath(drawn[k] as number) : `/r/ceiling/${k}`;
      plan.push(`{ ${JSON.stringify(path)}, ${i === n - 1 ? 'true' : 'false'} }`);
    }
  }
  const script = join(lab.mkdir('wrk'), 'mix.lua');
  writeFileSync(
    script,
    `-- generated by scripts/bench/replay.ts: the workload's requests in order; true = last of its connection
local plan = {
${plan.join(',\n')}
}
local reqs = {}
local n = 0
init = function(args)
  for i, p in ipairs(plan) do
    local h = { ["Host"] = "${ip}", ["User-Agent"] = "tcpcopy-ts-ceiling" }
    if p[2] then h["Connection"] = "close" end
    reqs[i] = wrk.format("GET", p[1], h)
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
`,
  );
  const cpu0 = treeCpuS(serverPid);
  const r = await lab.exec(ns, 'wrk', [`-t${WRK_THREADS}`, `-c${WRK_CONNS}`, `-d${WRK_SECONDS}s`, '-s', script, `http://${ip}:${port}/`], { timeoutMs: (WRK_SECONDS + 30) * 1000 });
  const serverCpu = treeCpuS(serverPid) - cpu0;
  const reqPerS = Number(/Requests\/sec:\s+([0-9.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const errors = [/Socket errors:.*/.exec(r.stdout)?.[0], /Non-2xx or 3xx responses:.*/.exec(r.stdout)?.[0]].filter((x) => x !== undefined);
  const note = `wrk -t${WRK_THREADS} -c${WRK_CONNS} -d${WRK_SECONDS}s, ${count}-request mix: ${reqPerS} req/s; server busy ${((100 * serverCpu) / WRK_SECONDS).toFixed(0)} % of a core${errors.length > 0 ? `; ${errors.join('; ')}` : ''}`;
  return { reqPerS, note };
}

interface Row {
  workload: string;
  accel: number;
  recorded: number;
  seen: number;
  /** Capture span / accel (NaN for --rate). */
  idealS: number;
  /** tcpcopy's replay time from its summary. */
  wallS: number;
  fidelity: number;
  reqPerS: number;
  /** The target's own ceiling (wrk), req/s; NaN when not measured. */
  ceiling: number;
  copierCpuPer10k: number;
  /** The copier's CPU split: user (ours) and system (sendto, which on a veth also runs the
   *  target's receive path, plus epoll/read). */
  copierUserPer10k: number;
  copierSysPer10k: number;
  /** tcpcopy user CPU per packet it sent, µs. */
  userUsPerPacket: number;
  interceptCpuPer10k: number;
  /** Target TCP segments retransmitted and sent in all during the replay. */
  retransSegs: number;
  outSegs: number;
  copierRssMb: number;
  interceptRssMb: number;
  completed: string;
  /** CPU of the test server (nginx / redis-server) per 10,000 requests. */
  serverCpuPer10k: number;
  /** Busy cores of the whole machine during the replay (copier, target, interceptor, kernel). */
  busyCores: number;
}

// INTERCEPT_NODE_ARGS='--cpu-prof …' or V8 flags to try on the interceptor (as TCPCOPY_NODE_ARGS for the copier).
const interceptNodeArgs = (process.env.INTERCEPT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

async function runCopier(lab: Lab, ns: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  // TCPCOPY_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' to profile the copier.
  const nodeArgs = (process.env.TCPCOPY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  // TCPCOPY_WRAP='strace -c -f -o FILE' or 'perf stat -o FILE' to run the copier under a tool.
  const wrap = (process.env.TCPCOPY_WRAP ?? '').split(' ').filter((a) => a !== '');
  const argv = [...wrap, process.execPath, ...NODE_FLAGS.tcpcopy, ...nodeArgs, cliPath('tcpcopy'), ...args];
  const p = lab.spawn(ns, argv[0] as string, argv.slice(1));
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.exited, new Promise<null>((res) => (timer = setTimeout(() => res(null), 180_000)))]);
  clearTimeout(timer);
  if (r === null) await p.stop('SIGTERM', 5000);
  return { stdout: p.stdout, stderr: p.stderr, code: p.exitInfo?.code ?? null };
}

/** "1,5,10,0" → [1, 5, 10, 0]; exits 2 on anything that is not a non-negative number. */
function parseAccels(text: string): number[] {
  const out = text.split(',').map((x) => Number(x.trim()));
  const bad = out.filter((a) => !Number.isFinite(a) || a < 0);
  if (out.length === 0 || bad.length > 0) {
    process.stderr.write(`replay bench: accelerations must be numbers ≥ 0 (0 = --rate), e.g. 1,5,10,0; got ${text}\n`);
    process.exit(2);
  }
  return out;
}

function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

async function main(): Promise<void> {
  const why = requireRoot();
  if (why) {
    process.stderr.write(`replay bench skipped: ${why}\n`);
    process.exit(0);
  }
  const names = (process.argv[2] ?? 'http500,http2000,redis').split(',');
  const unknown = names.filter((n) => !WORKLOADS.some((w) => w.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`replay bench: unknown workload(s) ${unknown.join(', ')} (known: ${WORKLOADS.map((w) => w.name).join(', ')})\n`);
    process.exit(2);
  }
  const accels = parseAccels(process.argv[3] ?? '1,2,5,10');
  // BENCH_COPIER_ARGS: extra tcpcopy flags (e.g. '-r 1' to measure the fixed start-up cost).
  const extraArgs = (process.env.BENCH_COPIER_ARGS ?? '').split(' ').filter((a) => a !== '');
  const nodeFloorMb = emptyNodePeakRssMb();
  const rows: Row[] = [];
  for (const w of WORKLOADS.filter((x) => names.includes(x.name))) {
    const lab = await createLab({ name: `bench-${w.name}` });
    try {
      process.stderr.write(`recording ${w.name} …\n`);
      const rec = await recordLossless(lab, w.opts);
      const recorded = w.kind === 'http' ? rec.truth.httpRequests.length : rec.truth.redisKeys.length;
      const port = w.kind === 'http' ? 80 : 6379;
      const spanS = captureSpanS(rec.pcap);
      process.stderr.write(
        `  ${recorded} requests over ${rec.truth.connections.length} connections recorded in ${rec.truth.durationMs} ms (errors ${rec.truth.errors}); capture ${rec.captured} packets over ${spanS.toFixed(2)} s\n`,
      );
      const net = await twoHost(lab);
      // BENCH_TARGET_RPS=MASK: steer the target veth's receive processing to these CPUs (RPS), as
      // on a separate test server, instead of running it inside the copier's send syscall.
      const rps = process.env.BENCH_TARGET_RPS;
      if (rps !== undefined && rps !== '') await lab.exec(net.target, 'sh', ['-c', `echo ${rps} > /sys/class/net/${net.targetIf}/queues/rx-0/rps_cpus`]);
      let nginx: Nginx | null = null;
      let redis: Redis | null = null;
      if (w.kind === 'http') nginx = await startNginx(lab, net.target, { port, bind: net.targetIp, root: rec.httpRoot });
      else redis = await startRedis(lab, net.target, { port, bind: net.targetIp });
      const serverPid = nginx !== null ? nginx.proc.pid : (redis as Redis).proc.pid;
      // Before intercept starts: its NFQUEUE rule would take wrk's responses too.
      let ceiling = NaN;
      if (w.kind === 'http' && w.opts.http !== undefined) {
        const c = await measureCeiling(lab, net.copier, net.targetIp, port, w.opts.http, serverPid);
        if (c === null) process.stderr.write('  ceiling: wrk not installed (bash scripts/install-deps.sh --with-bench-tools)\n');
        else {
          ceiling = c.reqPerS;
          process.stderr.write(`  ceiling: ${c.note}\n`);
        }
      }
      const icpt: LabProcess = lab.spawn(net.target, process.execPath, [...NODE_FLAGS.intercept, ...interceptNodeArgs, cliPath('intercept'), '--install-rule', String(port), '--stats-interval', '0']);
      await icpt.waitFor(/intercept ready/, 'stderr', 15_000);
      for (const accel of accels) {
        const before = nginx?.readAccessLog().length ?? 0;
        if (redis !== null) await redis.cli(['FLUSHALL']);
        const cpu0 = procCpuS(icpt.pid);
        const srv0 = treeCpuS(serverPid);
        const tcp0 = tcpSnmp(serverPid);
        const ext0 = tcpExt(serverPid);
        const m0 = machineCpu();
        const out = await runCopier(lab, net.copier, ['-x', `${port}-${net.targetIp}:${port}`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', ...(accel === 0 ? ['--rate'] : ['-a', String(accel)]), ...extraArgs]);
        const m1 = machineCpu();
        // Late retransmissions and the last responses' interceptor work land in the counters too.
        await new Promise((r) => setTimeout(r, 500));
        const icptCpu = procCpuS(icpt.pid) - cpu0;
        const serverCpu = treeCpuS(serverPid) - srv0;
        const tcp1 = tcpSnmp(serverPid);
        const ext1 = tcpExt(serverPid);
        const seen = nginx !== null ? nginx.readAccessLog().length - before : await (redis as Redis).dbsize();
        const dur = Number(/replay (?:finished|stopped[^)]*\)) in ([0-9.]+) s/.exec(out.stdout)?.[1] ?? NaN);
        const cpuM = /resources: cpu ([0-9.]+) s \(user ([0-9.]+), system ([0-9.]+)\)/.exec(out.stdout);
        const cpu = Number(cpuM?.[1] ?? NaN);
        const userS = Number(cpuM?.[2] ?? NaN);
        const rss = Number(/peak RSS (\d+) MB/.exec(out.stdout)?.[1] ?? NaN);
        const sess = /sessions: (\d+) started.*?(?:; (.*))?$/m.exec(out.stdout);
        const packetsSent = parseSummary(out.stdout).packetsSent;
        if (out.code !== 0 || process.env.BENCH_VERBOSE) process.stderr.write(`  tcpcopy exit ${out.code}: ${out.stderr.slice(-1500)}\n${out.stdout}`);
        rows.push({
          workload: w.name,
          accel,
          recorded,
          seen,
          idealS: accel === 0 ? NaN : spanS / accel,
          wallS: dur,
          fidelity: (100 * seen) / recorded,
          reqPerS: seen / dur,
          ceiling,
          copierCpuPer10k: (cpu * 10_000) / Math.max(1, seen),
          copierUserPer10k: (userS * 10_000) / Math.max(1, seen),
          copierSysPer10k: (Number(cpuM?.[3] ?? NaN) * 10_000) / Math.max(1, seen),
          userUsPerPacket: packetsSent > 0 ? (userS * 1e6) / packetsSent : NaN,
          interceptCpuPer10k: (icptCpu * 10_000) / Math.max(1, seen),
          retransSegs: tcp1.retransSegs - tcp0.retransSegs,
          outSegs: tcp1.outSegs - tcp0.outSegs,
          copierRssMb: rss,
          interceptRssMb: procPeakRssMb(icpt.pid),
          completed: sess?.[2] ?? '',
          serverCpuPer10k: (serverCpu * 10_000) / Math.max(1, seen),
          busyCores: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * os.cpus().length,
        });
        const r = rows[rows.length - 1] as Row;
        process.stderr.write(
          `  ${accel === 0 ? '--rate' : `${accel}×`}: ${seen}/${recorded} (${r.fidelity.toFixed(2)}%) in ${dur} s (ideal ${fmt(r.idealS, 2)} s); ${packetsSent} packets sent; ` +
            `target retransmitted ${r.retransSegs} of ${r.outSegs} segments (${ext1.synRetrans - ext0.synRetrans} of them SYN-ACKs), ` +
            `listen queue overflows ${ext1.listenOverflows - ext0.listenOverflows}; ${r.completed}; machine busy ${r.busyCores.toFixed(2)} of ${os.cpus().length} cores\n`,
        );
      }
    } finally {
      await lab.destroy();
    }
  }
  const head = [
    'workload', 'accel', 'recorded', 'seen', 'ideal s', 'wall s', 'wall/ideal', 'fidelity %', 'req/s', 'target ceiling req/s', '% of ceiling',
    'tcpcopy CPU s/10k', 'tcpcopy user/sys s/10k', 'tcpcopy user µs/packet sent', 'intercept CPU s/10k', 'target retrans (% of segs)',
    'tcpcopy peak RSS MB', 'intercept peak RSS MB', 'server CPU s/10k', 'machine busy cores',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const cells = [
      r.workload,
      r.accel === 0 ? '--rate' : `${r.accel}×`,
      String(r.recorded),
      String(r.seen),
      fmt(r.idealS, 2),
      fmt(r.wallS, 2),
      fmt(r.wallS / r.idealS, 2),
      r.fidelity.toFixed(2),
      String(Math.round(r.reqPerS)),
      Number.isFinite(r.ceiling) ? String(Math.round(r.ceiling)) : '—',
      fmt((100 * r.reqPerS) / r.ceiling, 0),
      r.copierCpuPer10k.toFixed(2),
      `${r.copierUserPer10k.toFixed(2)}/${r.copierSysPer10k.toFixed(2)}`,
      fmt(r.userUsPerPacket, 2),
      r.interceptCpuPer10k.toFixed(2),
      `${r.retransSegs} (${fmt((100 * r.retransSegs) / Math.max(1, r.outSegs), 3)})`,
      String(r.copierRssMb),
      String(r.interceptRssMb),
      r.serverCpuPer10k.toFixed(2),
      r.busyCores.toFixed(2),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('', `peak RSS of an empty Node process here (node -e "setTimeout(…, 200)", VmHWM): ${nodeFloorMb} MB`);
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
