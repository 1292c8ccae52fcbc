/**
 * Allocation profile of intercept's per-response path, no root needed: the engine and the real
 * channel server, a copier on loopback that says hello and reads, and packets fed the way the
 * NFQUEUE tap feeds them (batches, then the app's end-of-turn tick). V8's sampling heap profiler
 * (keeping objects that were already collected) attributes the JS heap bytes allocated while
 * the batches run to the functions that allocated them.
 *
 *   node dist/scripts/bench/intercept-alloc.js [records=200000] [batch=8] [sampling bytes=128]
 *
 * Prints heap bytes per record and the top allocation sites. batch=1 is an isolated response
 * per event-loop turn (light load: one frame per record); larger batches share frames.
 */
import { Session } from 'node:inspector/promises';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { buildSegment } from '../../test/helpers/packet/build.js';
import { DEFAULT_ENGINE_OPTIONS, InterceptEngine, type InterceptSink } from '../../src/core/intercept/index.js';
import { encodeHello } from '../../src/core/wire/index.js';
import { ChannelServer } from '../../src/io/channel-server.js';

const [recordsText = '200000', batchText = '8', samplingText = '128'] = process.argv.slice(2);
const total = Number(recordsText);
const batch = Math.max(1, Number(batchText));

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

async function main(): Promise<void> {
  let server: ChannelServer | null = null;
  const sink: InterceptSink = {
    write: (id, frame, done) => (server === null ? 0 : server.write(id, frame, done)),
    close: (id, reason) => server?.close(id, reason),
    log: () => undefined,
  };
  const engine = new InterceptEngine({ ...DEFAULT_ENGINE_OPTIONS }, sink);
  const nowUs = (): number => performance.now() * 1000;
  server = new ChannelServer(
    {
      onConnect: (id, ip, peer) => engine.onConnect(id, ip, peer, nowUs()),
      onData: (id, chunk) => engine.onData(id, chunk, nowUs()),
      onDrain: (id) => engine.onDrain(id),
      onClosed: (id, reason) => engine.onClosed(id, reason),
    },
    { port: 0, host: '127.0.0.1' },
  );
  const addr = await server.listen();
  // The copier runs in a child process: its reads must not count as intercept's allocations.
  const hello = encodeHello().toString('hex');
  const copier = spawn(process.execPath, [
    '-e',
    `const s = require('node:net').connect(${addr.port}, '127.0.0.1', () => s.write(Buffer.from('${hello}', 'hex'))); s.on('data', () => {}); s.on('error', () => {}); s.on('close', () => process.exit(0));`,
  ], { stdio: 'ignore' });
  while (engine.connectionIds.length === 0) await new Promise((r) => setTimeout(r, 5));

  const pkts = Array.from({ length: 64 }, (_, i) =>
    buildSegment({ src: 0x0a010002, dst: 0x0a600001 + i, srcPort: 80, dstPort: 1024 + i, seq: i, ack: 1, flags: 0x18, window: 502, ipId: 0, options: { ts: { val: 1, ecr: 1 } }, payload: Buffer.alloc(100, 0x78) }),
  );
  // One turn: a batch of packets (as one tap callback), then the app's setImmediate tick.
  const turn = (n: number): Promise<void> =>
    new Promise((resolve) => {
      for (let i = 0; i < n; i++) engine.onPacket(pkts[i & 63] as Buffer, 152, nowUs());
      const tick = (): void => {
        if (engine.onTick(nowUs())) setImmediate(tick);
        else resolve();
      };
      setImmediate(tick);
    });
  const run = async (records: number): Promise<void> => {
    for (let done = 0; done < records; done += batch) await turn(batch);
  };
  await run(20_000); // warm up (JIT, socket buffers)

  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(samplingText),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const frames0 = engine.stats.frames;
  await run(total);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  const frames = engine.stats.frames - frames0;
  session.disconnect();

  const sites = new Map<string, number>();
  let sum = 0;
  const walk = (n: ProfileNode, stack: string): void => {
    const f = n.callFrame;
    const here = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(dist|node:)/, '$1')}:${f.lineNumber + 1}`;
    const key = `${here}  <  ${stack}`;
    // The harness's own promises and loop are not intercept's.
    if (n.selfSize > 0 && !key.includes('intercept-alloc.js')) {
      sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
      sum += n.selfSize;
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, '');
  console.log(`intercept allocation profile: ${total} records, batch ${batch}, ${frames} frames (${(total / Math.max(1, frames)).toFixed(1)} records/frame)`);
  console.log(`JS heap allocated: ${(sum / total).toFixed(1)} bytes per record, ${(sum / Math.max(1, frames)).toFixed(0)} per frame`);
  for (const [k, v] of [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(v / total).toFixed(1).padStart(8)} B/rec  ${k}`);
  copier.kill();
  await server.shutdown(100);
}

void main();
