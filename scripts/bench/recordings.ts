/**
 * Recordings in the stream store (NATS JetStream): record throughput and replay from the store.
 *
 * The live-copy lab of docs/LAB.md (client ns ── online ns ── target ns) with a real
 * `nats-server -js` (file storage in the lab's temp dir) in the online namespace. Part 1: per rate
 * of the online benchmark (online.ts's open-loop generator, one request per connection), a fresh
 * record-only tcpcopy (`--record nats://…/bench?host=web1 --task rRATE --record-responses`)
 * captures ~`--seconds` of load, after a control run recording the same load to a pcapng file
 * (`--record PATH`: what the capture alone loses on this box); per row: frames captured, stored,
 * store drops by reason, kernel drops, stored packets/s and MB/s over the load's duration, and the
 * recorder's CPU (utime+stime over the load, start-up excluded) as % of one core. Part 2: the last rate's task is exported to pcapng
 * (`--export`), then replayed at each `--accel` from the store (`-i nats://…?task=…`) and from the
 * file, into the target's nginx through intercept (after one warm-up replay; two rounds in
 * alternating order, the faster run counts): wall s (tcpcopy's run), requests the target logged (fidelity against the online log), achieved req/s, store ÷ file, and the CPU the
 * nats-server (on the same 2 cores as the replaying copier here) spent meanwhile.
 *
 *   node dist/scripts/bench/recordings.js [--rates 500,1000,2000,3000,4000] [--seconds 5] [--accel 1,5] [--aliases 50]
 * Root; needs /usr/sbin/nats-server (scripts/install-deps.sh --with-test-tools).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLab, requireRoot } from '../../test/helpers/lab.js';
import { cliPath } from '../../test/helpers/paths.js';
import { startNginx } from '../../test/helpers/servers.js';
import { liveNet } from '../../test/integration/live-lab.js';
import { runTcpcopy, startIntercept } from '../../test/integration/replay-lab.js';
import { requireNats, startNats, startStoreRecorder, stopRecorder } from '../../test/integration/store-lab.js';
import { cpuMs as cpuSplit, load, LOADGEN, paths, settle } from './live-load.js';

const cpuMs = (pid: number): number => {
  const c = cpuSplit(pid);
  return c.user + c.sys;
};

const { values: o } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000,2000,3000,4000' },
    seconds: { type: 'string', default: '5' },
    accel: { type: 'string', default: '1,5' },
    aliases: { type: 'string', default: '50' },
  },
});


async function main(): Promise<void> {
  const skip = requireRoot() || requireNats();
  if (skip) throw new Error(skip);
  const ms = Number(o.seconds) * 1000;
  const lab = await createLab({ name: 'bench-recordings' });
  try {
    const net = await liveNet(lab, Number(o.aliases));
    await lab.sysctl(net.client, { 'net.ipv4.ip_local_port_range': '10000 65000', 'net.ipv4.tcp_tw_reuse': '1' });
    const nats = await startNats(lab, net.online);
    const store = `nats://127.0.0.1:${nats.port}/bench`;
    const x = `80-${net.targetIp}:80`;
    const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
    const file = join(lab.tmpDir, 'loadgen.mjs');
    writeFileSync(file, LOADGEN);
    const out: string[] = [
      `Recording: ${o.seconds} s per rate, HTTP/1.1 GET with Connection: close from ${o.aliases} client addresses, both directions recorded (--record-responses); nats-server ${'2.9'} -js, file storage, same host; veths, 2 shared cores`,
      '| offered conn/s | recorded to | achieved | frames captured | stored | store drops (away/busy/error) | kernel drops | stored packets/s | stored MB/s | recorder CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    let lastTask = '';
    let lastPrefix = '';
    for (const rate of (o.rates ?? '').split(',').map(Number)) {
      // The same capture into a pcapng file first: the control row (what capture alone loses here).
      for (const sink of ['pcapng file', 'store'] as const) {
        const task = `r${rate}`;
        const prefix = `${sink === 'store' ? 'rec' : 'file'}${rate}`;
        const where = sink === 'store' ? [`${store}?host=web1`, '--task', task] : [join(lab.tmpDir, `file${rate}`)];
        const rec = await startStoreRecorder(lab, net.online, net.onlineIf, where[0] as string, ['-x', x, '--record-responses', ...where.slice(1)]);
        const c0 = cpuMs(rec.pid);
        const t0 = Date.now();
        const res = await load(lab, net, file, rate, ms, prefix);
        await new Promise((r) => setTimeout(r, 300));
        const c1 = cpuMs(rec.pid);
        const wallMs = Date.now() - t0;
        const e = (await stopRecorder(rec, 60_000)).stderr;
        const kernel = /kernel drops (\S+)/.exec(e)?.[1] ?? '?';
        const cpu = (((c1 - c0) / wallMs) * 100).toFixed(1);
        if (sink === 'store') {
          const m = /(\d+) frames captured, (\d+) stored in \S+ \((\d+) bytes/.exec(e);
          const drops = /not stored: store-away (\d+), store-busy (\d+), store-error (\d+)/.exec(e);
          const stored = Number(m?.[2] ?? NaN);
          out.push(
            `| ${rate} | store | ${res.achieved.toFixed(0)} | ${m?.[1] ?? '?'} | ${stored} | ${drops ? `${drops[1]}/${drops[2]}/${drops[3]}` : '?'} | ${kernel} | ` +
              `${(stored / (ms / 1000)).toFixed(0)} | ${(Number(m?.[3]) / 1e6 / (ms / 1000)).toFixed(2)} | ${cpu} |`,
          );
          lastTask = task;
          lastPrefix = prefix;
        } else {
          const m = /recording: (\d+) packets, (\d+) bytes/.exec(e);
          const n = Number(m?.[1] ?? NaN);
          out.push(`| ${rate} | pcapng file | ${res.achieved.toFixed(0)} | ${n} | ${n} | - | ${kernel} | ${(n / (ms / 1000)).toFixed(0)} | ${(Number(m?.[2]) / 1e6 / (ms / 1000)).toFixed(2)} | ${cpu} |`);
        }
        process.stderr.write(`${out[out.length - 1]}\n`);
      }
    }

    // Part 2: the last task from the store and from the same packets in a pcapng file.
    const pcap = join(lab.tmpDir, `${lastTask}.pcapng`);
    await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), '-i', `${store}?task=${lastTask}`, '--export', pcap]);
    const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
    await startIntercept(lab, net.target, [80]);
    const recorded = paths(online, lastPrefix);
    out.push(
      '',
      `Replay of task ${lastTask} (${recorded.length} requests recorded, one per connection) into nginx through intercept, from the store and from the same packets exported to pcapng; after one warm-up replay, two rounds in alternating order, the faster run of each (fidelity: the lower of the two)`,
      '| -a | input | wall s | requests at the target | fidelity | achieved req/s | store ÷ file (req/s) | nats-server CPU s |',
      '|---|---|---|---|---|---|---|---|',
    );
    const inputs = { store: `${store}?task=${lastTask}`, 'pcapng file': pcap } as const;
    type Input = keyof typeof inputs;
    const replayOnce = async (name: Input, accel: string): Promise<{ wall: number; found: number; natsS: number }> => {
      const before = target.readAccessLog().length;
      const n0 = cpuMs(nats.proc.pid);
      const run = await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', inputs[name], '-a', accel, '--quiet', '--end-grace', '1000', '--stats-interval', '0'], 300_000);
      await settle(() => target.readAccessLog().length - before, recorded.length);
      const got = new Set(target.readAccessLog().slice(before).map((l) => l.path));
      const r = { wall: run.ms / 1000, found: recorded.filter((p) => got.has(p)).length, natsS: (cpuMs(nats.proc.pid) - n0) / 1000 };
      process.stderr.write(`  -a ${accel} ${name}: ${r.wall.toFixed(2)} s, ${r.found} found${run.code === 0 ? '' : ` (exit ${run.code})`}; ${/replay finished in .*$/m.exec(run.stdout)?.[0] ?? ''}\n`);
      return r;
    };
    // A warm-up replay (not counted): the first replay into a fresh target pays for its cold start.
    await replayOnce('pcapng file', '5');
    for (const accel of (o.accel ?? '').split(',')) {
      // Two rounds in alternating order; the faster run of each input counts, the lower fidelity shows.
      const best: Record<Input, { wall: number; found: number; natsS: number }> = {
        store: { wall: Infinity, found: Infinity, natsS: 0 },
        'pcapng file': { wall: Infinity, found: Infinity, natsS: 0 },
      };
      for (const order of [['store', 'pcapng file'], ['pcapng file', 'store']] as const) {
        for (const name of order) {
          const r = await replayOnce(name, accel);
          const b = best[name];
          if (r.wall < b.wall) {
            b.wall = r.wall;
            b.natsS = r.natsS;
          }
          b.found = Math.min(b.found, r.found);
        }
      }
      for (const name of ['store', 'pcapng file'] as const) {
        const b = best[name];
        const ratio = name === 'store' ? '' : `${((best.store.found / best.store.wall / (best['pcapng file'].found / best['pcapng file'].wall)) * 100).toFixed(1)}%`;
        out.push(`| ${accel} | ${name} | ${b.wall.toFixed(2)} | ${b.found} | ${((b.found / recorded.length) * 100).toFixed(2)}% | ${(b.found / b.wall).toFixed(0)} | ${ratio} | ${b.natsS.toFixed(2)} |`);
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await lab.destroy();
  }
}

await main();
