/**
 * Live capture cost: how many packets per second each capture backend takes (the `cap` package,
 * one JS call per packet, and the project's pcapbatch addon, one JS call per pcap_dispatch round),
 * and what each packet costs in CPU.
 *
 * A lab with two namespaces joined by a veth: tcpreplay sends a synthetic capture (client→server
 * TCP segments to port 80 with 200-byte payloads, plus 1 in 4 to another port that the filter
 * rejects) into one end; in the other namespace a child process captures:
 *   cap          cap's own per-packet cost: libpcap filter + memcpy + emit into JS, an empty callback
 *   pcap         the pcapbatch adapter alone: batches copied into a slab, an empty per-packet callback
 *   source-cap   the copier's LiveCaptureSource on cap: + link decode + -x selection + ring copy +
 *                feed() batches into a consumer that only counts (what the copier's engine gets)
 *   source-pcap  the same on the pcapbatch backend
 * at each rate (tcpreplay --pps, and --topspeed). Per row: packets/s offered and taken, CPU µs
 * per packet of the capturing process (user + system over the run), and drops: kernel
 * (PACKET_STATISTICS) and ring.
 *
 *   node dist/scripts/bench/capture.js [--packets 200000] [--rates 20000,50000,100000,200000,top] [--buffer MiB (-B, 64)]
 *     [--modes cap,pcap,source-cap,source-pcap] [--snap 65535 (-S; pcap backend only, cap's is fixed)]
 *     [--senders 1 (tcpreplay processes sending the capture at once: one cannot offer more than ~430k packets/s here)]
 *     [--latency 0 (--capture-latency ms; pcap backend only: 0 = immediate mode, else TPACKET_V3 blocks)]
 *   (child, internal: node capture.js --child MODE --dev IF --buffer MiB --snap N)
 * Note: immediate mode makes libpcap use TPACKET_V2 with every ring frame sized for the snap
 * length: with cap's fixed 65535, -B 16 holds about 250 packets, whatever their size.
 * Root; needs tcpreplay (bash scripts/install-deps.sh --with-bench-tools).
 */
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { LiveCaptureSource } from '../../src/app/source/live-capture-source.js';
import type { PacketConsumer } from '../../src/app/source/packet-source.js';
import { parseTransfers } from '../../src/core/config/copier.js';
import { parseIpv4, TCP_ACK, TCP_PSH } from '../../src/core/packet/index.js';
import { chooseCapture } from '../../src/io/open-capture.js';
import { PcapFileWriter } from '../../src/io/pcap-file.js';
import { createLab, requireRoot, type Lab } from '../../test/helpers/lab.js';
import { buildSegment } from '../../test/helpers/packet/build.js';

const { values: o } = parseArgs({
  options: {
    packets: { type: 'string', default: '200000' },
    rates: { type: 'string', default: '20000,50000,100000,200000,top' },
    buffer: { type: 'string', default: '64' },
    modes: { type: 'string', default: 'cap,pcap,source-cap,source-pcap' },
    snap: { type: 'string', default: '65535' },
    latency: { type: 'string', default: '0' },
    senders: { type: 'string', default: '1' },
    child: { type: 'string' },
    dev: { type: 'string' },
  },
});

interface ChildResult {
  mode: string;
  packets: number;
  cpuUs: number;
  activeUs: number;
  kernelDrops: number | null;
  ringDrops: number;
  /** pcap backend alone: packets per JS batch. */
  perBatch?: number;
}

const ip = (s: string): number => parseIpv4(s) as number;

/** The capturing side: runs until SIGTERM, then prints one JSON line. */
function child(mode: string, dev: string): void {
  let packets = 0;
  let first = 0;
  let last = 0;
  let cpuAtFirst: NodeJS.CpuUsage | null = null;
  const stamp = (): void => {
    last = performance.now();
    if (packets === 0) {
      first = last;
      cpuAtFirst = process.cpuUsage();
    }
  };
  let finish: () => ChildResult;
  const open = chooseCapture(mode.endsWith('pcap') ? 'pcap' : 'cap').open;
  const snapLen = Number(o.snap);
  if (!mode.startsWith('source')) {
    const h = open({
      device: dev,
      filter: 'tcp and (dst port 80)',
      bufferBytes: Number(o.buffer) << 20,
      snapLen,
      timeoutMs: Number(o.latency),
      onPacket: () => {
        stamp();
        packets++;
      },
    });
    finish = () => {
      const s = h.stats();
      // The pcap backend's addon counters say how much batching there was.
      const n = 'nativeStats' in h && typeof h.nativeStats === 'function' ? (h.nativeStats as () => { batches?: number; wakeups?: number })() : {};
      h.close();
      const perBatch = n.batches !== undefined && n.batches > 0 ? packets / n.batches : undefined;
      return { mode, packets, cpuUs: 0, activeUs: 0, kernelDrops: s.kernelDrops, ringDrops: 0, perBatch };
    };
  } else {
    const consumer: PacketConsumer = {
      accepting: true,
      packet: () => {
        stamp();
        packets++;
      },
    };
    let queued = false;
    const src: LiveCaptureSource = LiveCaptureSource.open({
      devices: [dev],
      transfers: parseTransfers('80-10.9.9.9:80'),
      filterText: null,
      bufferBytes: Number(o.buffer) << 20,
      snapLen,
      captureLatencyMs: Number(o.latency),
      open,
      clock: () => (performance.timeOrigin + performance.now()) * 1000,
      events: {
        // The copier's shape: one setImmediate per wake, feed() until it is not 'more'.
        wake: () => {
          if (queued) return;
          queued = true;
          setImmediate(function run() {
            queued = false;
            if (src.feed(0, consumer) === 'more') {
              queued = true;
              setImmediate(run);
            }
          });
        },
        info: () => undefined,
        ended: () => undefined,
        error: (m) => process.stderr.write(`capture error: ${m}\n`),
      },
    });
    src.start(0);
    finish = () => {
      const t = src.totals();
      src.close();
      const live = t.live;
      return { mode, packets, cpuUs: 0, activeUs: 0, kernelDrops: live?.kernelDrops ?? null, ringDrops: (live?.dropsByReason['ring-full'] ?? 0) + (live?.dropsByReason['sink-busy'] ?? 0) };
    };
  }
  process.stderr.write('capturing\n');
  process.on('SIGTERM', () => {
    const r = finish();
    const cpu = cpuAtFirst === null ? { user: 0, system: 0 } : process.cpuUsage(cpuAtFirst);
    r.cpuUs = cpu.user + cpu.system;
    r.activeUs = Math.round((last - first) * 1000);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  });
}

function writeCapture(path: string, n: number): number {
  const w = new PcapFileWriter(path, { linkType: 1, snaplen: 65535 });
  const eth = Buffer.from('020000000002020000000001' + '0800', 'hex');
  const payload = Buffer.alloc(200, 0x61);
  let toPort80 = 0;
  for (let i = 0; i < n; i++) {
    const other = i % 4 === 3;
    if (!other) toPort80++;
    const seg = buildSegment({
      src: ip('10.77.0.1') + (i % 200),
      dst: ip('10.77.1.1'),
      srcPort: 20000 + (i % 5000),
      dstPort: other ? 8443 : 80,
      seq: i * 200,
      ack: 1,
      flags: TCP_ACK | TCP_PSH,
      window: 500,
      ipId: i & 0xffff,
      payload,
    });
    w.write(Math.floor(i / 1000), (i % 1000) * 1000, Buffer.concat([eth, seg]));
  }
  w.close();
  return toPort80;
}

async function measure(lab: Lab, inject: string, injectIf: string, capNs: string, capIf: string, file: string, mode: string, rate: string): Promise<ChildResult & { offeredPps: number }> {
  const me = fileURLToPath(import.meta.url);
  const p = lab.spawn(capNs, process.execPath, [me, '--child', mode, '--dev', capIf, '--buffer', o.buffer ?? '64', '--snap', o.snap ?? '65535', '--latency', o.latency ?? '0']);
  await p.waitFor(/capturing/, 'stderr', 10_000);
  const speed = rate === 'top' ? ['--topspeed'] : ['--pps', rate];
  // -K: the capture is read into memory first, so the sender's own disk reads do not set the pace.
  const runs = await Promise.all(
    Array.from({ length: senders }, () => lab.exec(inject, 'tcpreplay', ['-q', '-K', '-i', injectIf, ...speed, file], { timeoutMs: 300_000 })),
  );
  let sent = 0;
  let seconds = 0;
  for (const r of runs) {
    const m = /Actual: (\d+) packets .* in ([\d.]+) seconds/.exec(r.stdout);
    if (m === null) continue;
    sent += Number(m[1]);
    seconds = Math.max(seconds, Number(m[2]));
  }
  const offeredPps = seconds > 0 ? sent / seconds : 0;
  await new Promise((res) => setTimeout(res, 500));
  p.signal('SIGTERM');
  await p.exited;
  const line = p.stdout.trim().split('\n').pop() ?? '{}';
  return { ...(JSON.parse(line) as ChildResult), offeredPps };
}

const senders = Math.max(1, Number(o.senders));

async function main(): Promise<void> {
  const skip = requireRoot();
  if (skip) throw new Error(skip);
  const lab = await createLab({ name: 'bench-capture' });
  try {
    const inject = await lab.addNamespace('inject');
    const capNs = await lab.addNamespace('capture');
    const veth = await lab.addVeth(inject, capNs);
    const file = join(lab.tmpDir, 'bench.pcap');
    const n = Number(o.packets);
    const wanted = writeCapture(file, n) * senders;
    const rows: string[] = [];
    rows.push(`${n * senders} packets offered per run (${senders} sender(s)), ${wanted} of them to port 80 (the rest rejected by the filter); -B ${o.buffer} MiB, -S ${o.snap}, --capture-latency ${o.latency}; veth, 2 shared cores`);
    rows.push('| mode | offered pps | taken pps (port 80) | taken | CPU µs/packet | kernel drops | ring drops |');
    rows.push('|---|---|---|---|---|---|---|');
    for (const rate of (o.rates ?? '').split(',')) {
      for (const mode of (o.modes ?? '').split(',')) {
        const r = await measure(lab, inject, veth.a, capNs, veth.b, file, mode, rate);
        const pps = r.activeUs > 0 ? Math.round(r.packets / (r.activeUs / 1e6)) : 0;
        const perPkt = r.packets > 0 ? (r.cpuUs / r.packets).toFixed(2) : '-';
        rows.push(`| ${mode} | ${rate === 'top' ? `top (${Math.round(r.offeredPps)})` : rate} | ${pps} | ${r.packets}/${wanted} | ${perPkt} | ${r.kernelDrops ?? 'unknown'} | ${r.ringDrops} |`);
        if (r.perBatch !== undefined) rows.push(`|  ↳ ${r.perBatch.toFixed(2)} packets per JS batch | | | | | | |`);
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await lab.destroy();
  }
}

if (o.child !== undefined) child(o.child, o.dev ?? 'any');
else await main();
