// Traffic recorder: real clients (bound to many alias addresses) talk to real servers (nginx,
// redis-server, the greeting server) across a veth while tcpdump records the server side. The
// result is a pcap plus the ground truth of what was sent, for replay tests and fixtures.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Lab } from './lab.js';
import { recordingPair, type RecordingPair } from './lab.js';
import { startNginx, startRedis, startGreetingServer, startTcpdump, tcpdumpDropped, type Nginx, type Redis, type GreetingServer } from './servers.js';
import { sizedBody, sizedPath, type ClientPlan, type ClientTruth } from './recorder-client.js';

export type { ClientTruth, ConnTruth, ConnKind, CloseMode } from './recorder-client.js';

export interface RecordOptions {
  /** Client alias addresses (1..240). Default 10. */
  aliases?: number;
  /** Reuse a pair made earlier (its servers are started here). Default: a new recordingPair. */
  pair?: RecordingPair;
  /** Leave checksum/TSO offload on (captures then hold partial checksums, super-packets). */
  offload?: boolean;
  http?: {
    connections: number;
    /** Cycled per connection. Default [1, 3, 5]. */
    requestsPerConn?: number[];
    /** Every n-th request is a POST with a postBytes body (multi-segment). Default 0 (never). */
    postEvery?: number;
    postBytes?: number;
    port?: number;
    /**
     * Response sizes in bytes: nginx then serves static files of these sizes (a directory made
     * here, `Recording.httpRoot`) and each request GETs one, picked deterministically.
     */
    bodySizes?: number[];
  };
  redis?: {
    connections: number;
    keys: number;
    /** Commands written at once on pipelined connections (every other one). Default 8. */
    pipelineDepth?: number;
    port?: number;
  };
  greeting?: {
    connections: number;
    linesPerConn?: number;
    port?: number;
  };
  /** New connections per second; 0 = unpaced. Default 500. */
  rate?: number;
  /** Connections open at once. Default 64. */
  concurrency?: number;
  idleTimeoutMs?: number;
  /** Stop starting connections after this long. Default 120 s. */
  deadlineMs?: number;
  /** Unique tag in paths/keys/lines. Default random. */
  runId?: string;
  /** Where the capture goes. Default <lab tmp>/record-<runId>.pcap (deleted with the lab). */
  pcap?: string;
  /**
   * The capture's snap length. Default 65535; in immediate mode every ring frame is sized for it,
   * so busy recordings (tens of thousands of packets/s) need a smaller one to stay lossless.
   */
  snaplen?: number;
}

export interface Recording {
  runId: string;
  pcap: string;
  /** The BPF filter the capture used. */
  filter: string;
  pair: RecordingPair;
  nginx?: Nginx;
  /** The nginx root of `http.bodySizes` recordings, for a replay target serving the same files. */
  httpRoot?: string;
  redis?: Redis;
  greeting?: GreetingServer;
  truth: ClientTruth;
  /** "N packets captured" from tcpdump's summary. */
  captured: number;
  tcpdumpSummary: string;
}

const clientScript = fileURLToPath(new URL('./recorder-client.js', import.meta.url));

/** Writes the static files of `sizes` under `root` (see sizedPath/sizedBody); returns `root`. */
export function writeSizedFiles(root: string, sizes: readonly number[]): string {
  mkdirSync(join(root, 's'), { recursive: true });
  for (const size of new Set(sizes)) writeFileSync(join(root, sizedPath(size)), sizedBody(size), 'latin1');
  return root;
}

export async function record(lab: Lab, opts: RecordOptions = {}): Promise<Recording> {
  const useDefaults = !opts.http && !opts.redis && !opts.greeting;
  const http = opts.http ?? (useDefaults ? { connections: 20 } : undefined);
  const redis = opts.redis ?? (useDefaults ? { connections: 5, keys: 100 } : undefined);
  const greeting = opts.greeting;
  const runId = opts.runId ?? randomBytes(4).toString('hex');
  const pair = opts.pair ?? (await recordingPair(lab, { aliases: opts.aliases ?? 10, offload: opts.offload ?? false }));
  const httpPort = http?.port ?? 80;
  const redisPort = redis?.port ?? 6379;
  const greetPort = greeting?.port ?? 2525;

  const rec: Partial<Recording> = {};
  const ports: number[] = [];
  if (http) {
    const sizes = http.bodySizes ?? [];
    if (sizes.length > 0) rec.httpRoot = writeSizedFiles(lab.mkdir('www'), sizes);
    rec.nginx = await startNginx(lab, pair.server, { port: httpPort, bind: pair.serverIp, root: rec.httpRoot });
    ports.push(httpPort);
  }
  if (redis) {
    rec.redis = await startRedis(lab, pair.server, { port: redisPort, bind: pair.serverIp });
    ports.push(redisPort);
  }
  if (greeting) {
    rec.greeting = await startGreetingServer(lab, pair.server, greetPort, pair.serverIp);
    ports.push(greetPort);
  }
  const filter = `tcp and (${ports.map((p) => `port ${p}`).join(' or ')})`;
  const pcap = opts.pcap ?? join(lab.tmpDir, `record-${runId}.pcap`);
  const dump = await startTcpdump(lab, pair.server, pair.serverIf, filter, pcap, { snaplen: opts.snaplen });

  const plan: ClientPlan = {
    runId,
    serverIp: pair.serverIp,
    clientIps: pair.clientIps,
    rate: opts.rate ?? 500,
    concurrency: opts.concurrency ?? 64,
    idleTimeoutMs: opts.idleTimeoutMs ?? 5000,
    deadlineMs: opts.deadlineMs ?? 120_000,
  };
  if (http) {
    plan.http = {
      port: httpPort,
      connections: http.connections,
      requestsPerConn: http.requestsPerConn ?? [1, 3, 5],
      postEvery: http.postEvery ?? 0,
      postBytes: http.postBytes ?? 3000,
      bodySizes: http.bodySizes,
    };
  }
  if (redis) {
    plan.redis = { port: redisPort, connections: redis.connections, keys: redis.keys, pipelineDepth: redis.pipelineDepth ?? 8 };
  }
  if (greeting) {
    plan.greeting = { port: greetPort, connections: greeting.connections, linesPerConn: greeting.linesPerConn ?? 3 };
  }

  // The truth line grows with the plan (~10 MB for 78,000 requests): keep all of it, not the
  // default 4 MiB tail.
  const client = lab.spawn(pair.client, process.execPath, [clientScript], { input: JSON.stringify(plan), captureLimit: 256 * 1024 * 1024 });
  // The client bounds itself (deadline + idle timeouts); this is the backstop.
  const hardLimit = plan.deadlineMs + plan.idleTimeoutMs * 4 + 10_000;
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    client.exited,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), hardLimit);
    }),
  ]);
  if (timer) clearTimeout(timer);
  if (exit === null) {
    await client.stop('SIGKILL', 1000);
    await dump.stop();
    throw new Error(`recorder client did not finish within ${hardLimit} ms\n${client.stderr.slice(-2000)}`);
  }
  // Let the last ACKs of closing handshakes reach the capture before stopping it.
  await new Promise((r) => setTimeout(r, 150));
  const summary = await dump.stop();
  const lastLine = client.stdout.trim().split('\n').pop() ?? '';
  if (exit.code !== 0 || lastLine === '') {
    throw new Error(`recorder client failed (${JSON.stringify(exit)}): ${client.stderr.slice(-2000)}`);
  }
  const truth = JSON.parse(lastLine) as ClientTruth;
  // A recording that lost packets would make every replay test built on it fail for the wrong
  // reason, so a lossy capture is an error of the recorder, said as such.
  const dropped = tcpdumpDropped(summary);
  if (dropped > 0) throw new Error(`the recording capture lost ${dropped} packet(s) in the kernel: ${summary.trim()}`);
  const captured = Number(/(\d+) packets? captured/.exec(summary)?.[1] ?? NaN);
  return { ...rec, runId, pcap, filter, pair, truth, captured, tcpdumpSummary: summary };
}
