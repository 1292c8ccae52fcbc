/**
 * Replay-report overhead benchmark (root, bounded, namespaces): records one HTTP workload in both
 * directions (nginx serving static files of 0.4–32 KB; short and keep-alive connections from many
 * client addresses), then replays it into a fresh nginx through our intercept (started with
 * --forward-payload all) at each acceleration, alternately without and with `--report` (+ the
 * HTML page), REPEAT times each, and prints a markdown table: requests recorded and seen by the
 * target, fidelity, tcpcopy CPU (user + system) and peak RSS from its own summary, and the
 * report's CPU overhead against the median run without it.
 *
 *   node dist/scripts/bench/report.js [accel,…] [connections]     (default 1,5 and 20000)
 */
import { join } from 'node:path';
import { createLab, requireRoot, twoHost } from '../../test/helpers/lab.js';
import { NODE_FLAGS, cliPath } from '../../test/helpers/paths.js';
import { startNginx } from '../../test/helpers/servers.js';
import { recordLossless } from '../../test/integration/replay-lab.js';

/** Runs per configuration (BENCH_REPEAT); medians are shown. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

interface Run {
  seen: number;
  cpuS: number;
  userS: number;
  sysS: number;
  rssMb: number;
  wallS: number;
  exchanges: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const why = requireRoot();
  if (why) {
    process.stderr.write(`report bench skipped: ${why}\n`);
    process.exit(0);
  }
  const accels = (process.argv[2] ?? '1,5').split(',').map(Number);
  const connections = Number(process.argv[3] ?? 20000);
  if (accels.some((a) => !Number.isFinite(a) || a < 1) || !Number.isInteger(connections) || connections < 10 || connections > 20_000) {
    process.stderr.write('report bench: usage: report.js [accel≥1,…] [connections 10..20000]\n');
    process.exit(2);
  }
  const lab = await createLab({ name: 'bench-report' });
  const lines: string[] = [];
  try {
    process.stderr.write(`recording ${connections} connections …\n`);
    const rec = await recordLossless(lab, {
      aliases: 100,
      http: { connections, requestsPerConn: [1, 3, 5, 1, 2], bodySizes: [400, 2000, 8000, 32_000] },
      rate: 500,
      concurrency: 128,
    });
    const recorded = rec.truth.httpRequests.length;
    const net = await twoHost(lab);
    const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp, root: rec.httpRoot });
    const icpt = lab.spawn(net.target, process.execPath, [...NODE_FLAGS.intercept, cliPath('intercept'), '--install-rule', '80', '--stats-interval', '0', '--forward-payload', 'all']);
    await icpt.waitFor(/intercept ready/, 'stderr', 15_000);
    const rows: { accel: number; report: boolean; runs: Run[] }[] = [];
    for (const accel of accels) {
      const without: Run[] = [];
      const withReport: Run[] = [];
      for (let i = 0; i < REPEAT; i++) {
        for (const report of [false, true]) {
          const before = nginx.readAccessLog().length;
          const json = join(lab.tmpDir, `bench-report-${accel}-${i}.json`);
          // BENCH_REPORT_ARGS: more report flags (e.g. '--report-bytes 4096').
          const more = (process.env.BENCH_REPORT_ARGS ?? '').split(' ').filter((a) => a !== '');
          const extra = report ? ['--report', json, '--report-html', json.replace(/json$/, 'html'), ...more] : [];
          // TCPCOPY_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' to profile the copier.
          const nodeArgs = (process.env.TCPCOPY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
          const p = lab.spawn(net.copier, process.execPath, [...NODE_FLAGS.tcpcopy, ...nodeArgs, cliPath('tcpcopy'), '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '-a', String(accel), ...extra]);
          let timer: NodeJS.Timeout | undefined;
          const r = await Promise.race([p.exited, new Promise<null>((res) => (timer = setTimeout(() => res(null), 180_000)))]);
          clearTimeout(timer);
          if (r === null) await p.stop('SIGTERM', 5000);
          await new Promise((res) => setTimeout(res, 300));
          const cpu = /resources: cpu ([0-9.]+) s \(user ([0-9.]+), system ([0-9.]+)\)/.exec(p.stdout);
          const run: Run = {
            seen: nginx.readAccessLog().length - before,
            cpuS: Number(cpu?.[1] ?? NaN),
            userS: Number(cpu?.[2] ?? NaN),
            sysS: Number(cpu?.[3] ?? NaN),
            rssMb: Number(/peak RSS (\d+) MB/.exec(p.stdout)?.[1] ?? NaN),
            wallS: Number(/replay (?:finished|stopped[^)]*\)) in ([0-9.]+) s/.exec(p.stdout)?.[1] ?? NaN),
            exchanges: Number(/: (\d+) requests compared/.exec(p.stdout)?.[1] ?? 0),
          };
          if (p.exitInfo?.code !== 0) process.stderr.write(`  tcpcopy exit ${p.exitInfo?.code}: ${p.stderr.slice(-1500)}\n`);
          process.stderr.write(`  ${accel}× ${report ? 'with' : 'without'} --report: ${run.seen}/${recorded} seen, cpu ${run.cpuS} s, rss ${run.rssMb} MB, ${run.wallS} s\n`);
          (report ? withReport : without).push(run);
        }
      }
      rows.push({ accel, report: false, runs: without }, { accel, report: true, runs: withReport });
    }
    const head = ['accel', '--report', 'recorded', 'seen (median)', 'fidelity %', 'requests compared', 'tcpcopy CPU s (median)', 'user/sys s', 'CPU vs without', 'peak RSS MB (median)', 'wall s'];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const row of rows) {
      const base = rows.find((x) => x.accel === row.accel && !x.report) as (typeof rows)[number];
      const cpu = median(row.runs.map((r) => r.cpuS));
      const seen = median(row.runs.map((r) => r.seen));
      lines.push(
        `| ${row.accel}× | ${row.report ? 'yes' : 'no'} | ${recorded} | ${seen} | ${((100 * seen) / recorded).toFixed(2)} | ${row.report ? median(row.runs.map((r) => r.exchanges)) : '—'} | ` +
          `${cpu.toFixed(2)} | ${median(row.runs.map((r) => r.userS)).toFixed(2)}/${median(row.runs.map((r) => r.sysS)).toFixed(2)} | ` +
          `${row.report ? `${(100 * (cpu / median(base.runs.map((r) => r.cpuS))) - 100).toFixed(1)} %` : '—'} | ${median(row.runs.map((r) => r.rssMb))} | ${median(row.runs.map((r) => r.wallS)).toFixed(2)} |`,
      );
    }
  } finally {
    await lab.destroy();
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
