/**
 * Response flood for the intercept benchmark. Runs INSIDE the target namespace, next to
 * intercept: it plays both the test server (sending `count` TCP responses from port 80 to fake
 * clients through a raw socket, so they traverse OUTPUT and the NFQUEUE rule exactly like a
 * service's answers) and the copier (reading the records from the channel). One process, one
 * clock: the latency of a response is record arrival − send time, matched by sequence number.
 *
 *   node intercept-flood.js <channelHost|none> <channelPort> <srcIp> <count> <rate/s> [payloadBytes]
 *
 * Prints one JSON line: sent, sendErrors, received, sendMs, elapsedMs, latency p50/p99/max (µs).
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { buildSegment } from '../../test/helpers/packet/build.js';
import { parseIpv4 } from '../../src/core/packet/ipv4.js';
import { encodeHello, FrameDecoder, RECORD_SIZE } from '../../src/core/wire/index.js';
import { loadAddon } from '../../src/io/native.js';

interface RawWrap {
  send(buf: Buffer, off: number, len: number, addr: string, cb: (bytes: number) => void): void;
}
interface RawModule {
  createSocket(o: { protocol: number }): { wrap: RawWrap; close(): void; setOption(level: number, option: number, value: number): void };
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_SNDBUF: number };
}

const [host = '127.0.0.1', portText = '36524', srcText = '', countText = '10000', rateText = '10000', payloadText = '100'] = process.argv.slice(2);
const count = Number(countText);
const rate = Number(rateText);
const src = parseIpv4(srcText);
if (src === null || !(count > 0) || !(rate > 0)) {
  process.stderr.write('usage: intercept-flood <channelHost> <channelPort> <srcIp> <count> <rate> [payloadBytes]\n');
  process.exit(2);
}
const FAKE_NET = 0x0a600000; // 10.96.0.0/12 fake clients, routed out of the target's default route
const sendAt = new Float64Array(count);
const latUs = new Float64Array(count);
let received = 0;
let matched = 0;
let sendErrors = 0;
let lastError = '';
const noop = (): void => undefined;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dec = new FrameDecoder(RECORD_SIZE, 16);
  // host "none": no channel (baseline runs against a bare DROP callback; nothing comes back).
  const sock = host === 'none' ? null : connect({ host, port: Number(portText), noDelay: true });
  if (sock !== null) {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.write(encodeHello());
  }
  sock?.on('data', (chunk: Buffer) => {
    const now = performance.now();
    dec.feed(chunk);
    for (let r = dec.next(); r === 'record'; r = dec.next()) {
      received++;
      const i = dec.record.readUInt32BE(dec.recordOff + 24); // seq = index
      if (i < count && sendAt[i]! > 0 && latUs[i] === 0) {
        latUs[i] = (now - sendAt[i]!) * 1000;
        matched++;
      }
    }
  });
  await sleep(300); // let intercept register the connection

  const rawMod = loadAddon<RawModule>('raw-socket');
  const raw = rawMod.createSocket({ protocol: 255 });
  // Packets waiting in NFQUEUE are still charged to the sending socket; a big send buffer keeps
  // the generator from failing with EAGAIN when intercept falls behind for a moment.
  raw.setOption(rawMod.SocketLevel.SOL_SOCKET, rawMod.SocketOption.SO_SNDBUF, 8 * 1024 * 1024);
  const pkt = buildSegment({
    src: src as number,
    dst: FAKE_NET + 1,
    srcPort: 80,
    dstPort: 1024,
    seq: 0,
    ack: 1,
    flags: 0x18,
    window: 502,
    ipId: 0,
    options: { ts: { val: 1, ecr: 1 } },
    payload: Buffer.alloc(Number(payloadText), 0x78),
  });
  // Fake client i: address FAKE_NET + 1 + (i / 60000), port 1024 + (i % 60000). Patched in place:
  // the raw send is a synchronous sendto, so the buffer can be reused at once.
  const perSlot = Math.max(1, Math.round(rate / 1000));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const ip = (FAKE_NET + 1 + Math.floor(i / 60000)) >>> 0;
    pkt.writeUInt32BE(ip, 16);
    pkt.writeUInt16BE(1024 + (i % 60000), 22);
    pkt.writeUInt32BE(i, 24);
    const dst = `10.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
    sendAt[i] = performance.now();
    try {
      raw.wrap.send(pkt, 0, pkt.length, dst, noop);
    } catch (e) {
      sendErrors++;
      lastError = (e as Error).message;
    }
    if ((i + 1) % perSlot === 0) {
      const due = start + ((i + 1) / rate) * 1000;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(Math.floor(wait));
      else await new Promise((r) => setImmediate(r));
    }
  }
  const sendMs = performance.now() - start;
  // Wait for the tail: until everything arrived or 1 s without progress.
  let last = -1;
  let idleSince = performance.now();
  while (sock !== null && received < count - sendErrors) {
    await sleep(20);
    if (received !== last) {
      last = received;
      idleSince = performance.now();
    } else if (performance.now() - idleSince > 1000) break;
  }
  const elapsedMs = performance.now() - start;
  const lats = Array.from(latUs).filter((x) => x > 0).sort((a, b) => a - b);
  const q = (p: number): number => (lats.length === 0 ? NaN : (lats[Math.min(lats.length - 1, Math.floor(p * lats.length))] as number));
  process.stdout.write(
    JSON.stringify({
      sent: count - sendErrors,
      sendErrors,
      lastError,
      received,
      matched,
      sendMs: Math.round(sendMs),
      elapsedMs: Math.round(elapsedMs),
      p50us: Math.round(q(0.5)),
      p99us: Math.round(q(0.99)),
      maxUs: Math.round(lats[lats.length - 1] ?? NaN),
    }) + '\n',
  );
  sock?.destroy();
  raw.close();
  process.exit(0);
}

void main();
