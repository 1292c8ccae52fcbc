// Shared set-up of the live-copy tests: the three-host topology of docs/LAB.md (clients ── online
// server with tcpcopy capturing ── test server with intercept), real curl clients from many
// addresses, and a tcpcopy process that captures live until it is signalled.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS, cliPath } from '../helpers/paths.js';
import type { Lab, LabProcess, Subnet } from '../helpers/lab.js';
import { parseSummary, type ReplaySummary } from './replay-lab.js';

export interface LiveNet {
  client: string;
  online: string;
  target: string;
  /** The online server's interface towards the clients, and its address there. */
  onlineIf: string;
  onlineIp: string;
  /** The online server's interface and address towards the test server. */
  onlineBackIf: string;
  onlineBackIp: string;
  targetIp: string;
  clientIps: string[];
  clientSubnet: Subnet;
}

/**
 * client ns (N aliases) ── veth ── online ns ── veth ── target ns. The target routes everything
 * (the client range included) back towards the online host, so its answers to the copied
 * clients reach OUTPUT, where intercept's rule takes them.
 */
export async function liveNet(lab: Lab, aliases: number): Promise<LiveNet> {
  const client = await lab.addNamespace('client');
  const online = await lab.addNamespace('online');
  const target = await lab.addNamespace('target');
  const front = await lab.addVeth(client, online);
  const back = await lab.addVeth(online, target);
  const a = await lab.allocSubnet();
  const b = await lab.allocSubnet();
  const clientIps = Array.from({ length: aliases }, (_, i) => a.host(10 + i));
  await lab.addAliases(client, front.a, clientIps);
  await lab.addAddress(online, front.b, `${a.host(1)}/24`);
  await lab.addAddress(online, back.a, `${b.host(1)}/24`);
  await lab.addAddress(target, back.b, `${b.host(2)}/24`);
  await lab.addRoute(target, ['default', 'via', b.host(1)]);
  return {
    client,
    online,
    target,
    onlineIf: front.b,
    onlineIp: a.host(1),
    onlineBackIf: back.a,
    onlineBackIp: b.host(1),
    targetIp: b.host(2),
    clientIps,
    clientSubnet: a,
  };
}

export interface CurlJob {
  /** Source address (curl --interface). */
  from: string;
  /** Fetched in order on one connection (keep-alive) when more than one. */
  urls: string[];
}

export interface CurlResult {
  requests: number;
  /** Status codes other than 200, and curl failures. */
  errors: string[];
  /** Transfers that reused a connection (num_connects 0): proof of keep-alive. */
  reused: number;
}

/** Runs the jobs with real curl processes in `ns`, `concurrency` at a time. */
export async function curlJobs(lab: Lab, ns: string, jobs: readonly CurlJob[], concurrency = 8): Promise<CurlResult> {
  const res: CurlResult = { requests: 0, errors: [], reused: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as CurlJob;
      const args = ['-s', '--max-time', '10', '--interface', job.from, '-w', '%{http_code} %{num_connects}\\n'];
      for (const u of job.urls) args.push('-o', '/dev/null', u);
      const r = await lab.exec(ns, 'curl', args, { check: false, timeoutMs: 30_000 });
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      if (r.code !== 0) res.errors.push(`curl exit ${r.code} from ${job.from}: ${r.stderr.trim()}`);
      for (const l of lines) {
        const [code, connects] = l.split(' ');
        res.requests++;
        if (code !== '200') res.errors.push(`HTTP ${code} from ${job.from}`);
        if (connects === '0') res.reused++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return res;
}

/**
 * `total` requests to `base` (http://ip:port) as jobs of 1..6 requests per connection, spread
 * round-robin over the client addresses; paths /<tag>/<n> are unique.
 */
export function mixedJobs(clientIps: readonly string[], base: string, tag: string, total: number): CurlJob[] {
  const sizes = [1, 3, 1, 6, 2, 1, 4];
  const jobs: CurlJob[] = [];
  let n = 0;
  for (let j = 0; n < total; j++) {
    const k = Math.min(sizes[j % sizes.length] as number, total - n);
    jobs.push({ from: clientIps[j % clientIps.length] as string, urls: Array.from({ length: k }, () => `${base}/${tag}/${n++}`) });
  }
  return jobs;
}

export interface LiveCopier {
  proc: LabProcess;
  /** SIGTERM, wait for the exit (killed after timeoutMs), parse the summary. */
  stop(timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string; summary: ReplaySummary }>;
}

/** Starts tcpcopy in `ns` and waits until it captures (its "copying live capture" line). */
export async function startLiveCopier(lab: Lab, ns: string, args: readonly string[]): Promise<LiveCopier> {
  // Benchmarks: TCPCOPY_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the copier (as in scripts/bench/replay.ts).
  const nodeArgs = (process.env.TCPCOPY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const proc = lab.spawn(ns, process.execPath, [...NODE_FLAGS.tcpcopy, ...nodeArgs, cliPath('tcpcopy'), '--stats-interval', '0', ...args]);
  await proc.waitFor(/copying live capture on .* through [1-9]/, 'stderr', 20_000);
  return {
    proc,
    async stop(timeoutMs = 15_000) {
      proc.signal('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([proc.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
      clearTimeout(timer);
      if (exit === null) {
        await proc.stop('SIGKILL', 1000);
        assert.fail(`tcpcopy did not exit within ${timeoutMs} ms of SIGTERM\n${proc.stderr.slice(-3000)}`);
      }
      return { code: exit.code, stdout: proc.stdout, stderr: proc.stderr, summary: parseSummary(proc.stdout) };
    },
  };
}

/**
 * Polls until `count()` reaches `want` (or the time is up); returns the last count. `count` may
 * be asynchronous (e.g. a DBSIZE through redis-cli).
 */
export async function waitCount(count: () => number | Promise<number>, want: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = await count();
  while (n < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    n = await count();
  }
  return n;
}

/**
 * A client that opens `conns` keep-alive connections and sends request 1 on each, then waits for
 * the file <dir>/go and sends requests 2..`perConn` on the same connections, one at a time per
 * connection, and closes them once <dir>/end exists. Paths /pre/<conn>/<req>. Prints "opened"
 * once every first response arrived, "sent" after the last response, and at the end one JSON
 * line { ok, errors }.
 */
export function keepAliveClientScript(dir: string): string {
  const file = join(dir, 'ka-client.mjs');
  writeFileSync(
    file,
    `import net from 'node:net';
import { existsSync } from 'node:fs';
const [target, port, conns, perConn, dir, ...froms] = process.argv.slice(2);
const go = dir + '/go';
let ok = 0; const errors = [];
function request(sock, path) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\\r\\n\\r\\n');
      if (end < 0) return;
      const len = Number(/content-length: *(\\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      sock.off('data', onData);
      if (/^HTTP\\/1\\.1 200/.test(buf)) { ok++; resolve(); } else reject(new Error(buf.split('\\r\\n')[0]));
    };
    sock.on('data', onData);
    sock.write('GET ' + path + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
  });
}
const socks = [];
for (let i = 0; i < Number(conns); i++) {
  const sock = net.connect({ host: target, port: Number(port), localAddress: froms[i % froms.length] });
  sock.on('error', (e) => errors.push(String(e)));
  await new Promise((r) => sock.once('connect', r));
  await request(sock, '/pre/' + i + '/1');
  socks.push(sock);
}
console.log('opened');
for (let t = 0; !existsSync(go) && t < 600; t++) await new Promise((r) => setTimeout(r, 50));
await Promise.all(socks.map(async (sock, i) => {
  for (let k = 2; k <= Number(perConn); k++) {
    try { await request(sock, '/pre/' + i + '/' + k); } catch (e) { errors.push(String(e)); }
  }
}));
console.log('sent');
for (let t = 0; !existsSync(dir + '/end') && t < 600; t++) await new Promise((r) => setTimeout(r, 50));
for (const sock of socks) sock.end();
console.log(JSON.stringify({ ok, errors }));
`,
  );
  return file;
}
