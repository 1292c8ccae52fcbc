// Issue 13: the response-payload channel extension against stock peers (docs/wire-extension.md).
// 1. Our copier against a stand-in stock interceptor (reads 14-byte messages, ignores unknown
//    types, writes stock frames): it falls back after the negotiation timeout, records still flow.
// 2. Our interceptor (engine + channel server on loopback) serving a stand-in stock copier and a
//    report copier at once: the stock one reads only stock frames; the other gets ACK + payloads.
// 3. A whole replay with --report through a proxy that swallows the request, as a stock
//    interceptor does: the replay completes and the report compares sizes only (root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { ChannelClient } from '../../src/io/channel-client.js';
import { ChannelServer } from '../../src/io/channel-server.js';
import { DEFAULT_ENGINE_OPTIONS, InterceptEngine } from '../../src/core/intercept/index.js';
import {
  buildRecord,
  encodeClientAdd,
  encodeFrame,
  encodeHello,
  EXT_ALL_PAYLOAD,
  FrameDecoder,
  isExtRequest,
  MESSAGE_SIZE,
  newRecordInfo,
  readMessage,
  newChannelMessage,
  RECORD_SIZE,
} from '../../src/core/wire/index.js';
import { buildSegment } from '../helpers/packet/build.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNodeServer } from '../helpers/servers.js';
import { describeRun, replayTarget, runTcpcopy } from './replay-lab.js';
import { HTTP_CLIENT, readReport, recordWorkload } from './report-lab.js';
import { startNginx } from '../helpers/servers.js';

const LOOPBACK = 0x7f000001;
const CLIENT = 0x0a020001;
const SERVER = 0x0a010002;

function responsePacket(clientPort: number, seq: number, payload: string): Buffer {
  return buildSegment({ src: SERVER, dst: CLIENT, srcPort: 8080, dstPort: clientPort, seq, ack: 1, flags: 0x18, window: 1000, ipId: 1, payload: Buffer.from(payload) });
}

function recordOf(pkt: Buffer): Buffer {
  const r = Buffer.alloc(RECORD_SIZE);
  assert.equal(buildRecord(pkt, pkt.length, r, 0, false, newRecordInfo()), 'ok');
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('our copier against a stand-in stock interceptor: the request is the only extra message, no answer comes, it falls back and records flow', async () => {
  let received = Buffer.alloc(0);
  let peer: Socket | null = null;
  const server = createServer((s) => {
    peer = s;
    s.on('data', (d) => (received = Buffer.concat([received, d])));
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const plain: number[] = [];
  const withPayload: number[] = [];
  const client = new ChannelClient({
    interceptors: [{ ip: LOOPBACK, port }],
    connections: 1,
    onRecord: (buf, off) => plain.push(buf.readUInt16BE(off + 22)),
    extension: { payloadBytes: EXT_ALL_PAYLOAD, onRecordPayload: (buf, off) => withPayload.push(buf.readUInt16BE(off + 22)) },
  });
  try {
    await client.start();
    const t0 = Date.now();
    assert.deepEqual(await client.negotiated(300), [-1], 'no ACK from a stock interceptor');
    assert.ok(Date.now() - t0 >= 280, 'waited for the negotiation timeout');
    // What a stock interceptor reads: 14-byte messages only, the hello first; the request is an
    // unknown type it logs and ignores (wire-protocol.md §2).
    assert.equal(received.length % MESSAGE_SIZE, 0);
    assert.deepEqual(received.subarray(0, MESSAGE_SIZE), encodeHello());
    const m = readMessage(received, MESSAGE_SIZE, newChannelMessage());
    assert.ok(isExtRequest(m) && m.type !== 1 && m.type !== 2 && m.type !== 6);
    (peer as Socket | null)?.write(encodeFrame([recordOf(responsePacket(1111, 1, 'a')), recordOf(responsePacket(2222, 2, 'b'))], RECORD_SIZE));
    for (let i = 0; i < 100 && plain.length < 2; i++) await sleep(10);
    assert.deepEqual(plain, [1111, 2222]);
    assert.deepEqual(withPayload, []);
  } finally {
    client.close();
    server.close();
  }
});

test('our interceptor serving a stand-in stock copier and a report copier: stock frames only to the first, payloads to the second', async () => {
  let server: ChannelServer | null = null;
  const engine = new InterceptEngine(
    { ...DEFAULT_ENGINE_OPTIONS, payloadForward: 65535 },
    {
      write: (id, frame, done) => (server === null ? (done(), 0) : server.write(id, frame, done)),
      close: (id, reason) => server?.close(id, reason),
      log: () => undefined,
    },
  );
  server = new ChannelServer(
    {
      onConnect: (id, ip, peer) => engine.onConnect(id, ip, peer, 0),
      onData: (id, chunk) => {
        engine.onData(id, chunk, 0);
      },
      onDrain: (id) => engine.onDrain(id),
      onClosed: (id, reason) => engine.onClosed(id, reason),
    },
    { port: 0, host: '127.0.0.1' },
  );
  const addr = await server.listen();
  // The stand-in stock copier: hello and CLIENT_ADD, then it reads with a stock decoder.
  const stock = connect({ host: '127.0.0.1', port: addr.port });
  await once(stock, 'connect');
  stock.write(Buffer.concat([encodeHello(), encodeClientAdd(CLIENT, 1000, SERVER, 8080)]));
  let stockBytes = Buffer.alloc(0);
  stock.on('data', (d) => (stockBytes = Buffer.concat([stockBytes, d])));
  const payloads: string[] = [];
  const report = new ChannelClient({
    interceptors: [{ ip: LOOPBACK, port: addr.port }],
    connections: 1,
    onRecord: () => payloads.push('(none)'),
    extension: { payloadBytes: EXT_ALL_PAYLOAD, onRecordPayload: (buf, _off, payOff, payLen) => payloads.push(buf.subarray(payOff, payOff + payLen).toString()) },
  });
  try {
    await report.start();
    assert.ok(report.sendClientAdd(CLIENT, 2000, SERVER, 8080));
    assert.deepEqual(await report.negotiated(2000), [65535]);
    await sleep(50);
    for (const [port, text] of [[1000, 'to the stock copier'], [2000, 'to the report copier']] as const) {
      const pkt = responsePacket(port, 5, text);
      engine.onPacket(pkt, pkt.length, 1);
    }
    engine.flushAll(2);
    for (let i = 0; i < 100 && (payloads.length < 1 || stockBytes.length < 2 + RECORD_SIZE); i++) await sleep(10);
    assert.deepEqual(payloads, ['to the report copier']);
    const dec = new FrameDecoder(RECORD_SIZE, 16);
    dec.feed(stockBytes);
    assert.equal(dec.next(), 'record');
    assert.equal(dec.record.readUInt16BE(dec.recordOff + 22), 1000);
    assert.equal(dec.next(), 'need-more', 'nothing but one stock frame of one record');
    assert.equal(stockBytes.length, 2 + RECORD_SIZE);
  } finally {
    report.close();
    stock.destroy();
    await server.shutdown(100);
  }
});

const skip = requireRoot();

/**
 * A stand-in stock interceptor in front of ours: forwards the channel both ways but swallows the
 * copier's extension request (a stock interceptor logs and ignores it), so our intercept only
 * ever serves a stock-speaking copier. `node proxy.mjs <port> <dir> <listen ip> <upstream ip:port>`.
 */
const STOCK_PROXY = `
import { connect, createServer } from 'node:net';
const [port, , bind, upstream] = process.argv.slice(2);
const [uh, up] = upstream.split(':');
let swallowed = 0;
createServer((c) => {
  const u = connect({ host: uh, port: Number(up) });
  let pending = Buffer.alloc(0);
  c.on('data', (d) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 14) {
      const m = pending.subarray(0, 14);
      pending = pending.subarray(14);
      if (m.readUInt16BE(6) === 0x7473) { swallowed++; console.log('swallowed ' + swallowed); continue; }
      u.write(m);
    }
  });
  u.pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
  c.on('close', () => u.destroy());
}).listen(Number(port), bind, () => console.log('listening'));
`;

test('a whole --report replay behind a stock interceptor: it replays, and the report compares sizes only', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-stock' });
  const rec = await recordWorkload(
    lab,
    80,
    HTTP_CLIENT,
    (pair) => startNginx(lab, pair.server, { port: 80, bind: pair.serverIp }),
    (pair) => ({ conns: Array.from({ length: 6 }, (_, i) => ({ from: pair.clientIps[i % pair.clientIps.length] as string, paths: [`/a/${i}`, `/b/${i}`] })) }),
  );
  const { net } = await replayTarget(lab, [80], ['--forward-payload', 'all']);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  const proxy = await startNodeServer(lab, net.copier, STOCK_PROXY.replace('process.argv.slice(2)', `[...process.argv.slice(2, 5), '${net.targetIp}:36524']`), 36600, '127.0.0.1');
  const json = join(lab.tmpDir, 'report.json');
  const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80`, '-s', '127.0.0.1:36600', '-C', '1', '-i', rec.pcap, '--quiet', '--report', json]);
  assert.equal(run.code, 0, describeRun(run));
  assert.match(proxy.proc.stdout, /swallowed 1/);
  assert.equal(run.summary.outcomes.completed, 6, describeRun(run));
  assert.equal(nginx.readAccessLog().length, rec.requests);
  assert.match(run.stderr, /did not answer the payload extension/);
  const r = readReport(json);
  assert.equal(r.testPayload, 'sizes only');
  assert.equal(r.totals.exchanges, rec.requests);
  assert.match(run.stdout, /report: test answers: sizes only/);
  // Same server, same sizes: compared by size and timing only, nothing differs.
  assert.equal(r.totals.targets[0]?.mismatched, 0, JSON.stringify(r.mismatches.slice(0, 2)));
  t.diagnostic(run.stdout.split('\n').filter((l) => l.startsWith('report:')).join(' / '));
});
