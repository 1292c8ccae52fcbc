// The client half of the traffic recorder. It runs as its own process INSIDE the client
// namespace (`ip netns exec <client> node recorder-client.js`), reads a ClientPlan as JSON on
// stdin, opens real TCP connections bound to the namespace's alias addresses, and prints the
// ground truth (ClientTruth) as one JSON line on stdout. Paced (connections/s), bounded
// concurrency, per-connection idle timeout and an overall deadline keep it finite.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { prng, randInt } from './prng.js';

export interface ClientPlan {
  runId: string;
  serverIp: string;
  clientIps: string[];
  http?: {
    port: number;
    connections: number;
    /** Requests per connection cycle through this list (e.g. [1, 3, 5]). */
    requestsPerConn: number[];
    /** Every n-th request is a POST with a body of postBytes (0 = never). */
    postEvery: number;
    postBytes: number;
    /**
     * When non-empty, every request GETs a static file `sizedPath(size)` (plus a unique query)
     * whose size is picked from this list by a fixed-seed PRNG in request order, so a plan always
     * makes the same requests; nginx must serve writeSizedFiles() (recorder.ts)'s directory as its root.
     */
    bodySizes?: number[];
  };
  redis?: {
    port: number;
    connections: number;
    keys: number;
    /** Commands written at once on pipelined connections (every other connection). */
    pipelineDepth: number;
  };
  greeting?: {
    port: number;
    connections: number;
    linesPerConn: number;
  };
  /** New connections per second (0 = as fast as concurrency allows). */
  rate: number;
  concurrency: number;
  idleTimeoutMs: number;
  deadlineMs: number;
}

export type ConnKind = 'http' | 'redis' | 'greeting';

/** URL path of the static file of `size` bytes (relative to the nginx root: `s/<size>.txt`). */
export function sizedPath(size: number): string {
  return `/s/${size}.txt`;
}

/** The content of that file: printable and deterministic, so the client can check every byte. */
export function sizedBody(size: number): string {
  const line = 'tcpcopy-ts sized response 0123456789 abcdefghijklmnopqrstuvwxyz\n';
  return line.repeat(Math.ceil(size / line.length)).slice(0, Math.max(0, size - 1)) + (size > 0 ? '\n' : '');
}

/** Seed of the file-size choice: fixed, so the same plan always asks for the same files. */
export const BODY_SIZE_SEED = 0x51e5;

/**
 * The file size of each of `count` requests, in request order: uniform over `sizes` (a
 * log-spaced list gives a log-uniform spread of response sizes).
 */
export function pickBodySizes(sizes: readonly number[], count: number): number[] {
  const rand = prng(BODY_SIZE_SEED);
  return Array.from({ length: count }, () => sizes[randInt(rand, sizes.length)] as number);
}

/**
 * How a connection ends: 'client-close' (client FINs after the last answer), 'server-close'
 * (last HTTP request says Connection: close, Redis/greeting QUIT; server FINs first).
 */
export type CloseMode = 'client-close' | 'server-close';

export interface ConnTruth {
  index: number;
  kind: ConnKind;
  localAddress: string;
  localPort: number;
  close: CloseMode;
  pipelined: boolean;
  /** HTTP paths, Redis keys or greeting lines, in the order sent. */
  items: string[];
  /** How many of items got their answer. */
  answered: number;
  ok: boolean;
  error?: string;
  startMs: number;
  endMs: number;
}

export interface ClientTruth {
  runId: string;
  connections: ConnTruth[];
  /** HTTP requests answered with the expected body, in send order: [method, path]. */
  httpRequests: { method: string; path: string }[];
  redisKeys: { key: string; value: string }[];
  greetingLines: { from: string; line: string }[];
  errors: number;
  durationMs: number;
}

interface Job {
  index: number;
  kind: ConnKind;
  localAddress: string;
  close: CloseMode;
  pipelined: boolean;
  items: string[];
  /** Redis values / HTTP methods, parallel to items. */
  extra: string[];
}

/** Connection jobs in a fixed interleaving of kinds, addresses assigned round-robin. */
export function planJobs(plan: ClientPlan): Job[] {
  const queues: Job[][] = [];
  let req = 0;
  if (plan.http) {
    const h = plan.http;
    const sizes = h.bodySizes ?? [];
    // A POST to a static file gets 405, so sized plans are GET-only.
    if (sizes.length > 0 && h.postEvery > 0) throw new Error('http.bodySizes and http.postEvery cannot be combined');
    const sizeRand = prng(BODY_SIZE_SEED);
    const q: Job[] = [];
    for (let c = 0; c < h.connections; c++) {
      const n = h.requestsPerConn[c % h.requestsPerConn.length] ?? 1;
      const items: string[] = [];
      const extra: string[] = [];
      for (let i = 0; i < n; i++) {
        req++;
        // Same draws as pickBodySizes(), one per request in order.
        items.push(sizes.length > 0 ? `${sizedPath(sizes[randInt(sizeRand, sizes.length)] as number)}?r=${plan.runId}-${req}` : `/r/${plan.runId}/${req}`);
        extra.push(h.postEvery > 0 && req % h.postEvery === 0 ? 'POST' : 'GET');
      }
      q.push({ index: 0, kind: 'http', localAddress: '', close: c % 2 === 0 ? 'server-close' : 'client-close', pipelined: false, items, extra });
    }
    queues.push(q);
  }
  if (plan.redis) {
    const r = plan.redis;
    const q: Job[] = [];
    for (let c = 0; c < r.connections; c++) {
      const lo = Math.floor((r.keys * c) / r.connections);
      const hi = Math.floor((r.keys * (c + 1)) / r.connections);
      const items: string[] = [];
      const extra: string[] = [];
      for (let k = lo; k < hi; k++) {
        items.push(`k:${plan.runId}:${k}`);
        extra.push(`v:${plan.runId}:${k}:${(k * 2654435761) >>> 0}`);
      }
      q.push({ index: 0, kind: 'redis', localAddress: '', close: c % 3 === 0 ? 'server-close' : 'client-close', pipelined: c % 2 === 1, items, extra });
    }
    queues.push(q);
  }
  if (plan.greeting) {
    const g = plan.greeting;
    const q: Job[] = [];
    for (let c = 0; c < g.connections; c++) {
      const items = Array.from({ length: g.linesPerConn }, (_, i) => `L ${plan.runId} ${c} ${i}`);
      q.push({ index: 0, kind: 'greeting', localAddress: '', close: 'server-close', pipelined: false, items, extra: [] });
    }
    queues.push(q);
  }
  // Interleave the kinds proportionally so a paced run mixes them all the way through.
  const total = queues.reduce((s, q) => s + q.length, 0);
  const jobs: Job[] = [];
  const taken = queues.map(() => 0);
  while (jobs.length < total) {
    let best = -1;
    let bestFrac = Infinity;
    queues.forEach((q, qi) => {
      const t = taken[qi] ?? 0;
      if (t < q.length) {
        const frac = (t + 0.5) / q.length;
        if (frac < bestFrac) {
          bestFrac = frac;
          best = qi;
        }
      }
    });
    const q = queues[best] as Job[];
    const t = taken[best] ?? 0;
    taken[best] = t + 1;
    jobs.push(q[t] as Job);
  }
  jobs.forEach((j, i) => {
    j.index = i;
    j.localAddress = plan.clientIps[i % plan.clientIps.length] ?? '';
  });
  return jobs;
}

// ---------------------------------------------------------------------------------------------
// Per-connection drivers. Each resolves with a ConnTruth and never throws.

class Conn {
  readonly sock: net.Socket;
  private buf = '';
  private wake: (() => void) | null = null;
  private failed: Error | null = null;
  private ended = false;
  localPort = 0;

  constructor(host: string, port: number, localAddress: string, idleMs: number) {
    this.sock = net.connect({ host, port, localAddress, noDelay: true });
    this.sock.setEncoding('latin1');
    this.sock.setTimeout(idleMs);
    this.sock.on('connect', () => {
      this.localPort = this.sock.localPort ?? 0;
    });
    this.sock.on('data', (d: string) => {
      this.buf += d;
      this.poke();
    });
    this.sock.on('timeout', () => this.fail(new Error(`idle for ${idleMs} ms`)));
    this.sock.on('error', (e) => this.fail(e));
    this.sock.on('end', () => {
      this.ended = true;
      this.poke();
    });
    this.sock.on('close', () => {
      this.ended = true;
      this.poke();
    });
  }

  private fail(e: Error): void {
    if (!this.failed) this.failed = e;
    this.sock.destroy();
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  /**
   * Waits until `parse(buffer)` returns a consumed length > 0 (then drops it from the buffer),
   * or fails on error/EOF.
   */
  async read<T>(parse: (text: string) => { used: number; value: T } | null): Promise<T> {
    for (;;) {
      const r = parse(this.buf);
      if (r !== null) {
        this.buf = this.buf.slice(r.used);
        return r.value;
      }
      if (this.failed) throw this.failed;
      if (this.ended) throw new Error(`connection closed by server with ${this.buf.length} unparsed bytes`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Waits for the server's FIN (and our socket closing). */
  async waitEnd(): Promise<void> {
    while (!this.ended) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  write(s: string): void {
    this.sock.write(s, 'latin1');
  }

  /** Client-side close: FIN, then wait for the server's FIN. */
  async closeAndWait(): Promise<void> {
    this.sock.end();
    await this.waitEnd();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

function parseHttpResponse(text: string): { used: number; value: { status: number; body: string; close: boolean } } | null {
  const h = text.indexOf('\r\n\r\n');
  if (h < 0) return null;
  const head = text.slice(0, h);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
  const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  if (text.length < h + 4 + len) return null;
  return {
    used: h + 4 + len,
    value: { status, body: text.slice(h + 4, h + 4 + len), close: /\r\nconnection:\s*close/i.test(head) },
  };
}

function parseLine(text: string): { used: number; value: string } | null {
  const i = text.indexOf('\r\n');
  return i < 0 ? null : { used: i + 2, value: text.slice(0, i) };
}

function respCommand(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

async function runJob(plan: ClientPlan, job: Job, t0: number): Promise<ConnTruth> {
  const truth: ConnTruth = {
    index: job.index,
    kind: job.kind,
    localAddress: job.localAddress,
    localPort: 0,
    close: job.close,
    pipelined: job.pipelined,
    items: job.items,
    answered: 0,
    ok: false,
    startMs: Date.now() - t0,
    endMs: 0,
  };
  const port = job.kind === 'http' ? plan.http?.port : job.kind === 'redis' ? plan.redis?.port : plan.greeting?.port;
  const conn = new Conn(plan.serverIp, port ?? 0, job.localAddress, plan.idleTimeoutMs);
  try {
    if (job.kind === 'http') await runHttp(plan, job, conn, truth);
    else if (job.kind === 'redis') await runRedis(plan, job, conn, truth);
    else await runGreeting(job, conn, truth);
    truth.ok = true;
  } catch (e) {
    truth.error = (e as Error).message;
    conn.destroy();
  }
  truth.localPort = conn.localPort;
  truth.endMs = Date.now() - t0;
  return truth;
}

/** Expected bodies of sized files, built once per size (a 32 KB string compare is a memcmp). */
const sizedBodies = new Map<number, string>();

/** The body a request for `path` must get: its sized file, or nginx's `ok <path>` answer. */
function expectedBody(path: string): string {
  const m = /^\/s\/(\d+)\.txt\?/.exec(path);
  if (m === null) return `ok ${path}\n`;
  const size = Number(m[1]);
  let body = sizedBodies.get(size);
  if (body === undefined) {
    body = sizedBody(size);
    sizedBodies.set(size, body);
  }
  return body;
}

async function runHttp(plan: ClientPlan, job: Job, conn: Conn, truth: ConnTruth): Promise<void> {
  const postBytes = plan.http?.postBytes ?? 0;
  for (let i = 0; i < job.items.length; i++) {
    const path = job.items[i] as string;
    const method = job.extra[i] ?? 'GET';
    const last = i === job.items.length - 1;
    const closeHdr = last && job.close === 'server-close' ? 'Connection: close\r\n' : '';
    const body = method === 'POST' ? `${path} `.repeat(Math.ceil(postBytes / (path.length + 1))).slice(0, postBytes) : '';
    const bodyHdr = method === 'POST' ? `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n` : '';
    conn.write(`${method} ${path} HTTP/1.1\r\nHost: ${plan.serverIp}\r\nUser-Agent: tcpcopy-ts-recorder\r\n${bodyHdr}${closeHdr}\r\n${body}`);
    const res = await conn.read(parseHttpResponse);
    if (res.status !== 200 || res.body !== expectedBody(path)) {
      throw new Error(`unexpected answer to ${method} ${path}: ${res.status} ${JSON.stringify(res.body.slice(0, 80))}`);
    }
    truth.answered++;
  }
  if (job.close === 'server-close') await conn.waitEnd();
  else await conn.closeAndWait();
}

async function runRedis(plan: ClientPlan, job: Job, conn: Conn, truth: ConnTruth): Promise<void> {
  const depth = job.pipelined ? Math.max(1, plan.redis?.pipelineDepth ?? 1) : 1;
  for (let i = 0; i < job.items.length; i += depth) {
    const n = Math.min(depth, job.items.length - i);
    let out = '';
    for (let k = i; k < i + n; k++) out += respCommand(['SET', job.items[k] as string, job.extra[k] as string]);
    // One write: pipelined commands leave in as few segments as the kernel makes of it.
    conn.write(out);
    for (let k = 0; k < n; k++) {
      const line = await conn.read(parseLine);
      if (line !== '+OK') throw new Error(`redis SET ${job.items[i + k]} answered ${JSON.stringify(line)}`);
      truth.answered++;
    }
  }
  if (job.close === 'server-close') {
    conn.write(respCommand(['QUIT']));
    const line = await conn.read(parseLine);
    if (line !== '+OK') throw new Error(`redis QUIT answered ${JSON.stringify(line)}`);
    await conn.waitEnd();
  } else {
    await conn.closeAndWait();
  }
}

async function runGreeting(job: Job, conn: Conn, truth: ConnTruth): Promise<void> {
  const hello = await conn.read(parseLine);
  if (hello !== '220 hello') throw new Error(`greeting was ${JSON.stringify(hello)}`);
  for (const line of job.items) {
    conn.write(`${line}\r\n`);
    const ack = await conn.read(parseLine);
    if (ack !== `250 ok ${line}`) throw new Error(`line ${JSON.stringify(line)} answered ${JSON.stringify(ack)}`);
    truth.answered++;
  }
  conn.write('QUIT\r\n');
  const bye = await conn.read(parseLine);
  if (bye !== '221 bye') throw new Error(`QUIT answered ${JSON.stringify(bye)}`);
  await conn.waitEnd();
}

export async function runPlan(plan: ClientPlan): Promise<ClientTruth> {
  const jobs = planJobs(plan);
  const t0 = Date.now();
  const results: ConnTruth[] = [];
  const interval = plan.rate > 0 ? 1000 / plan.rate : 0;
  let next = 0;
  let inFlight = 0;
  let slotFree: (() => void) | null = null;
  const running: Promise<void>[] = [];
  const deadline = t0 + plan.deadlineMs;
  let timedOut = 0;
  while (next < jobs.length) {
    const now = Date.now();
    if (now >= deadline) {
      timedOut = jobs.length - next;
      break;
    }
    const due = t0 + next * interval;
    if (due > now) {
      await new Promise((r) => setTimeout(r, due - now));
      continue;
    }
    if (inFlight >= plan.concurrency) {
      await new Promise<void>((resolve) => {
        slotFree = resolve;
      });
      continue;
    }
    const job = jobs[next++] as Job;
    inFlight++;
    running.push(
      runJob(plan, job, t0).then((t) => {
        results.push(t);
        inFlight--;
        const w = slotFree;
        slotFree = null;
        w?.();
      }),
    );
  }
  await Promise.all(running);
  results.sort((a, b) => a.index - b.index);
  const truth: ClientTruth = {
    runId: plan.runId,
    connections: results,
    httpRequests: [],
    redisKeys: [],
    greetingLines: [],
    errors: results.filter((r) => !r.ok).length + timedOut,
    durationMs: Date.now() - t0,
  };
  for (const r of results) {
    const job = jobs[r.index] as Job;
    for (let i = 0; i < r.answered; i++) {
      const item = r.items[i] as string;
      if (r.kind === 'http') truth.httpRequests.push({ method: job.extra[i] ?? 'GET', path: item });
      else if (r.kind === 'redis') truth.redisKeys.push({ key: item, value: job.extra[i] ?? '' });
      else truth.greetingLines.push({ from: r.localAddress, line: item });
    }
  }
  return truth;
}

async function main(): Promise<void> {
  let input = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) input += chunk as string;
  const plan = JSON.parse(input) as ClientPlan;
  const truth = await runPlan(plan);
  process.stdout.write(JSON.stringify(truth) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`recorder-client: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
