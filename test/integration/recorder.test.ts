// The traffic recorder: its capture is readable and its ground truth matches what the real
// servers themselves recorded (nginx access log, Redis keys, greeting server log) and what
// tcpdump saw on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createLab, requireRoot } from '../helpers/lab.js';
import { record, type ConnTruth } from '../helpers/recorder.js';
import { tcpdumpRead } from '../helpers/servers.js';

const skip = requireRoot();

interface Line {
  src: string;
  dst: string;
  flags: string;
  length: number;
}

/** `tcpdump -nn -tt` one-line summaries of IPv4 TCP packets. */
function parseSummary(text: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    if (l === '') continue;
    const m = /^\d+\.\d+ IP (\d+\.\d+\.\d+\.\d+\.\d+) > (\d+\.\d+\.\d+\.\d+\.\d+): Flags \[([^\]]*)\].* length (\d+)/.exec(l);
    assert.ok(m, `unexpected tcpdump line: ${l}`);
    out.push({ src: m[1] ?? '', dst: m[2] ?? '', flags: m[3] ?? '', length: Number(m[4]) });
  }
  return out;
}

const endpoint = (c: ConnTruth): string => `${c.localAddress}.${c.localPort}`;

test('recorder: HTTP (short + keep-alive, GET + POST) and Redis (pipelined + not) from 10 addresses', { skip }, async (t) => {
  const lab = await createLab({ name: 'rectest' });
  t.after(() => lab.destroy());
  const rec = await record(lab, {
    aliases: 10,
    http: { connections: 20, requestsPerConn: [1, 5, 3, 3], postEvery: 4, postBytes: 3000 },
    redis: { connections: 6, keys: 100, pipelineDepth: 8 },
    rate: 200,
    concurrency: 8,
  });
  const truth = rec.truth;
  assert.equal(truth.errors, 0, JSON.stringify(truth.connections.filter((c) => !c.ok).slice(0, 3)));
  assert.equal(truth.connections.length, 26);
  const httpConns = truth.connections.filter((c) => c.kind === 'http');
  assert.ok(httpConns.some((c) => c.close === 'server-close') && httpConns.some((c) => c.close === 'client-close'));
  assert.ok(truth.connections.some((c) => c.kind === 'redis' && c.pipelined));
  assert.ok(truth.connections.some((c) => c.kind === 'redis' && !c.pipelined));

  // The capture exists and tcpdump reads every packet it wrote.
  assert.ok(statSync(rec.pcap).size > 24);
  const lines = parseSummary(await tcpdumpRead(lab, rec.pcap, ['-nn', '-tt']));
  assert.ok(rec.captured > 0);
  assert.equal(lines.length, rec.captured);

  // nginx logged exactly the requests sent, each from the address/port the client used.
  const paths = truth.httpRequests.map((r) => r.path);
  assert.equal(paths.length, 60);
  assert.equal(new Set(paths).size, 60);
  const log = rec.nginx?.readAccessLog() ?? [];
  assert.deepEqual(log.map((e) => e.path).sort(), [...paths].sort());
  const byPath = new Map<string, ConnTruth>();
  for (const c of httpConns) for (const p of c.items) byPath.set(p, c);
  for (const e of log) {
    const c = byPath.get(e.path);
    assert.ok(c, `logged path ${e.path} was sent`);
    assert.equal(`${e.remoteAddr}.${e.remotePort}`, endpoint(c));
    assert.equal(e.status, 200);
  }
  assert.deepEqual(
    log.filter((e) => e.method === 'POST').map((e) => e.path).sort(),
    truth.httpRequests.filter((r) => r.method === 'POST').map((r) => r.path).sort(),
  );
  assert.equal(log.filter((e) => e.method === 'POST').length, 15);

  // Redis holds exactly the keys set, with their values.
  assert.equal(truth.redisKeys.length, 100);
  assert.equal(await rec.redis?.dbsize(), 100);
  const mget = (await rec.redis?.cli(['MGET', ...truth.redisKeys.map((k) => k.key)]))?.split('\n');
  assert.deepEqual(mget, truth.redisKeys.map((k) => k.value));

  // One SYN per connection, from exactly the endpoints the ground truth names, ≥ 10 addresses.
  const syns = lines.filter((l) => l.flags === 'S');
  assert.deepEqual(syns.map((l) => l.src).sort(), truth.connections.map(endpoint).sort());
  assert.ok(new Set(syns.map((l) => l.src.replace(/\.\d+$/, ''))).size >= 10);

  // Who closed first matches each connection's close mode.
  for (const c of truth.connections) {
    const me = endpoint(c);
    const fin = lines.find((l) => l.flags.includes('F') && (l.src === me || l.dst === me));
    assert.ok(fin, `FIN of ${me}`);
    assert.equal(fin.src === me ? 'client-close' : 'server-close', c.close, `${c.kind} ${me}`);
  }

  // Offload off: POST bodies cross as MSS-sized segments, not as one super-packet.
  if (rec.pair.checksums) {
    const clientData = lines.filter((l) => l.dst.endsWith('.80') && l.length > 0);
    assert.ok(clientData.every((l) => l.length <= 1448), 'no client segment above the MSS');
    assert.ok(clientData.some((l) => l.length === 1448), 'POST bodies were split at the MSS');
  }
});

test('recorder: server-first greeting protocol', { skip }, async (t) => {
  const lab = await createLab({ name: 'recgreet' });
  t.after(() => lab.destroy());
  const rec = await record(lab, { aliases: 3, greeting: { connections: 5, linesPerConn: 3 } });
  assert.equal(rec.truth.errors, 0);
  assert.equal(rec.truth.greetingLines.length, 15);
  const logged = rec.greeting?.readLines() ?? [];
  const expected = rec.truth.connections.flatMap((c) => [...c.items, 'QUIT'].map((l) => `${c.localAddress} ${l}`));
  assert.deepEqual([...logged].sort(), expected.sort());

  const lines = parseSummary(await tcpdumpRead(lab, rec.pcap, ['-nn', '-tt']));
  for (const c of rec.truth.connections) {
    const me = endpoint(c);
    const firstData = lines.find((l) => l.length > 0 && (l.src === me || l.dst === me));
    assert.ok(firstData);
    assert.equal(firstData.dst, me, 'the server speaks first');
    assert.equal(firstData.length, '220 hello\r\n'.length);
  }
});
