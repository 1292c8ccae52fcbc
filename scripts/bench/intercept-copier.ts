/**
 * Copier stand-in for intercept's integration tests and benchmark. Runs inside the copier
 * namespace; reads a script of JSON lines on stdin, performs it step by step, and prints what
 * happens as JSON lines on stdout:
 *
 *   {"op":"connect","host":"10.1.0.2","port":36524,"n":2}   open n channel connections
 *   {"op":"hello"}  | {"op":"hello","conn":0}                 send the 14-byte hello
 *   {"op":"raw","conn":0,"hex":"ffff…"}                       send arbitrary bytes (garbage tests)
 *   {"op":"clientAdd","conn":0,"client":"ip:port","target":"ip:port"}
 *   {"op":"syn","client":"ip:port","target":"ip:port","seq":1000,"tsval":7}   raw SYN from a fake client
 *   {"op":"synFlood","clientNet":"10.77","count":N,"target":"ip:port","rate":pps}  many SYNs (bench)
 *   {"op":"sleep","ms":100}
 *   {"op":"pause"}                                             stop reading the channel (a stuck copier)
 *   {"op":"waitRecords","count":N,"timeoutMs":5000}
 *   {"op":"end"}
 *
 * Events: {"ev":"connected","conn":i} {"ev":"record","conn":i,…fields} {"ev":"closed","conn":i}
 * {"ev":"sent","count":n} {"ev":"timeout","records":n} {"ev":"done","records":n} {"ev":"error","msg":…}
 * With "quiet":true on synFlood, records are counted, not printed, and a latency summary is
 * printed instead (record arrival time minus SYN send time, per client port).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { buildSegment } from '../../test/helpers/packet/build.js';
import { parseIpv4 } from '../../src/core/packet/ipv4.js';
import { encodeClientAdd, encodeHello, FrameDecoder, RECORD_SIZE } from '../../src/core/wire/index.js';
import { loadAddon } from '../../src/io/native.js';

interface RawSocket {
  send(buf: Buffer, off: number, len: number, addr: string, before: (() => void) | null, after: (err: Error | null, bytes: number) => void): void;
  close(): void;
}
interface RawModule {
  createSocket(o: { addressFamily?: number; protocol: number; bufferSize?: number }): RawSocket;
}

type Step = Record<string, unknown> & { op: string };

const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const conns: Socket[] = [];
let records = 0;
let quiet = false;
const sendTimes = new Map<number, number>(); // client port → SYN send time (ms), quiet mode
const latencies: number[] = [];
let raw: RawSocket | null = null;
const recordSize = process.env.RECORD_SIZE === '192' ? 192 : RECORD_SIZE;

function addr(s: unknown): { ip: number; text: string; port: number } {
  const [ipText, portText] = String(s).split(':');
  const ip = parseIpv4(ipText ?? '');
  if (ip === null) throw new Error(`bad address ${String(s)}`);
  return { ip, text: ipText as string, port: Number(portText ?? 0) };
}

function onRecord(conn: number, r: Buffer, off: number): void {
  records++;
  const ihl = (r[off]! & 15) * 4;
  const t = off + ihl;
  const dport = r.readUInt16BE(t + 2);
  if (quiet) {
    const sent = sendTimes.get(dport);
    if (sent !== undefined) {
      latencies.push(performance.now() - sent);
      sendTimes.delete(dport);
    }
    return;
  }
  const doff = (r[t + 12]! >> 4) * 4;
  const optEnd = Math.min(t + doff, off + recordSize);
  out({
    ev: 'record',
    conn,
    ihl,
    totLen: r.readUInt16BE(off + 2),
    src: r.readUInt32BE(off + 12),
    dst: r.readUInt32BE(off + 16),
    sport: r.readUInt16BE(t),
    dport,
    seq: r.readUInt32BE(t + 4),
    ack: r.readUInt32BE(t + 8),
    doff,
    flags: r[t + 13],
    window: r.readUInt16BE(t + 14),
    options: r.subarray(t + 20, Math.max(t + 20, optEnd)).toString('hex'),
    hex: r.subarray(off, off + recordSize).toString('hex'),
  });
}

function openConn(host: string, port: number, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true }, () => {
      out({ ev: 'connected', conn: i });
      resolve();
    });
    const dec = new FrameDecoder(recordSize, recordSize === 192 ? 6 : 16);
    s.on('data', (chunk: Buffer) => {
      dec.feed(chunk);
      let r = dec.next();
      for (; r === 'record'; r = dec.next()) onRecord(i, dec.record, dec.recordOff);
      if (r === 'bad-count') {
        out({ ev: 'error', conn: i, msg: `bad frame count ${dec.badCount}` });
        s.destroy();
      }
    });
    s.on('error', (e) => {
      out({ ev: 'error', conn: i, msg: e.message });
      reject(e);
    });
    s.on('close', () => out({ ev: 'closed', conn: i }));
    conns[i] = s;
  });
}

function rawSocket(): RawSocket {
  if (raw === null) raw = loadAddon<RawModule>('raw-socket').createSocket({ protocol: 255 }); // IPPROTO_RAW: header included
  return raw;
}

function sendRaw(pkt: Buffer, dst: string): Promise<void> {
  return new Promise((resolve, reject) => rawSocket().send(pkt, 0, pkt.length, dst, null, (err) => (err ? reject(err) : resolve())));
}

function synPacket(src: number, sport: number, dst: number, dport: number, seq: number, tsval: number): Buffer {
  return buildSegment({
    src,
    dst,
    srcPort: sport,
    dstPort: dport,
    seq,
    ack: 0,
    flags: 0x02,
    window: 64240,
    ipId: sport,
    options: { mss: 1460, sackOk: true, ts: { val: tsval, ecr: 0 }, wscale: 7 },
  });
}

async function run(steps: Step[]): Promise<void> {
  for (const st of steps) {
    switch (st.op) {
      case 'connect': {
        const n = Number(st.n ?? 1);
        for (let i = 0; i < n; i++) await openConn(String(st.host), Number(st.port ?? 36524), conns.length);
        break;
      }
      case 'hello':
        for (const [i, s] of conns.entries()) if (st.conn === undefined || st.conn === i) s.write(encodeHello());
        break;
      case 'raw':
        conns[Number(st.conn ?? 0)]?.write(Buffer.from(String(st.hex), 'hex'));
        break;
      case 'clientAdd': {
        const c = addr(st.client);
        const t = addr(st.target);
        conns[Number(st.conn ?? 0)]?.write(encodeClientAdd(c.ip, c.port, t.ip, t.port));
        break;
      }
      case 'syn': {
        const c = addr(st.client);
        const t = addr(st.target);
        await sendRaw(synPacket(c.ip, c.port, t.ip, t.port, Number(st.seq ?? 1000), Number(st.tsval ?? 1)), t.text);
        break;
      }
      case 'synFlood': {
        // Fake clients <net>.a.b, ports 1024..65535, paced in 1 ms slots to `rate` SYNs/s.
        quiet = st.quiet === true;
        const t = addr(st.target);
        const count = Number(st.count);
        const rate = Number(st.rate ?? 10000);
        const base = parseIpv4(`${String(st.clientNet)}.0.0`) ?? 0;
        const perSlot = Math.max(1, Math.round(rate / 1000));
        const start = performance.now();
        for (let i = 0; i < count; i++) {
          const ip = (base + 1 + Math.floor(i / 60000)) >>> 0;
          const port = 1024 + (i % 60000);
          const pkt = synPacket(ip, port, t.ip, t.port, 1000 + i, i + 1);
          if (quiet) sendTimes.set(port, performance.now());
          rawSocket().send(pkt, 0, pkt.length, t.text, null, () => undefined);
          if ((i + 1) % perSlot === 0) {
            const due = start + ((i + 1) / rate) * 1000;
            const wait = due - performance.now();
            if (wait > 0.5) await sleep(Math.floor(wait));
            else await new Promise((r) => setImmediate(r));
          }
        }
        out({ ev: 'sent', count, ms: Math.round(performance.now() - start) });
        break;
      }
      case 'sleep':
        await sleep(Number(st.ms));
        break;
      case 'pause':
        for (const s of conns) s.pause();
        break;
      case 'waitRecords': {
        const deadline = performance.now() + Number(st.timeoutMs ?? 5000);
        while (records < Number(st.count) && performance.now() < deadline) await sleep(5);
        if (records < Number(st.count)) out({ ev: 'timeout', records });
        break;
      }
      case 'end':
        for (const s of conns) s.end();
        break;
      default:
        out({ ev: 'error', msg: `unknown op ${st.op}` });
    }
  }
}

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const steps = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Step);
  try {
    await run(steps);
  } catch (e) {
    out({ ev: 'error', msg: (e as Error).message });
  }
  if (quiet && latencies.length > 0) {
    latencies.sort((a, b) => a - b);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    out({ ev: 'latency', n: latencies.length, p50ms: q(0.5), p99ms: q(0.99), maxms: latencies[latencies.length - 1] });
  }
  out({ ev: 'done', records });
  await sleep(50);
  raw?.close();
  process.exit(0);
}

void main();
