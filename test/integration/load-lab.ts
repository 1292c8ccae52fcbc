// Shared set-up of the load-mode tests and benchmark (issue 12): a recording of a few sessions with
// think time (real kernels, a real client and server), a long-poll server for comet runs, and
// `ss` sampling of established connections inside the target namespace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordingPair, type Lab } from '../helpers/lab.js';
import { startNginx, startNodeServer, startTcpdump, tcpdumpDropped, type NodeServer } from '../helpers/servers.js';

/** A client that plays `sessions` keep-alive connections: `requests` GETs, `thinkMs` apart, then closes. */
const THINK_CLIENT = `
import net from 'node:net';
const [host, port, sessions, requests, thinkMs, ips] = process.argv.slice(2);
const addrs = ips.split(',');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function one(i) {
  const sock = net.connect({ host, port: Number(port), localAddress: addrs[i % addrs.length] });
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let buf = '';
  sock.on('data', (d) => { buf += d.toString(); });
  for (let j = 0; j < Number(requests); j++) {
    if (j > 0) await sleep(Number(thinkMs));
    const before = buf.length;
    sock.write('GET /load/s' + i + '/r' + j + ' HTTP/1.1\\r\\nHost: load\\r\\n\\r\\n');
    while (!/\\r\\n\\r\\n[^]*\\n/.test(buf.slice(before))) await sleep(5);
  }
  await sleep(Number(thinkMs));
  sock.end();
  await new Promise((r) => sock.once('close', r));
}
await Promise.all(Array.from({ length: Number(sessions) }, (_, i) => sleep(i * 20).then(() => one(i))));
console.log('done');
`;

/**
 * The replay target of comet runs: holds every request (a long poll) until <dir>/release exists,
 * then answers each held request and closes (the server closes first); while releasing, new
 * requests are answered and closed at once. <dir>/stats.json: live, peak, requests, and how many
 * connections the client closed before the server did.
 */
export const LONG_POLL_SERVER = `
import net from 'node:net';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
const [port, dir, bind] = process.argv.slice(2);
let live = 0, peak = 0, requests = 0, clientClosed = 0, serverClosed = 0, releasing = false;
const held = new Set();
const answer = (s) => { s.serverClosing = true; serverClosed++; s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n'); };
const srv = net.createServer((s) => {
  live++; if (live > peak) peak = live;
  s.on('data', () => { requests++; if (releasing) answer(s); else held.add(s); });
  s.on('end', () => { if (!s.serverClosing) clientClosed++; });
  s.on('error', () => {});
  s.on('close', () => { live--; held.delete(s); });
});
srv.maxConnections = 1e6;
srv.listen({ port: Number(port), host: bind, backlog: 65535 }, () => console.log('listening'));
setInterval(() => {
  if (!releasing && existsSync(dir + '/release')) { releasing = true; for (const s of held) answer(s); held.clear(); }
  // Written aside and renamed: the test never reads a half-written file.
  writeFileSync(dir + '/stats.tmp', JSON.stringify({ live, peak, requests, clientClosed, serverClosed }));
  renameSync(dir + '/stats.tmp', dir + '/stats.json');
}, 200);
`;

/** While recording: answers each request after 100 ms and keeps the connection (a short long poll). */
const RECORD_POLL_SERVER = `
import net from 'node:net';
const [port, , bind] = process.argv.slice(2);
net.createServer((s) => {
  s.on('data', () => setTimeout(() => s.write('HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nevent\\n'), 100));
  s.on('error', () => {});
}).listen({ port: Number(port), host: bind }, () => console.log('listening'));
`;

export interface ThinkRecording {
  pcap: string;
  serverIp: string;
  sessions: number;
  requests: number;
}

/**
 * Records `sessions` connections of `requests` GETs each, `thinkMs` apart, against nginx (or
 * the short long-poll server with `poll`), captured on the server side.
 */
export async function recordThinkSessions(
  lab: Lab,
  o: { sessions: number; requests: number; thinkMs: number; port: number; poll?: boolean },
): Promise<ThinkRecording> {
  const pair = await recordingPair(lab, { aliases: Math.min(o.sessions, 8) });
  let server: NodeServer | null = null;
  if (o.poll === true) server = await startNodeServer(lab, pair.server, RECORD_POLL_SERVER, o.port, pair.serverIp);
  else await startNginx(lab, pair.server, { port: o.port, bind: pair.serverIp, keepalive: 600 });
  const pcap = join(lab.tmpDir, `load-${Date.now()}.pcap`);
  const dump = await startTcpdump(lab, pair.server, pair.serverIf, `tcp port ${o.port}`, pcap, { snaplen: 4096 });
  const script = join(lab.mkdir('think-client'), 'client.mjs');
  writeFileSync(script, THINK_CLIENT);
  const client = lab.spawn(pair.client, process.execPath, [
    script, pair.serverIp, String(o.port), String(o.sessions), String(o.requests), String(o.thinkMs), pair.clientIps.join(','),
  ]);
  const res = await client.exited;
  if (res.code !== 0) throw new Error(`recording client failed (${res.code}): ${client.stderr}`);
  await new Promise((r) => setTimeout(r, 200));
  const summary = await dump.stop();
  if (tcpdumpDropped(summary) !== 0) throw new Error(`the recording lost packets: ${summary}`);
  await server?.stop();
  return { pcap, serverIp: pair.serverIp, sessions: o.sessions, requests: o.requests };
}

/** Established TCP connections to local port `port` inside `ns` (ss, counted by the kernel). */
export async function establishedCount(lab: Lab, ns: string, port: number): Promise<number> {
  // Counted by wc: at 150,000 connections ss prints megabytes.
  const r = await lab.exec(ns, 'sh', ['-c', `ss -Htn state established '( sport = :${port} )' | wc -l`]);
  return Number(r.stdout.trim());
}

/**
 * Established TCP connections of a whole namespace (Tcp CurrEstab in /proc/net/snmp): O(1) for
 * the kernel, unlike listing 150,000 sockets with ss every second, which took CPU from the run
 * it measured. Counts every connection of the namespace (subtract a baseline).
 */
export async function currEstab(lab: Lab, ns: string): Promise<number> {
  const lines = (await lab.exec(ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(' ');
  const vals = (lines[1] ?? '').split(' ');
  return Number(vals[names.indexOf('CurrEstab')] ?? NaN);
}

/** Raise a target namespace's limits for many connections (accept queue, SYN backlog, ports). */
export async function raiseTargetLimits(lab: Lab, ns: string): Promise<void> {
  await lab.sysctl(ns, {
    'net.core.somaxconn': '65535',
    'net.ipv4.tcp_max_syn_backlog': '262144',
    'net.ipv4.tcp_syncookies': '0',
  });
}
