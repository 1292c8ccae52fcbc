import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnlineConn } from '../../../src/core/session/online-conn.js';
import { NumSlab, Session } from '../../../src/core/session/session.js';

// Most connections have one session and most sessions one segment at a time, so their lists
// start as shared empty sentinels. They must be frozen: a stray push into one would put the
// item into every connection or session at once.
test('the shared empty lists of connections and sessions are frozen sentinels', () => {
  const conn = new OnlineConn(1, 1000, 2, 80, 1, 0, true, 0);
  const other = new OnlineConn(3, 1001, 2, 80, 3, 0, true, 0);
  assert.equal(conn.sessions, other.sessions, 'shared');
  assert.ok(Object.isFrozen(conn.sessions));
  assert.ok(Object.isFrozen(conn.ooo));
  const s = new Session(1, conn, 0, 1, 1000, 2, 80, 0, new NumSlab(4));
  assert.ok(Object.isFrozen(s.items));
  assert.throws(() => conn.sessions.push(s), TypeError);
  assert.equal(other.sessions.length, 0);
  s.dropItems();
  assert.ok(Object.isFrozen(s.items), 'dropItems goes back to the sentinel');
});

test('slab accessors: every numeric field has its own slot and starts at its default', () => {
  const slab = new NumSlab(2);
  const conn = new OnlineConn(1, 1000, 2, 80, 1, 0, true, 0);
  const a = new Session(1, conn, 0, 1, 1000, 2, 80, 0, slab);
  const b = new Session(2, conn, 0, 1, 1001, 2, 80, 0, slab);
  assert.equal(a.deadline, Infinity);
  assert.equal(a.turnReadyAt, -1);
  assert.equal(a.sndNxt, 0);
  a.sndNxt = 123;
  a.rcvNxt = 456;
  a.turnStartCap = 789;
  assert.deepEqual([a.sndNxt, a.rcvNxt, a.turnStartCap], [123, 456, 789]);
  assert.deepEqual([b.sndNxt, b.rcvNxt, b.turnStartCap], [0, 0, 0], 'rows do not overlap');
  // Sequence-space fields wrap mod 2^32 (uint32 slots); times keep their full float64 value.
  a.sndNxt = 0xffffffff + 5;
  a.seqOffset = -1;
  a.rtoAt = 2 ** 40 + 0.5;
  assert.deepEqual([a.sndNxt, a.seqOffset, a.rtoAt], [4, 0xffffffff, 2 ** 40 + 0.5]);
  assert.deepEqual([b.sndNxt, b.seqOffset, b.rtoAt, b.deadline], [0, 0, Infinity, Infinity], 'rows do not overlap');
  const d = new Session(4, conn, 0, 1, 1003, 2, 80, 0, slab);
  d.turnStartCap = 7;
  d.synSentAt = 9;
  assert.deepEqual([a.turnStartCap, a.synSentAt, b.turnStartCap, b.synSentAt], [789, 0, 0, 0], 'a row on the next page overlaps no other');
  a.release();
  const c = new Session(3, conn, 0, 1, 1002, 2, 80, 0, slab);
  assert.equal(c.sndNxt, 0, 'a reused row starts from the defaults again');
  assert.equal(c.rtoAt, Infinity);
});
