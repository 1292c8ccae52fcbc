/**
 * Report core benchmark (no I/O): exchanges per second through ReportAggregator and heap held
 * after the run, per workload. The report must stay cheap next to the copier (issue 13: ≤ 25%
 * more copier CPU with --report) and bounded on long runs (heap flat as exchanges grow).
 *
 *   npx tsc -p tsconfig.json && node --expose-gc dist/scripts/bench/report-core.js [exchanges (200000)]
 *
 * Workloads: http-small (200-byte bodies, 1 target, 1% status mismatches), http-json (4 KiB JSON
 * bodies, an ignored JSON path), http-64k (64 KiB bodies), redis (GET bulk replies), diffy
 * (three targets, a noisy Date header), worst (every request a mismatch on a new endpoint and
 * session: the caps at work). Heap growth is heapUsed after a forced gc minus before the run: it
 * stays flat from N/10 to N once the kept mismatches reach their cap (small negative values are
 * the previous workload's garbage collected meanwhile).
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { ReportAggregator } from '../../src/core/report/aggregator.js';
import type { Answer, Exchange, ReportRun } from '../../src/core/report/exchange.js';
import { parseIgnoreJsonPath } from '../../src/core/config/report-rules.js';
import { captureRun, diffyRun, httpResponse, resp } from '../../test/helpers/report-exchanges.js';

const N = Number(process.argv[2] ?? 200_000);

function ans(bytes: Buffer, us: number): Answer {
  return { bytes, size: bytes.length, firstByteUs: us, lastByteUs: us + 50, end: 'complete' };
}

interface Workload {
  name: string;
  run: ReportRun;
  options?: ConstructorParameters<typeof ReportAggregator>[1];
  make(i: number): Exchange;
}

function httpWorkload(name: string, body: (i: number) => string, ctype = 'text/plain', options?: Workload['options']): Workload {
  const ok = Buffer.from(httpResponse(200, body(0), { 'Content-Type': ctype }));
  const requests = Array.from({ length: 64 }, (_, k) => Buffer.from(`GET /items/${k * 7919}?x=${k} HTTP/1.1\r\nHost: shop\r\nUser-Agent: bench\r\n\r\n`));
  return {
    name,
    run: captureRun(),
    options,
    make(i) {
      const request = requests[i % requests.length] as Buffer;
      const test = i % 100 === 0 ? Buffer.from(httpResponse(503, body(i), { 'Content-Type': ctype })) : ctype.includes('json') ? Buffer.from(httpResponse(200, body(i), { 'Content-Type': ctype })) : ok;
      return { session: `10.0.0.5:${1024 + (i % 60000)}>10.0.0.1:80`, index: i % 7, servicePort: 80, request, requestSize: request.length, reference: ans(ok, 800 + (i % 500)), tests: [ans(test, 900 + (i % 700))] };
    },
  };
}

const json = (i: number): string => JSON.stringify({ meta: { requestId: `r${i}` }, items: Array.from({ length: 40 }, (_, k) => ({ id: k, name: `item ${k}`, price: k * 3 })) });

const workloads: Workload[] = [
  httpWorkload('http-small', () => 'x'.repeat(200)),
  httpWorkload('http-json', json, 'application/json', { ignore: [parseIgnoreJsonPath('$.meta.requestId')] }),
  httpWorkload('http-64k', () => 'y'.repeat(65536)),
  (() => {
    const reply = Buffer.from('$16\r\nvalue-0123456789\r\n');
    const reqs = Array.from({ length: 100 }, (_, k) => Buffer.from(resp('GET', `user:${k}`)));
    return {
      name: 'redis',
      run: captureRun(),
      make: (i: number): Exchange => ({ session: `c${i % 1000}`, index: i, servicePort: 6379, request: reqs[i % 100] as Buffer, requestSize: 20, reference: ans(reply, 100), tests: [ans(reply, 120)] }),
    };
  })(),
  (() => {
    const page = (k: number): Buffer => Buffer.from(httpResponse(200, 'z'.repeat(500), { Date: `Wed, 02 Dec 2026 08:00:0${k} GMT`, 'Content-Type': 'text/html' }));
    const a = [page(0), page(1), page(2)];
    const request = Buffer.from('GET /home HTTP/1.1\r\nHost: shop\r\n\r\n');
    return {
      name: 'diffy',
      run: diffyRun(),
      make: (i: number): Exchange => ({ session: `s${i}`, index: 0, servicePort: 80, request, requestSize: request.length, reference: null, tests: a.map((b, k) => ans(b, 1000 + k * 10 + (i % 300))) }),
    };
  })(),
  (() => {
    const ref = Buffer.from(httpResponse(200, 'a'.repeat(300)));
    const test = Buffer.from(httpResponse(200, 'b'.repeat(300)));
    return {
      name: 'worst',
      run: captureRun(),
      make: (i: number): Exchange => {
        const request = Buffer.from(`GET /p${i}/x HTTP/1.1\r\n\r\n`);
        return { session: `s${i}`, index: 0, servicePort: 80, request, requestSize: request.length, reference: ans(ref, 1000), tests: [ans(test, i % 100_000)] };
      },
    };
  })(),
];

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

console.log(`report core, ${N} exchanges per workload${gc === undefined ? ' (run with --expose-gc for heap numbers)' : ''}\n`);
console.log('| workload | exchanges/s | µs/exchange | mismatches (kept) | heap growth MiB (at N/10 → at N) |');
console.log('|---|---:|---:|---:|---:|');
for (const w of workloads) {
  const xs = Array.from({ length: 1000 }, (_, i) => w.make(i));
  const before = heap();
  const agg = new ReportAggregator(w.run, w.options);
  let tenth = 0;
  let gcMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    // Prebuilt exchanges past the first 1000 keep the generator out of the timing ('worst' needs new endpoints).
    agg.exchange(i < 1000 || w.name === 'worst' ? w.make(i) : (xs[i % 1000] as Exchange));
    if (i === Math.floor(N / 10)) {
      const t = performance.now();
      tenth = heap() - before;
      gcMs += performance.now() - t;
    }
  }
  const ms = performance.now() - t0 - gcMs;
  const r = agg.report('bench');
  const held = heap() - before;
  const mismatched = r.totals.targets.reduce((n, t) => n + t.mismatched, 0);
  console.log(`| ${w.name} | ${Math.round((N / ms) * 1000).toLocaleString('en')} | ${((ms * 1000) / N).toFixed(2)} | ${mismatched} (${r.mismatches.length}) | ${(tenth / 1048576).toFixed(1)} → ${(held / 1048576).toFixed(1)} |`);
}
