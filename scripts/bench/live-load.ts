/**
 * The online benchmarks' load: a fixed-rate open-loop HTTP or Redis generator run in the client namespace,
 * and what online.ts and recordings.ts measure around it (process CPU, the paths a server logged,
 * waiting for a count to settle).
 */
import { readFileSync } from 'node:fs';
import type { Lab } from '../../test/helpers/lab.js';
import type { Nginx } from '../../test/helpers/servers.js';
import type { LiveNet } from '../../test/integration/live-lab.js';

// Fixed-rate open-loop generator: connection i starts at i / rate seconds, whatever the earlier
// ones are doing (bounded at 20k in flight); prints one JSON line. One request per connection:
// http, a GET of /PREFIX/i with Connection: close (the server closes first); redis, a SET of
// PREFIX:i to a 16-64 byte value, the client closing once +OK is in (as redis clients do).
// HOST may be "A/B/MS": connections then alternate between A and B in MS-long phases by their
// scheduled start (after a 1 s unmeasured lead-in to B); those to B use PREFIX-b and are reported
// apart under "b".
export const LOADGEN = `
import net from 'node:net';
import { performance } from 'node:perf_hooks';
const [hostArg, port, rate, durMs, prefix, proto, ...froms] = process.argv.slice(2);
const [hostA, hostB, phaseArg] = hostArg.split('/');
const phaseMs = hostB ? Number(phaseArg) : Infinity;
// Alternating: the first second goes to B unmeasured (PREFIX-lead), so the generator's own
// cold start (JIT, first connects) lands on neither side.
const leadMs = hostB ? 1000 : 0;
const redis = proto === 'redis';
const setCmd = (pre, i) => {
  const k = pre + ':' + i;
  const v = 'v' + i + '-'.repeat(16 + (i % 49));
  return '*3\\r\\n$3\\r\\nSET\\r\\n$' + k.length + '\\r\\n' + k + '\\r\\n$' + v.length + '\\r\\n' + v + '\\r\\n';
};
const R = Number(rate), D = Number(durMs) + leadMs;
const side = () => ({ launched: 0, ok: 0, errs: 0, lat: [] });
const sides = [side(), side(), side()];
let launched = 0, inflight = 0;
const t0 = performance.now();
function one(i) {
  const at = (i * 1000) / R;
  const b = at < leadMs ? 2 : Math.floor((at - leadMs) / phaseMs) % 2;
  const st = sides[b];
  const n = st.launched++;
  const pre = b === 0 ? prefix : b === 1 ? prefix + '-b' : prefix + '-lead';
  inflight++;
  const start = performance.now();
  let buf = '';
  let done = false;
  const finish = (good) => { if (done) return; done = true; inflight--; if (good) { st.ok++; st.lat.push(performance.now() - start); } else st.errs++; };
  const s = net.connect({ host: b === 0 ? hostA : hostB, port: Number(port), localAddress: froms[i % froms.length] });
  s.setNoDelay(true);
  s.setTimeout(10000, () => s.destroy());
  s.on('connect', () => s.write(redis ? setCmd(pre, n) : 'GET /' + pre + '/' + n + ' HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
  s.on('data', (d) => {
    buf += d.toString('latin1');
    if (redis && buf.endsWith('\\r\\n')) { finish(buf === '+OK\\r\\n'); s.end(); }
  });
  s.on('end', () => { finish(buf.startsWith('HTTP/1.1 200')); s.destroy(); });
  s.on('close', () => finish(false));
  s.on('error', () => {});
}
const timer = setInterval(() => {
  const el = performance.now() - t0;
  const due = Math.min(Math.floor((el * R) / 1000), Math.floor((D * R) / 1000));
  while (launched < due && inflight < 20000) one(launched++);
  if (el >= D) {
    clearInterval(timer);
    const secs = (el - leadMs) / 1000;
    const wait = setInterval(() => {
      if (inflight > 0 && performance.now() - t0 < D + 10000) return;
      clearInterval(wait);
      const out = (st, share) => {
        st.lat.sort((a, b) => a - b);
        const q = (p) => (st.lat.length ? st.lat[Math.min(st.lat.length - 1, Math.floor(p * st.lat.length))] : NaN);
        return { launched: st.launched, ok: st.ok, errs: st.errs, achieved: st.launched / (secs * share), p50: q(0.5), p99: q(0.99) };
      };
      const r = out(sides[0], hostB ? 0.5 : 1);
      if (hostB) r.b = out(sides[1], 0.5);
      console.log(JSON.stringify(r));
      process.exit(0);
    }, 20);
  }
}, 1);
`;

export interface LoadResult {
  launched: number;
  ok: number;
  errs: number;
  achieved: number;
  p50: number;
  p99: number;
  /** With an alternate host: what went there (paths/keys under PREFIX-b). */
  b?: LoadResult;
}

/** utime and stime of a process, in ms (Linux USER_HZ = 100). */
export function cpuMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

export type LoadProto = 'http' | 'redis';

/**
 * Runs the generator against the online server's copied address; with `alternate`, connections
 * take turns between it and `alternate.host` in `alternate.phaseMs`-long phases (result `b`).
 */
export async function load(
  lab: Lab,
  net: LiveNet,
  file: string,
  rate: number,
  ms: number,
  prefix: string,
  proto: LoadProto = 'http',
  alternate?: { host: string; phaseMs: number },
): Promise<LoadResult> {
  const port = proto === 'redis' ? '6379' : '80';
  const host = alternate ? `${net.onlineIp}/${alternate.host}/${alternate.phaseMs}` : net.onlineIp;
  const r = await lab.exec(net.client, process.execPath, [file, host, port, String(rate), String(ms), prefix, proto, ...net.clientIps], { timeoutMs: ms + 30_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as LoadResult;
}

export const paths = (n: Nginx, prefix: string): string[] => n.readAccessLog().map((e) => e.path).filter((p) => p.startsWith(`/${prefix}/`));

/** Waits until the count stops growing for 1.5 s (at most 20 s). */
export async function settle(count: () => number | Promise<number>, want: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const n = await count();
    if (n >= want) return;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 1500) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

