// Shared set-up of the replay tests (issue 5): a two-host lab (copier ns ── target ns) next to the
// recording pair, our intercept in the target namespace with its NFQUEUE rule, and tcpcopy runs
// as real processes whose summary is parsed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NODE_FLAGS, cliPath } from '../helpers/paths.js';
import { recordingPair, twoHost, type Lab, type LabProcess, type TwoHost } from '../helpers/lab.js';
import { record, type RecordOptions, type Recording } from '../helpers/recorder.js';

export interface TcpcopyRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  summary: ReplaySummary;
}

export interface ReplaySummary {
  started: number;
  established: number;
  stillOpen: number;
  outcomes: Record<string, number>;
  packetsSent: number;
  retransmits: number;
  requests: number;
  records: number;
}

/** Parses tcpcopy's summary lines (src/app/tcpcopy-summary.ts). */
export function parseSummary(stdout: string): ReplaySummary {
  const s: ReplaySummary = { started: -1, established: -1, stillOpen: -1, outcomes: {}, packetsSent: -1, retransmits: -1, requests: -1, records: -1 };
  const sess = /sessions: (\d+) started \([^)]*\), (\d+) established, (\d+) still open(?:; (.*))?$/m.exec(stdout);
  if (sess) {
    s.started = Number(sess[1]);
    s.established = Number(sess[2]);
    s.stillOpen = Number(sess[3]);
    for (const part of (sess[4] ?? '').split(', ')) {
      const m = /^([a-z-]+) (\d+)$/.exec(part.trim());
      if (m) s.outcomes[m[1] as string] = Number(m[2]);
    }
  }
  const sent = /packets sent: (\d+) .*retransmits (\d+)/m.exec(stdout);
  if (sent) {
    s.packetsSent = Number(sent[1]);
    s.retransmits = Number(sent[2]);
  }
  const req = /requests (\d+), responses: .* (\d+) interceptor records/m.exec(stdout);
  if (req) {
    s.requests = Number(req[1]);
    s.records = Number(req[2]);
  }
  return s;
}

/** Our intercept in `ns`, queueing responses from `ports` itself (--install-rule). */
export async function startIntercept(lab: Lab, ns: string, ports: number[], extra: string[] = []): Promise<LabProcess> {
  const start = async (): Promise<LabProcess> => {
    const p = lab.spawn(ns, process.execPath, [...NODE_FLAGS.intercept, cliPath('intercept'), '--install-rule', ports.join(','), '--stats-interval', '0', ...extra]);
    await p.waitFor(/intercept ready/, 'stderr', 15_000);
    return p;
  };
  try {
    return await start();
  } catch (err) {
    // One retry: dist/ is shared with engineers who rebuild it while tests run.
    process.stderr.write(`intercept did not start, retrying once: ${(err as Error).message}\n`);
    await new Promise((r) => setTimeout(r, 1000));
    return start();
  }
}

/** Runs tcpcopy in `ns` to completion (killed after timeoutMs). */
export async function runTcpcopy(lab: Lab, ns: string, args: string[], timeoutMs = 90_000): Promise<TcpcopyRun> {
  const t0 = Date.now();
  const p = lab.spawn(ns, process.execPath, [...NODE_FLAGS.tcpcopy, cliPath('tcpcopy'), ...args]);
  let timer: NodeJS.Timeout | undefined;
  const res = await Promise.race([p.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
  clearTimeout(timer);
  if (res === null) {
    await p.stop('SIGTERM', 3000);
    assert.fail(`tcpcopy did not finish within ${timeoutMs} ms\nstdout:\n${p.stdout.slice(-3000)}\nstderr:\n${p.stderr.slice(-3000)}`);
  }
  return { code: res.code, signal: res.signal, stdout: p.stdout, stderr: p.stderr, ms: Date.now() - t0, summary: parseSummary(p.stdout) };
}

/** Two-host replay topology with intercept running for `ports`. */
export async function replayTarget(lab: Lab, ports: number[], interceptArgs: string[] = []): Promise<{ net: TwoHost; intercept: LabProcess }> {
  const net = await twoHost(lab);
  const intercept = await startIntercept(lab, net.target, ports, interceptArgs);
  return { net, intercept };
}

/** Multiset difference helper: items of `a` not matched one-to-one in `b`. */
export function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const m = new Map<string, number>();
  for (const x of b) m.set(x, (m.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = m.get(x) ?? 0;
    if (n > 0) m.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

export function describeRun(r: TcpcopyRun): string {
  return `exit ${r.code} in ${r.ms} ms\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-4000)}`;
}

/**
 * record() with a second, loss-free capture. The recorder's tcpdump runs with `-s 0` in immediate
 * mode, where libpcap sizes every ring frame for a 256 KiB snap length: its default 2 MiB buffer
 * then holds a handful of packets and bursts are dropped (seen: 5–10% of a Redis recording). This
 * capture uses a 4 KiB snap length (offload is off, so frames are ≤ 1514 bytes) and a 128 MiB buffer; it fails if it
 * still lost anything, since a replay cannot bring back packets the capture never had.
 */
export async function recordLossless(lab: Lab, opts: RecordOptions & { aliases: number }): Promise<Recording> {
  const pair = await recordingPair(lab, { aliases: opts.aliases, offload: opts.offload ?? false });
  const ports = [opts.http ? (opts.http.port ?? 80) : 0, opts.redis ? (opts.redis.port ?? 6379) : 0, opts.greeting ? (opts.greeting.port ?? 2525) : 0].filter((p) => p > 0);
  const file = join(lab.tmpDir, `replay-capture-${Date.now()}.pcap`);
  const snaplen = opts.offload === true ? 65535 : 4096;
  const dump = lab.spawn(pair.server, 'tcpdump', [
    '-i', pair.serverIf, '-n', '-U', '--immediate-mode', '-B', '131072', '-s', String(snaplen), '-Z', 'root', '-w', file,
    `tcp and (${ports.map((p) => `port ${p}`).join(' or ')})`,
  ]);
  await dump.waitFor(/listening on/, 'stderr', 10_000);
  // record()'s own capture fails the recording on drops too, so it gets the same snap length.
  const rec = await record(lab, { snaplen, ...opts, pair });
  await new Promise((r) => setTimeout(r, 200));
  await dump.stop('SIGINT', 5000);
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(dump.stderr)?.[1] ?? NaN);
  assert.equal(dropped, 0, `the recording capture lost packets (not a replay problem): ${dump.stderr.trim()}`);
  return { ...rec, pcap: file, tcpdumpSummary: dump.stderr, captured: Number(/(\d+) packets? captured/.exec(dump.stderr)?.[1] ?? NaN) };
}
