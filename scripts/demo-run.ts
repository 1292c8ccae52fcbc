// The demo behind scripts/demo.sh (compiled to dist/scripts/demo-run.js; run as root).
//
// Builds a private two-host lab out of network namespaces (copier ns ── veth ── target ns, names
// unique per run, the same helper the integration tests use), starts a target HTTP server (nginx
// when installed, else a small built-in Node server) and intercept with its NFQUEUE rule in the
// target namespace, replays the bundled capture with tcpcopy from the copier namespace, and prints
// what the target server itself logged next to what the copier says it sent. Everything is torn
// down at the end, also on Ctrl-C (the lab's SIGINT/SIGTERM handlers).
//
//   node dist/scripts/demo-run.js [--server nginx|node] [--pcap FILE] [--keep-log FILE]
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createLab, requireRoot, twoHost, type Lab, type LabProcess } from '../test/helpers/lab.js';
import { startNginx, startNodeServer, startTcpdump } from '../test/helpers/servers.js';
import { cliPath, fixturesDir, repoRoot } from '../test/helpers/paths.js';

interface SampleMeta {
  server: string;
  connections: number;
  requests: number;
  requestList: string[];
}

/** The fallback target: keep-alive HTTP/1.1, every path answers 200, one log line per request. */
const NODE_HTTP_SERVER = `
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const [port, dir, bind] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const log = join(dir, 'access.log');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    appendFileSync(log, String(req.socket.remoteAddress).replace(/^::ffff:/, '') + ' ' + req.method + ' ' + req.url + '\\n');
    const body = 'ok ' + req.url + '\\n';
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(port, bind, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

function usage(msg: string): never {
  process.stderr.write(`demo: ${msg}\nusage: demo-run.js [--server nginx|node] [--pcap FILE] [--keep-log FILE]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { server: 'nginx' | 'node' | 'auto'; pcap: string; keepLog: string | null } {
  let server: 'nginx' | 'node' | 'auto' = 'auto';
  let pcap = join(fixturesDir, 'demo', 'http-sample.pcap');
  let keepLog: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--server' && (v === 'nginx' || v === 'node')) server = v;
    else if (a === '--pcap' && v !== undefined) pcap = v;
    else if (a === '--keep-log' && v !== undefined) keepLog = v;
    else usage(`unknown or incomplete argument '${a ?? ''}'`);
    i++;
  }
  return { server, pcap, keepLog };
}

/** Multiset difference a − b. */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const x of b) count.set(x, (count.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = count.get(x) ?? 0;
    if (n > 0) count.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const skip = requireRoot();
  if (skip) {
    process.stderr.write(`demo: ${skip} (network namespaces, iptables, NFQUEUE and raw sockets): sudo bash scripts/demo.sh\n`);
    return 1;
  }
  const metaPath = args.pcap.replace(/\.pcap$/, '.json');
  if (!existsSync(args.pcap)) usage(`capture not found: ${args.pcap}`);
  const meta: SampleMeta | null = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as SampleMeta) : null;
  const port = meta !== null ? Number(meta.server.split(':')[1] ?? 80) : 80;
  const useNginx = args.server === 'nginx' || (args.server === 'auto' && ['/usr/sbin/nginx', '/usr/bin/nginx'].some((p) => existsSync(p)));

  const t0 = Date.now();
  const lab: Lab = await createLab({ name: 'demo' });
  try {
    let net = await twoHost(lab);
    // The capture's own client subnet must not be on-link at the target (it would ARP for them).
    const captureNet = meta?.server.split('.').slice(0, 3).join('.');
    if (net.subnet.base === captureNet) net = await twoHost(lab);
    say(`lab ${lab.id}: ${net.copier} (${net.copierIp}, tcpcopy) ── veth ── ${net.target} (${net.targetIp}, server + intercept)`);

    // Target server.
    let readLog: () => string[];
    let logFile: string;
    if (useNginx) {
      const nginx = await startNginx(lab, net.target, { port, bind: net.targetIp });
      readLog = () => nginx.readAccessLog().map((e) => `${e.method} ${e.path}`);
      logFile = nginx.accessLog;
    } else {
      const node = await startNodeServer(lab, net.target, NODE_HTTP_SERVER, port, net.targetIp);
      logFile = join(node.dir, 'access.log');
      readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ').slice(1).join(' ')) : []);
    }
    say(`target: ${useNginx ? 'nginx' : 'built-in Node HTTP server'} on ${net.targetIp}:${port}`);

    // The interceptor's rule (the same script operators use), then intercept itself.
    const rule = await lab.exec(net.target, 'bash', [join(repoRoot, 'scripts', 'intercept-rules.sh'), 'add', '--port', String(port)]);
    say(`rule: ${rule.stdout.trim().replace(/^added: +/, '')}`);
    const intercept: LabProcess = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--stats-interval', '0']);
    await intercept.waitFor(/intercept ready/, 'stderr', 15_000);
    say(`intercept: running (pid ${intercept.pid}), copiers connect to ${net.targetIp}:36524`);

    // Leak check: no answer from the service port may reach the copier side.
    const leakFile = join(lab.mkdir('leak'), 'leak.pcap');
    const leak = await startTcpdump(lab, net.copier, net.copierIf, `tcp and src port ${port}`, leakFile);

    const pcapShown = relative(process.cwd(), args.pcap) || args.pcap;
    say(`replaying ${pcapShown}` + (meta !== null ? ` (${meta.connections} connections, ${meta.requests} HTTP requests recorded from real traffic)` : ''));
    const cmd = ['-x', `${port}-${net.targetIp}:${port}`, '-s', net.targetIp, '-i', args.pcap, '--quiet'];
    say(`tcpcopy ${cmd.join(' ')}`);
    const r0 = Date.now();
    const tcpcopy = lab.spawn(net.copier, process.execPath, [cliPath('tcpcopy'), ...cmd]);
    const exit = await tcpcopy.exited;
    const replayMs = Date.now() - r0;
    for (const line of tcpcopy.stdout.split('\n')) if (line.trim() !== '') process.stdout.write(`  | ${line}\n`);
    if (exit.code !== 0) {
      process.stdout.write(tcpcopy.stderr.split('\n').map((l) => `  ! ${l}`).join('\n') + '\n');
      say(`tcpcopy exited with status ${exit.code ?? exit.signal}`);
    }
    await new Promise((r) => setTimeout(r, 300)); // last log lines
    const leakSummary = await leak.stop();
    const leaked = Number(/(\d+) packets? captured/.exec(leakSummary)?.[1] ?? NaN);

    const sessions = /sessions: (\d+) started[^,]*, (\d+) established/.exec(tcpcopy.stdout);
    const sent = /requests (\d+)/.exec(tcpcopy.stdout);
    const logged = readLog();
    if (args.keepLog !== null) copyFileSync(logFile, args.keepLog);

    process.stdout.write('\nresults\n');
    const row = (k: string, v: string): void => void process.stdout.write(`  ${k.padEnd(20)}${v}\n`);
    row('sessions', sessions !== null ? `${sessions[1]} started, ${sessions[2]} established` : 'unknown (no tcpcopy summary)');
    if (meta !== null) row('requests recorded', String(meta.requests));
    row('requests sent', sent !== null ? `${sent[1]} (tcpcopy's count)` : 'unknown');
    row('requests logged', `${logged.length} (the target server's own access log)`);
    let fidelityOk = true;
    if (meta !== null) {
      const missing = minus(meta.requestList, logged);
      const extra = minus(logged, meta.requestList);
      const exact = meta.requests - missing.length;
      fidelityOk = missing.length === 0 && extra.length === 0;
      row('fidelity', `${((100 * exact) / Math.max(1, meta.requests)).toFixed(1)}% (${exact} of ${meta.requests} recorded requests arrived, method and path; ${missing.length} missing, ${extra.length} unexpected)`);
    }
    row('leaked responses', Number.isNaN(leaked) ? 'unknown' : `${leaked} (tcpdump on the copier side of the veth, from :${port})`);
    row('time', `replay ${(replayMs / 1000).toFixed(2)} s, whole demo ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const good = exit.code === 0 && fidelityOk && leaked === 0;
    say(good ? 'done: every recorded request reached the test server, no response left it' : 'done, with differences (see above)');
    return good ? 0 : 1;
  } finally {
    await lab.destroy();
  }
}

process.exitCode = await main();
