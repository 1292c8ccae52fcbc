import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeClientAdd, encodeHello } from '../../../src/core/wire/index.js';
import { FlushScheduler } from '../../../src/app/intercept-flush.js';
import { ACK, makeEngine, response, SERVER, SERVER_PORT, SYN } from './fixtures.js';

/*
 * Latency of an isolated response's record, in event-loop turns (no timing): a counter advanced
 * by a self-renewing setImmediate marks each turn's check phase. Input arrives in a timer
 * callback during turn i (counter c); the counter reads c+1 in turn i's check phase and c+2 in
 * turn i+1's. "Written in the same or the next turn" is therefore: written at counter ≤ c+2.
 */
function turnCounter(): { now: () => number; stop: () => void } {
  let n = 0;
  let on = true;
  const step = (): void => {
    n++;
    if (on && n < 1000) setImmediate(step);
  };
  setImmediate(step);
  return { now: () => n, stop: () => (on = false) };
}

const nowUs = (): number => performance.now() * 1000;

test('an isolated response is written to its copier in the same or the next event-loop turn', async () => {
  const { e, sink } = makeEngine();
  const flusher = new FlushScheduler(e, nowUs);
  e.onConnect(1, 0x0a000001, '10.0.0.1:40001', nowUs());
  e.onData(1, encodeHello(), nowUs());
  const turns = turnCounter();
  let writtenAt = -1;
  const write = sink.write.bind(sink);
  sink.write = (conn, frame, done) => {
    if (writtenAt < 0) writtenAt = turns.now();
    return write(conn, frame, done);
  };
  await new Promise((r) => setTimeout(r, 5)); // let the counter run
  const inputAt = await new Promise<number>((resolve) =>
    setTimeout(() => {
      e.onPacket(response(0x0a020001, 5000, ACK), 152, nowUs());
      flusher.afterInput();
      resolve(turns.now());
    }, 1),
  );
  for (let i = 0; i < 20 && writtenAt < 0; i++) await new Promise((r) => setImmediate(r));
  turns.stop();
  assert.ok(writtenAt >= 0, 'the record was never written');
  assert.ok(writtenAt - inputAt <= 2, `written ${writtenAt - inputAt} counter steps after input (more than one turn later)`);
  assert.equal(sink.records(1).length, 1);
});

test('a held SYN-ACK released by its CLIENT_ADD is written in the same or the next turn', async () => {
  const { e, sink } = makeEngine();
  const flusher = new FlushScheduler(e, nowUs);
  e.onConnect(1, 0x0a000001, '10.0.0.1:40001', nowUs());
  e.onData(1, encodeHello(), nowUs());
  e.onData(1, encodeClientAdd(0x0a020009, 1, SERVER, SERVER_PORT), nowUs()); // route-aware copier
  e.onPacket(response(0x0a020001, 5000, SYN | ACK), 152, nowUs()); // overtook its CLIENT_ADD: held
  flusher.afterInput();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(sink.writes.length, 0);
  assert.equal(e.delayedCount, 1);
  const turns = turnCounter();
  let writtenAt = -1;
  const write = sink.write.bind(sink);
  sink.write = (conn, frame, done) => {
    if (writtenAt < 0) writtenAt = turns.now();
    return write(conn, frame, done);
  };
  await new Promise((r) => setTimeout(r, 5));
  const inputAt = await new Promise<number>((resolve) =>
    setTimeout(() => {
      e.onData(1, encodeClientAdd(0x0a020001, 5000, SERVER, SERVER_PORT), nowUs());
      flusher.afterInput();
      resolve(turns.now());
    }, 1),
  );
  for (let i = 0; i < 20 && writtenAt < 0; i++) await new Promise((r) => setImmediate(r));
  turns.stop();
  assert.ok(writtenAt >= 0, 'the record was never written');
  assert.ok(writtenAt - inputAt <= 2, `written ${writtenAt - inputAt} counter steps after input`);
  assert.equal(sink.records(1).length, 1);
});
