// Shared set-up of the replay-report tests (issue 13): a recording of our own small workloads in
// both directions (client ns ── server ns, tcpdump without a direction filter), Node test servers
// that answer like the recorded ones except where a test wants them to differ, and the report
// files read back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordingPair, type Lab, type RecordingPair } from '../helpers/lab.js';
import { startTcpdump } from '../helpers/servers.js';
import type { ReplayReport } from '../../src/core/report/report-types.js';

/**
 * An HTTP/1.1 keep-alive client for `node client.mjs <plan.json>`: each connection (bound to its
 * client address) sends its paths one after the other and reads each answer whole
 * (Content-Length framing) before the next; prints "done <n>" at the end.
 */
export const HTTP_CLIENT = `
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let answered = 0;
async function run(c) {
  const s = connect({ host: plan.server, port: plan.port, localAddress: c.from });
  await new Promise((r, j) => { s.once('connect', r); s.once('error', j); });
  let buf = Buffer.alloc(0);
  let wake = null;
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (wake) wake(); });
  const more = () => new Promise((r) => (wake = r));
  for (const path of c.paths) {
    s.write('GET ' + path + ' HTTP/1.1\\r\\nHost: ' + plan.server + '\\r\\nUser-Agent: report-test\\r\\n\\r\\n');
    for (;;) {
      const end = buf.indexOf('\\r\\n\\r\\n');
      if (end >= 0) {
        const len = Number(/content-length: *(\\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
        if (buf.length >= end + 4 + len) { buf = buf.subarray(end + 4 + len); answered++; break; }
      }
      await more();
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  s.end();
  await new Promise((r) => s.once('close', r));
}
const conns = plan.conns;
for (let i = 0; i < conns.length; i += 4) await Promise.all(conns.slice(i, i + 4).map(run));
console.log('done ' + answered);
`;

/**
 * The same for Redis: each connection sends its commands (arrays of strings) one at a time and
 * reads each whole reply (simple, error, integer, bulk and nil replies) before the next.
 */
export const REDIS_CLIENT = `
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let answered = 0;
function replyEnd(b) {
  const nl = b.indexOf('\\r\\n');
  if (nl < 0) return -1;
  if (b[0] !== 0x24) return nl + 2;
  const n = Number(b.subarray(1, nl).toString());
  if (n < 0) return nl + 2;
  return b.length >= nl + 2 + n + 2 ? nl + 2 + n + 2 : -1;
}
async function run(c) {
  const s = connect({ host: plan.server, port: plan.port, localAddress: c.from });
  await new Promise((r, j) => { s.once('connect', r); s.once('error', j); });
  let buf = Buffer.alloc(0);
  let wake = null;
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (wake) wake(); });
  const more = () => new Promise((r) => (wake = r));
  for (const cmd of c.paths) {
    s.write('*' + cmd.length + '\\r\\n' + cmd.map((a) => '$' + Buffer.byteLength(a) + '\\r\\n' + a + '\\r\\n').join(''));
    for (;;) {
      const end = replyEnd(buf);
      if (end >= 0) { buf = buf.subarray(end); answered++; break; }
      await more();
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  s.end();
  await new Promise((r) => s.once('close', r));
}
const conns = plan.conns;
for (let i = 0; i < conns.length; i += 4) await Promise.all(conns.slice(i, i + 4).map(run));
console.log('done ' + answered);
`;

/** Per connection: its client address and its requests (HTTP paths, or Redis commands as arrays). */
export interface WorkloadPlan {
  conns: { from: string; paths: (string | string[])[] }[];
}

/**
 * Records `plan` against a server started by `startServer` in the server namespace (both
 * directions captured), with one of the clients above in the client namespace.
 */
export async function recordWorkload(
  lab: Lab,
  port: number,
  clientScript: string,
  startServer: (pair: RecordingPair) => Promise<unknown>,
  makePlan: (pair: RecordingPair) => WorkloadPlan,
): Promise<{ pcap: string; pair: RecordingPair; requests: number }> {
  const pair = await recordingPair(lab, { aliases: 4 });
  await startServer(pair);
  const pcap = join(lab.tmpDir, `report-${Date.now()}.pcap`);
  const dump = await startTcpdump(lab, pair.server, pair.serverIf, `tcp port ${port}`, pcap, { snaplen: 4096 });
  const plan = makePlan(pair);
  const dir = lab.mkdir('client');
  const planFile = join(dir, 'plan.json');
  const script = join(dir, 'client.mjs');
  writeFileSync(planFile, JSON.stringify({ server: pair.serverIp, port, conns: plan.conns }));
  writeFileSync(script, clientScript);
  const client = lab.spawn(pair.client, process.execPath, [script, planFile]);
  const res = await client.exited;
  assert.equal(res.code, 0, `recording client failed: ${client.stderr}`);
  await new Promise((r) => setTimeout(r, 200));
  await dump.stop();
  const requests = plan.conns.reduce((n, c) => n + c.paths.length, 0);
  assert.match(client.stdout, new RegExp(`done ${requests}`));
  return { pcap, pair, requests };
}

export function readReport(path: string): ReplayReport & { testPayload?: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as ReplayReport & { testPayload?: string };
}

/** Mismatched requests per endpoint for one target. */
export function mismatchesByEndpoint(r: ReplayReport, target = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) {
    const t = e.targets.find((x) => x.target === target);
    if (t !== undefined && t.mismatched > 0) out[e.endpoint] = t.mismatched;
  }
  return out;
}

/** p50 of first-byte latency (µs) of one side for one endpoint. */
export function p50(r: ReplayReport, endpoint: string, side: 'reference' | number): number {
  const e = r.endpoints.find((x) => x.endpoint === endpoint);
  const s = e?.latency.find((l) => l.side === side);
  const v = s?.firstByte?.p50;
  assert.ok(v !== undefined && v !== null, `no ${String(side)} latency for ${endpoint}`);
  return v;
}
