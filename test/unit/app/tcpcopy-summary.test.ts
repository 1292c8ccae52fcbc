import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, type ReplayCounters, type SummaryInput } from '../../../src/app/tcpcopy-summary.js';
import { EngineStats } from '../../../src/core/session/stats.js';
import { parseTransfers } from '../../../src/core/config/copier.js';

function counters(over: Partial<ReplayCounters> = {}): ReplayCounters {
  return {
    packetsRead: 100, packetsUsed: 50, nonIpv4: 0, filteredOut: 0, notMatched: 50, truncatedRecords: 0, runsDone: 1, runs: 1,
    unmatchedDestinations: [], durationUs: 2_500_000, records: 0, channelConnects: 2, rawSent: 0, rawRefused: 0, rawRefusedBy: {}, rawQueued: 0, cpuUserUs: 1_500_000, cpuSystemUs: 500_000, maxRssBytes: 80 * 1048576,
    ...over,
  };
}

function input(st: EngineStats, c: ReplayCounters): SummaryInput {
  return { file: 'a.pcap', transfers: parseTransfers('80-10.0.0.2:8080'), filterText: null, engine: st, counters: c, stoppedBy: null };
}

test('summary lines: outcomes, packets, requests; no failure when something was established', () => {
  const st = new EngineStats();
  st.sessionsStarted = 10;
  st.connectionsEstablished = 10;
  st.outcomeCompleted = 9;
  st.outcomeResetByTarget = 1;
  st.packetsSent = 77;
  st.retransmits = 3;
  st.turns = 20;
  st.responsesWithData = 21;
  const s = summarize(input(st, counters({ records: 40 })));
  assert.equal(s.failure, null);
  assert.match(s.lines[0]!, /^replay finished in 2\.50 s: 1\/1 run\(s\) of a\.pcap, 100 packets read, 50 used$/);
  assert.match(s.lines[1]!, /10 started .* 10 established, 0 still open; completed 9, reset-by-target 1$/);
  assert.match(s.lines[2]!, /^packets sent: 77 .*retransmits 3 /);
  assert.match(s.lines[3]!, /^requests 20, responses: 21 data segments/);
  assert.match(s.lines[4]!, /^resources: cpu 2\.00 s \(user 1\.50, system 0\.50\), peak RSS 80 MB/);
  assert.ok(s.warnings.some((w) => /1 session\(s\) were reset by the target/.test(w)));
});

test('diagnosis: nothing matched -x names what the file holds', () => {
  const st = new EngineStats();
  const s = summarize(input(st, counters({ packetsUsed: 0, notMatched: 100, unmatchedDestinations: [['192.0.2.1:80', 60]] })));
  assert.match(s.failure ?? '', /^no packet in a\.pcap matched -x 80-10\.0\.0\.2:8080 .*192\.0\.2\.1:80 \(60\)/);
});

test('diagnosis: no records means rule or route missing on the test server', () => {
  const st = new EngineStats();
  st.sessionsStarted = 5;
  st.synsSent = 5;
  const s = summarize(input(st, counters()));
  assert.match(s.failure ?? '', /no interceptor records arrived .*--sport 8080 -j NFQUEUE.*route from the test server back/);
});

test('diagnosis: RST records mean a closed port or tuples in use', () => {
  const st = new EngineStats();
  st.sessionsStarted = 5;
  st.responseRsts = 5;
  st.responses = 5;
  const s = summarize(input(st, counters({ records: 5 })));
  assert.match(s.failure ?? '', /answered the SYNs with resets .*nothing listens on 10\.0\.0\.2:8080/);
});

test('diagnosis: sampled out, records for nobody, SYN-ACK timeouts', () => {
  const st = new EngineStats();
  st.outcomeSampledOut = 4;
  assert.match(summarize(input(st, counters())).failure ?? '', /sampled out by -r/);
  const st2 = new EngineStats();
  st2.sessionsStarted = 3;
  st2.responsesUnmatched = 9;
  assert.match(summarize(input(st2, counters({ records: 9 }))).failure ?? '', /none belonged to a session of this run/);
  const st3 = new EngineStats();
  st3.sessionsStarted = 3;
  st3.outcomeTimeoutSynAck = 3;
  st3.responses = 2;
  assert.match(summarize(input(st3, counters({ records: 2 }))).failure ?? '', /3 session\(s\) got no SYN-ACK/);
});

test('warnings: truncated records and kernel refusals', () => {
  const st = new EngineStats();
  st.connectionsEstablished = 1;
  const s = summarize(input(st, counters({ truncatedRecords: 3, rawRefused: 2, rawRefusedBy: { EPERM: 2 } })));
  assert.ok(s.warnings.some((w) => /3 capture records were shorter/.test(w)));
  assert.ok(s.warnings.some((w) => /refused 2 packet\(s\) for good \(EPERM 2\)/.test(w)));
});

test('diagnosis: a snap-length capture opens connections but sends no request', () => {
  const st = new EngineStats();
  st.sessionsStarted = 4;
  st.connectionsEstablished = 4;
  const s = summarize(input(st, counters({ truncatedRecords: 12, records: 4 })));
  assert.match(s.failure ?? '', /no request could be sent: .*12 records shorter .*tcpdump -s 0/);
});

test('the summary prints the seed so the run can be repeated with --seed', () => {
  const st = new EngineStats();
  st.connectionsEstablished = 1;
  const s = summarize({ ...input(st, counters()), seed: 3141592653 });
  assert.ok(s.lines.includes("seed 3141592653 (--seed 3141592653 repeats this run's sampling and port choices)"), s.lines.join('\n'));
  assert.ok(!summarize(input(st, counters())).lines.some((l) => l.startsWith('seed ')), 'no seed given, no line');
});

test('live: where and how long it captured, drops by cause, mid-stream sessions, and warnings that say what to raise', () => {
  const st = new EngineStats();
  st.sessionsStarted = 12;
  st.sessionsWithoutSyn = 3;
  st.connectionsEstablished = 12;
  const live = {
    devices: ['eth0'],
    capturingUs: 12_300_000,
    dropsByReason: { 'ring-full': 4, 'sink-busy': 1 },
    kernelDrops: 7,
    interfaceDrops: 0,
    kernelDropsMissing: null,
    beforeStart: 2,
  };
  const s = summarize({ ...input(st, counters({ packetsRead: 5210, packetsUsed: 5198, live, records: 30 })), file: 'live capture on eth0', stoppedBy: 'SIGTERM' });
  assert.equal(
    s.lines[0],
    'replay stopped (SIGTERM) in 2.50 s: captured on eth0 for 12.3 s, 5210 packets, 12 dropped (kernel 7, ring full 4, sink busy 1, interface 0), 5198 used; 2 arrived before the copier was ready',
  );
  assert.match(s.lines[1]!, /^sessions: 12 started \(3 picked up mid-stream\), 12 established/);
  assert.ok(s.warnings.some((w) => /kernel dropped 7 captured packet\(s\): raise -B/.test(w)), s.warnings.join('\n'));
  assert.ok(s.warnings.some((w) => /4 captured packet\(s\) were dropped because the copier fell behind/.test(w)));
  assert.ok(s.warnings.some((w) => /1 captured packet\(s\) were dropped while this host's kernel pushed back/.test(w)));

  const any = { ...live, devices: ['any'], kernelDrops: null, interfaceDrops: null, kernelDropsMissing: 'the pktstat addon is not built (npm run build:native)', dropsByReason: { 'ring-full': 0, 'sink-busy': 0 }, beforeStart: 0 };
  const a = summarize({ ...input(st, counters({ live: any, records: 30 })), file: 'x', stoppedBy: 'SIGINT' });
  assert.match(a.lines[0]!, /captured on all interfaces \(any\) for 12\.3 s, 100 packets, 0 dropped \(kernel unknown, ring full 0, sink busy 0\), 50 used$/);
  assert.ok(a.warnings.includes('kernel drops could not be counted: the pktstat addon is not built (npm run build:native)'));

  const none = summarize({ ...input(new EngineStats(), counters({ packetsRead: 0, packetsUsed: 0, live })), file: 'live capture on eth0' });
  assert.match(none.failure ?? '', /^no client packet to -x 80-10\.0\.0\.2:8080 arrived on live capture on eth0 \(0 captured after start\)/);
});
