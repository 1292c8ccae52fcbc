import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { buildSegment } from '../../helpers/packet/build.js';
import { ExchangeCollector } from '../../../src/core/collect/collector.js';
import type { Exchange, ExchangeSink } from '../../../src/core/report/exchange.js';
import type { SessionInfo } from '../../../src/core/session/types.js';
import { buildRecord, newRecordInfo, RECORD_SIZE } from '../../../src/core/wire/index.js';

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CLIENT = 0x0a000005; // 10.0.0.5 (captured client)
const SERVER = 0x0a000001; // 10.0.0.1:80 (production)
const TARGET = 0x0a000102; // 10.0.1.2:8080 (test)
const TARGET2 = 0x0a000103;

class RecordingSink implements ExchangeSink {
  readonly exchanges: Exchange[] = [];
  readonly outcomes: string[] = [];
  exchange(x: Exchange): void {
    this.exchanges.push(x);
  }
  sessionOutcome(session: string, target: number, outcome: string): void {
    this.outcomes.push(`${session} ${target} ${outcome}`);
  }
}

function seg(src: number, sport: number, dst: number, dport: number, flags: number, seq: number, ack: number, payload?: string): Buffer {
  return buildSegment({ src, dst, srcPort: sport, dstPort: dport, seq, ack, flags, window: 65000, ipId: 1, ...(payload === undefined ? {} : { payload: Buffer.from(payload) }) });
}

function info(target: number, clientPort: number): SessionInfo {
  return {
    id: 1, onlineClientIp: CLIENT, onlineClientPort: 40000, onlineServerIp: SERVER, onlineServerPort: 80,
    clientIp: CLIENT, clientPort, targetIp: target, targetPort: 8080, replica: 0, fromSyn: true,
    startUs: 0, endUs: 0, bytesDelivered: 0, responseBytes: 0, turns: 0, responseWaitsExpired: 0, retransmits: 0, iss: 0,
  };
}

/** The captured session: two requests, answered after 1 ms and 2 ms (capture clock). */
function feedCapture(c: ExchangeCollector): void {
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, SYN, 100, 0)), 0);
  c.capturedReverse(...at(seg(SERVER, 80, CLIENT, 40000, SYN | ACK, 500, 101)), 100);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 101, 501, 'GET /a HTTP/1.1\r\n\r\n')), 1000);
  c.capturedReverse(...at(seg(SERVER, 80, CLIENT, 40000, ACK | PSH, 501, 120, 'HTTP/1.1 200 OK\r\n\r\nA')), 2000);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 120, 521, 'GET /b HTTP/1.1\r\n\r\n')), 3000);
  // a retransmission changes nothing
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 120, 521, 'GET /b HTTP/1.1\r\n\r\n')), 3500);
  c.capturedReverse(...at(seg(SERVER, 80, CLIENT, 40000, ACK | PSH, 521, 139, 'HTTP/1.1 404 Not Found\r\n\r\n')), 5000);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | FIN, 139, 546)), 6000);
}

/** A packet as the copier sends it. */
function sent(c: ExchangeCollector, pkt: Buffer, t: number): void {
  c.testSent(pkt, pkt.length, t);
}

/** A captured packet's buffer, IP offset and length. */
function at(pkt: Buffer): [Buffer, number, number] {
  return [pkt, 0, pkt.length];
}

/** A record of the target's response packet, and its payload. */
function record(pkt: Buffer): Buffer {
  const rec = Buffer.alloc(RECORD_SIZE);
  assert.equal(buildRecord(pkt, pkt.length, rec, 0, false, newRecordInfo()), 'ok');
  return rec;
}

/** One test target answering: `body2` for the second request, after `delay2` µs; payloads forwarded or not. */
function feedTest(c: ExchangeCollector, target: number, port: number, body2: string, delay2: number, withPayload: boolean, started = false): void {
  if (!started) c.testStarted(info(target, port));
  sent(c, seg(CLIENT, port, target, 8080, SYN, 7000, 0), 10_000);
  c.testRecord(record(seg(target, 8080, CLIENT, port, SYN | ACK, 9000, 7001)), 0, RECORD_SIZE, null, 0, 0, 10_100);
  const answer = (seq: number, text: string, at: number): void => {
    const pkt = seg(target, 8080, CLIENT, port, ACK | PSH, seq, 0, text);
    c.testRecord(record(pkt), 0, RECORD_SIZE, withPayload ? pkt : null, 40, withPayload ? text.length : 0, at);
  };
  sent(c, seg(CLIENT, port, target, 8080, ACK | PSH, 7001, 9001, 'GET /a HTTP/1.1\r\n\r\n'), 11_000);
  answer(9001, 'HTTP/1.1 200 OK\r\n\r\nA', 11_500);
  sent(c, seg(CLIENT, port, target, 8080, ACK | PSH, 7020, 9020, 'GET /b HTTP/1.1\r\n\r\n'), 12_000);
  answer(9021, body2.slice(0, 5), 12_000 + delay2);
  answer(9026, body2.slice(5), 12_000 + delay2 + 300);
}

test('collector: one exchange per request, reference from the capture, test answers with bytes, sizes and latencies', () => {
  const sink = new RecordingSink();
  const c = new ExchangeCollector({ targets: [{ ip: TARGET, port: 8080 }], bytesCap: 1 << 16, captureReference: true }, sink);
  // As in the copier: the engine starts the session on the captured SYN, before any request.
  c.testStarted(info(TARGET, 50000));
  feedCapture(c);
  assert.equal(sink.exchanges.length, 0, 'the test side is not past the first request yet');
  feedTest(c, TARGET, 50000, 'HTTP/1.1 200 OK\r\n\r\nBBB', 800, true, true);
  assert.equal(sink.exchanges.length, 1, 'the first request is reported once every side is past it');
  c.testClosed(info(TARGET, 50000), 'completed', 20_000);
  assert.equal(sink.exchanges.length, 2);
  assert.deepEqual(sink.outcomes, ['10.0.0.5:40000>10.0.0.1:80 0 completed']);
  const [a, b] = sink.exchanges as [Exchange, Exchange];
  assert.equal(a.session, '10.0.0.5:40000>10.0.0.1:80');
  assert.deepEqual([a.index, b.index, a.servicePort], [0, 1, 80]);
  assert.equal(a.request.toString(), 'GET /a HTTP/1.1\r\n\r\n');
  assert.equal(b.request.toString(), 'GET /b HTTP/1.1\r\n\r\n', 'the retransmission was not added');
  assert.equal(a.reference?.bytes.toString(), 'HTTP/1.1 200 OK\r\n\r\nA');
  assert.deepEqual([a.reference?.firstByteUs, a.reference?.end], [1000, 'complete']);
  assert.equal(b.reference?.bytes.toString(), 'HTTP/1.1 404 Not Found\r\n\r\n');
  assert.equal(b.reference?.firstByteUs, 2000);
  const t = b.tests[0];
  assert.equal(t?.bytes.toString(), 'HTTP/1.1 200 OK\r\n\r\nBBB');
  assert.deepEqual([t?.size, t?.firstByteUs, t?.lastByteUs, t?.end], [22, 800, 1100, 'complete']);
  assert.equal(a.tests[0]?.firstByteUs, 500);
});

test('collector: without forwarded payloads the test answers carry sizes only; without server packets there is no reference', () => {
  const sink = new RecordingSink();
  // Two -x services: this session goes to the first target only, so the exchange names it.
  const c = new ExchangeCollector({ targets: [{ ip: TARGET, port: 8080 }, { ip: TARGET2, port: 6379 }], bytesCap: 1 << 16, captureReference: true }, sink);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, SYN, 100, 0)), 0);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 101, 501, 'GET /a HTTP/1.1\r\n\r\n')), 1000);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 120, 521, 'GET /b HTTP/1.1\r\n\r\n')), 3000);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | FIN, 139, 546)), 6000);
  feedTest(c, TARGET, 50000, 'HTTP/1.1 200 OK\r\n\r\nBBB', 800, false);
  c.testClosed(info(TARGET, 50000), 'completed', 20_000);
  assert.equal(sink.exchanges.length, 2);
  for (const x of sink.exchanges) assert.equal(x.reference, null);
  for (const x of sink.exchanges) assert.deepEqual([x.targets, x.tests[1]], [[0], null]);
  assert.deepEqual([sink.exchanges[1]?.tests[0]?.bytes.length, sink.exchanges[1]?.tests[0]?.size], [0, 22]);
});

test('collector, mirror: each target has its own answer in order of the targets; a target that never started is null', () => {
  const sink = new RecordingSink();
  const targets = [{ ip: TARGET, port: 8080 }, { ip: TARGET2, port: 8080 }, { ip: 0x0a000104, port: 8080 }];
  const c = new ExchangeCollector({ targets, bytesCap: 1 << 16, captureReference: false }, sink);
  c.testStarted(info(TARGET, 50000));
  c.testStarted(info(TARGET2, 50000));
  feedCapture(c);
  feedTest(c, TARGET, 50000, 'HTTP/1.1 200 OK\r\n\r\nBBB', 800, true, true);
  feedTest(c, TARGET2, 50000, 'HTTP/1.1 200 OK\r\n\r\nCCC', 300, true, true);
  c.testClosed({ ...info(0x0a000104, 0), clientIp: 0 }, 'port-exhausted', 15_000);
  c.testClosed(info(TARGET2, 50000), 'completed', 20_000);
  c.testClosed(info(TARGET, 50000), 'completed', 20_000);
  assert.equal(sink.exchanges.length, 2);
  const b = sink.exchanges[1] as Exchange;
  assert.equal(b.reference, null, 'Diffy mode: the baselines are the reference');
  assert.deepEqual(b.tests.map((t) => t?.bytes.toString() ?? null), ['HTTP/1.1 200 OK\r\n\r\nBBB', 'HTTP/1.1 200 OK\r\n\r\nCCC', null]);
  assert.equal(sink.outcomes.length, 3);
});

test('collector: a session whose capture never closes is reported after the grace, an idle one after the idle limit, the rest at flush', () => {
  const sink = new RecordingSink();
  const c = new ExchangeCollector({ targets: [{ ip: TARGET, port: 8080 }], bytesCap: 1 << 16, captureReference: true }, sink);
  c.testStarted(info(TARGET, 50000));
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, SYN, 100, 0)), 0);
  c.captured(...at(seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 101, 501, 'GET /a HTTP/1.1\r\n\r\n')), 1000);
  c.testClosed(info(TARGET, 50000), 'reset-by-target', 10_000);
  c.tick(4_000_000);
  assert.equal(sink.exchanges.length, 0, 'waits for the capture to close');
  c.tick(15_100_000);
  assert.equal(sink.exchanges.length, 1, 'reported after the grace');
  // A connection the engine never replayed: only the capture side, idle.
  c.captured(...at(seg(CLIENT, 40001, SERVER, 80, ACK | PSH, 101, 501, 'GET /b HTTP/1.1\r\n\r\n')), 2000);
  c.captured(...at(seg(CLIENT, 40002, SERVER, 80, ACK | PSH, 101, 501, 'GET /c HTTP/1.1\r\n\r\n')), 2000);
  for (let i = 0; i < 2000; i++) c.tick(20_000_000 + i);
  c.captured(...at(seg(CLIENT, 40002, SERVER, 80, ACK | PSH, 120, 501, 'GET /d HTTP/1.1\r\n\r\n')), 3000);
  for (let i = 0; i < 500; i++) c.tick(30_000_000 + i);
  assert.deepEqual(sink.exchanges.map((x) => x.request.toString().slice(0, 6)), ['GET /a', 'GET /b'], 'the idle one went, the active one stays');
  assert.equal(c.openSessions, 1);
  c.flush();
  assert.equal(c.openSessions, 0);
  assert.deepEqual(sink.exchanges.map((x) => x.request.toString().slice(0, 6)), ['GET /a', 'GET /b', 'GET /c']);
});

test('collector: mangled packets and records never throw (fixed-seed fuzz)', () => {
  const sink = new RecordingSink();
  const c = new ExchangeCollector({ targets: [{ ip: TARGET, port: 8080 }], bytesCap: 4096, captureReference: true }, sink);
  c.testStarted(info(TARGET, 50000));
  let s = 12345;
  const rnd = (n: number): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), (s >>> 8) % n);
  const good = [
    seg(CLIENT, 40000, SERVER, 80, ACK | PSH, 101, 501, 'GET /a HTTP/1.1\r\n\r\n'),
    seg(SERVER, 80, CLIENT, 40000, ACK | PSH, 501, 120, 'HTTP/1.1 200 OK\r\n\r\nA'),
    seg(CLIENT, 50000, TARGET, 8080, ACK | PSH, 7001, 9001, 'GET /a HTTP/1.1\r\n\r\n'),
    seg(TARGET, 8080, CLIENT, 50000, ACK | PSH, 9001, 7020, 'HTTP/1.1 200 OK\r\n\r\nA'),
  ];
  for (let i = 0; i < 20_000; i++) {
    const base = good[i % 4] as Buffer;
    const p = Buffer.from(base.subarray(0, rnd(base.length + 1)));
    for (let k = rnd(5); k > 0 && p.length > 0; k--) p[rnd(p.length)] = rnd(256);
    const len = p.length;
    switch (i % 4) {
      case 0:
        if (len >= 20) c.captured(p, 0, len, i);
        break;
      case 1:
        if (len >= 20) c.capturedReverse(p, 0, len, i);
        break;
      case 2:
        c.testSent(p, len, i);
        break;
      default: {
        const rec = Buffer.alloc(RECORD_SIZE);
        p.copy(rec, 0, 0, Math.min(len, RECORD_SIZE));
        c.testRecord(rec, 0, RECORD_SIZE, p, Math.min(40, len), Math.max(0, len - 40), i);
      }
    }
    if (i % 1000 === 0) c.tick(i * 1000);
  }
  c.testClosed(info(TARGET, 50000), 'completed', 1);
  c.flush();
  assert.equal(c.openSessions, 0);
  for (const x of sink.exchanges) for (const a of [x.reference, ...x.tests]) if (a !== null) assert.ok(a.bytes.length <= Math.min(4096, a.size));
});

test('collector with recycled buffers: a sink that reads each exchange while it is handed over sees the same bytes as without', () => {
  const seen = (recycleBytes: boolean): string[] => {
    const out: string[] = [];
    const sink: ExchangeSink = {
      exchange: (x) => out.push(`${x.request.toString()}|${x.reference?.bytes.toString()}|${x.tests[0]?.bytes.toString()}`),
      sessionOutcome: () => undefined,
    };
    const c = new ExchangeCollector({ targets: [{ ip: TARGET, port: 8080 }], bytesCap: 1 << 16, captureReference: true, recycleBytes }, sink);
    // Two sessions one after the other: the second one's answers land in the first one's buffers.
    for (const port of [50000, 50001]) {
      c.testStarted(info(TARGET, port));
      feedCapture(c);
      feedTest(c, TARGET, port, port === 50000 ? 'HTTP/1.1 200 OK\r\n\r\nBBB' : 'HTTP/1.1 500 Oops\r\n\r\n', 800, true, true);
      c.testClosed(info(TARGET, port), 'completed', 20_000);
    }
    return out;
  };
  const plain = seen(false);
  assert.equal(plain.length, 4);
  assert.equal(plain[3], 'GET /b HTTP/1.1\r\n\r\n|HTTP/1.1 404 Not Found\r\n\r\n|HTTP/1.1 500 Oops\r\n\r\n');
  assert.deepEqual(seen(true), plain);
});
