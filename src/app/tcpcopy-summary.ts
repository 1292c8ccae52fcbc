import { OUTCOMES, type Outcome } from '../core/session/types.js';
import type { EngineStats } from '../core/session/stats.js';
import { ipToString } from '../core/packet/ipv4.js';
import type { Transfer } from '../core/transfer.js';
import type { LiveTotals, SourceTotals } from './source/packet-source.js';

/*
 * The end-of-run summary and, when nothing could be established, the likely cause. Pure text
 * from counter snapshots, so it is unit-tested without a network.
 */

/** The source's totals (packets read, selected, why others were not) plus the run's own. */
export interface ReplayCounters extends Omit<SourceTotals, 'drops'> {
  durationUs: number;
  records: number;
  channelConnects: number;
  rawSent: number;
  rawRefused: number;
  rawRefusedBy: Record<string, number>;
  rawQueued: number;
  /** Process CPU (µs) and peak RSS (bytes), from process.resourceUsage(). */
  cpuUserUs: number;
  cpuSystemUs: number;
  maxRssBytes: number;
}

export interface SummaryInput {
  file: string;
  transfers: readonly Transfer[];
  filterText: string | null;
  engine: Readonly<EngineStats>;
  counters: ReplayCounters;
  /** Why the run stopped early (signal, memory, lost interceptor), or null. */
  stoppedBy: string | null;
  /** The run's seed (random unless --seed was given), printed so the run can be repeated. */
  seed?: number;
}

export interface Summary {
  lines: string[];
  /** Set when no session could be established: the cause and what to check. */
  failure: string | null;
  warnings: string[];
}

export function outcomeCount(st: Readonly<EngineStats>, o: Outcome): number {
  return st.outcomeCount(o);
}

export function transfersText(transfers: readonly Transfer[]): string {
  return transfers
    .map((t) => `${t.onlineIp === null ? '' : `${ipToString(t.onlineIp)}:`}${t.onlinePort}-${ipToString(t.targetIp)}:${t.targetPort}`)
    .join(',');
}

function secs(us: number): string {
  return `${(us / 1e6).toFixed(us < 10e6 ? 2 : 1)} s`;
}

function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function refusedText(by: Record<string, number>): string {
  return Object.entries(by)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** Targets as "ip:port" list for messages. */
function targetsText(transfers: readonly Transfer[]): string {
  return [...new Set(transfers.map((t) => `${ipToString(t.targetIp)}:${t.targetPort}`))].join(', ');
}

export function summarize(input: SummaryInput): Summary {
  const st = input.engine;
  const c = input.counters;
  const lines: string[] = [];
  const warnings: string[] = [];
  const head = input.stoppedBy === null ? 'replay finished' : `replay stopped (${input.stoppedBy})`;
  const live = c.live;
  lines.push(
    live === undefined
      ? `${head} in ${secs(c.durationUs)}: ${c.runsDone}/${c.runs} run(s) of ${input.file}, ${c.packetsRead} packets read, ${c.packetsUsed} used`
      : `${head} in ${secs(c.durationUs)}: ${liveText(live, c)}`,
  );
  const outcomes = OUTCOMES.map((o) => [o, outcomeCount(st, o)] as const).filter(([, n]) => n > 0);
  // Live, a session without its SYN is a connection that was already open when capture began
  // (or whose SYN was dropped): the engine picked it up mid-stream with a fake handshake.
  const noSyn = live === undefined ? `${st.sessionsWithoutSyn} without a captured SYN` : `${st.sessionsWithoutSyn} picked up mid-stream`;
  lines.push(
    `sessions: ${st.sessionsStarted} started (${noSyn}), ${st.connectionsEstablished} established, ${st.activeSessions} still open` +
      (outcomes.length > 0 ? `; ${outcomes.map(([o, n]) => `${o} ${n}`).join(', ')}` : ''),
  );
  lines.push(
    `packets sent: ${st.packetsSent} (data ${st.dataPacketsSent}, ${bytes(st.payloadBytesSent)}; SYN ${st.synsSent}, FIN ${st.finsSent}, RST ${st.rstsSent}, ACK ${st.acksSent}); ` +
      `retransmits ${st.retransmits} (fast ${st.fastRetransmits}, SYN ${st.synRetransmits}); kernel refused ${c.rawRefused}` +
      (c.rawRefused > 0 ? ` (${refusedText(c.rawRefusedBy)})` : ''),
  );
  lines.push(
    `requests ${st.turns}, responses: ${st.responsesWithData} data segments (${bytes(st.responseBytes)}), ${st.responseFins} FIN, ${st.responseRsts} RST; ` +
      `${c.records} interceptor records (${st.responsesUnmatched} for no session)`,
  );

  lines.push(
    `resources: cpu ${((c.cpuUserUs + c.cpuSystemUs) / 1e6).toFixed(2)} s (user ${(c.cpuUserUs / 1e6).toFixed(2)}, system ${(c.cpuSystemUs / 1e6).toFixed(2)}), ` +
      `peak RSS ${Math.round(c.maxRssBytes / 1048576)} MB, ${c.rawQueued} packets waited for the kernel`,
  );
  if (input.seed !== undefined) lines.push(`seed ${input.seed} (--seed ${input.seed} repeats this run's sampling and port choices)`);
  if (c.truncatedRecords > 0) {
    warnings.push(
      `${c.truncatedRecords} capture records were shorter than the packet on the wire (snap length): their payload is missing and they were not replayed; record with tcpdump -s 0`,
    );
  }
  if (live !== undefined) warnings.push(...liveWarnings(live));
  if (c.rawRefused > 0) {
    warnings.push(`the kernel refused ${c.rawRefused} packet(s) for good (${refusedText(c.rawRefusedBy)}): check firewall rules (EPERM) and routes (ENETUNREACH) on this host`);
  }
  const resets = outcomeCount(st, 'reset-by-target');
  if (st.connectionsEstablished > 0 && resets > 0) {
    warnings.push(
      `${resets} session(s) were reset by the target: a server that closes early, a limit on the server, or client ports still in use there (try -f to shift ports)`,
    );
  }
  const synTimeouts = outcomeCount(st, 'timeout-synack');
  if (st.connectionsEstablished > 0 && synTimeouts > 0) {
    warnings.push(`${synTimeouts} session(s) got no SYN-ACK: the target's listen backlog may be too small, or responses were lost (intercept's queue)`);
  }

  let failure: string | null = null;
  if (st.connectionsEstablished === 0) failure = diagnose(input);
  else if (st.dataPacketsSent === 0 && c.truncatedRecords > 0) {
    failure =
      `connections were opened but no request could be sent: the capture's data packets are cut short (${c.truncatedRecords} records shorter ` +
      'than on the wire, i.e. a small snap length); record with tcpdump -s 0';
  }
  return { lines, failure, warnings };
}

/** "captured on eth0 for 12.3 s, 5210 packets, 12 dropped (kernel 0, ring full 12, sink busy 0), 5198 used" */
function liveText(live: LiveTotals, c: ReplayCounters): string {
  const ring = live.dropsByReason['ring-full'];
  const busy = live.dropsByReason['sink-busy'];
  const dropped = ring + busy + (live.kernelDrops ?? 0);
  const parts = [`kernel ${live.kernelDrops ?? 'unknown'}`, `ring full ${ring}`, `sink busy ${busy}`];
  if (live.interfaceDrops !== null) parts.push(`interface ${live.interfaceDrops}`);
  const devs = live.devices.length === 1 && live.devices[0] === 'any' ? 'all interfaces (any)' : live.devices.join(', ');
  return (
    `captured on ${devs} for ${secs(live.capturingUs)}, ${c.packetsRead} packets, ${dropped} dropped (${parts.join(', ')}), ${c.packetsUsed} used` +
    (live.beforeStart > 0 ? `; ${live.beforeStart} arrived before the copier was ready` : '')
  );
}

function liveWarnings(live: LiveTotals): string[] {
  const out: string[] = [];
  const ring = live.dropsByReason['ring-full'];
  const busy = live.dropsByReason['sink-busy'];
  if (live.kernelDrops !== null && live.kernelDrops > 0) out.push(`the kernel dropped ${live.kernelDrops} captured packet(s): raise -B (libpcap's buffer)`);
  if (ring > 0) out.push(`${ring} captured packet(s) were dropped because the copier fell behind the traffic (ring full): raise -B, or copy a share with -r`);
  if (busy > 0) out.push(`${busy} captured packet(s) were dropped while this host's kernel pushed back on the raw socket (sink busy)`);
  if (live.kernelDrops === null) out.push(`kernel drops could not be counted: ${live.kernelDropsMissing ?? 'unknown reason'}`);
  return out;
}

function diagnose(input: SummaryInput): string {
  const st = input.engine;
  const c = input.counters;
  const targets = targetsText(input.transfers);
  const ports = [...new Set(input.transfers.map((t) => t.targetPort))].join(',');
  if (c.packetsUsed === 0 && c.live !== undefined) {
    return (
      `no client packet to -x ${transfersText(input.transfers)}${input.filterText === null ? '' : ` and -F "${input.filterText}"`} arrived on ${input.file} ` +
      `(${c.packetsRead} captured after start). Check the capture device (-i), the online port (and address) on the left of -x, and that clients were sending.`
    );
  }
  if (c.packetsUsed === 0) {
    const seen =
      c.unmatchedDestinations.length > 0
        ? `; most frequent TCP destinations in the file: ${c.unmatchedDestinations.map(([d, n]) => `${d} (${n})`).join(', ')}`
        : '';
    const filter = input.filterText === null ? '' : ` and -F "${input.filterText}"`;
    return (
      `no packet in ${input.file} matched -x ${transfersText(input.transfers)}${filter} ` +
      `(${c.packetsRead} packets read: ${c.nonIpv4} not IPv4, ${c.filteredOut} filtered out by -F, ${c.notMatched} not to an online port in -x)${seen}. ` +
      'Check the online port (and address) on the left of -x: it is the server port in the capture.'
    );
  }
  if (st.sessionsStarted === 0) {
    if (st.outcomeSampledOut > 0) return `every connection was sampled out by -r/-g (${st.outcomeSampledOut}); raise -r`;
    if (st.skippedNoSynPackets > 0) return `-O replays only connections whose SYN was captured, and the capture holds none (${st.skippedNoSynPackets} packets skipped)`;
    if (st.outcomeNoInterceptor > 0) return `no interceptor was connected when the sessions should start (${st.outcomeNoInterceptor}); check intercept on the test server, or drop -L`;
    if (st.outcomePortExhausted > 0) return `no free client port for the sessions (${st.outcomePortExhausted})`;
    return `the ${c.packetsUsed} matching packets started no session (${st.capturedForUnknown} belonged to no connection: the capture may start mid-connection without data)`;
  }
  if (c.records === 0) {
    return (
      `no interceptor records arrived (${st.synsSent} SYNs sent to ${targets}, ${c.rawRefused} refused by this host's kernel): ` +
      'intercept saw no response from the target. On the test server check the NFQUEUE rule for the service port ' +
      `(iptables -I OUTPUT -p tcp --sport ${ports} -j NFQUEUE --queue-num 0, or intercept --install-rule ${ports}), ` +
      'a route from the test server back to the client addresses (e.g. a default route via this host), rp_filter 0, ' +
      'and that the target address in -x is the test server where intercept runs.'
    );
  }
  if (st.responseRsts > 0 && st.responsesUnmatched < c.records) {
    return (
      `the target answered the SYNs with resets (${st.responseRsts} RST records): nothing listens on ${targets} (port closed or wrong -x target port), ` +
      'or the client tuples collide with connections the target still holds (port in use; try -f to shift ports).'
    );
  }
  if (st.responsesUnmatched >= c.records) {
    return (
      `${c.records} interceptor records arrived but none belonged to a session of this run: another copier may share the interceptor, ` +
      `or responses come from an address other than the -x target ${targets}.`
    );
  }
  return `${outcomeCount(st, 'timeout-synack')} session(s) got no SYN-ACK from ${targets} (SYNs sent ${st.synsSent}, retransmitted ${st.synRetransmits}).`;
}
