import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { HttpFraming } from '../../../src/core/collect/http-framing.js';
import { Conversation } from '../../../src/core/collect/conversation.js';

/** Feeds `text` in pieces of `step` bytes and returns midRequest after each piece. */
function walk(f: HttpFraming, text: string, step: number): boolean[] {
  const b = Buffer.from(text, 'latin1');
  const out: boolean[] = [];
  for (let i = 0; i < b.length; i += step) {
    f.feed(b, i, Math.min(step, b.length - i));
    out.push(f.midRequest);
  }
  return out;
}

test('HttpFraming: a request is open until its head and its Content-Length body are in, whatever the segmenting', () => {
  const body = 'x'.repeat(5000);
  const post = `POST /r/1 HTTP/1.1\r\nHost: a\r\ncontent-LENGTH:  5000\r\n\r\n${body}`;
  for (const step of [1, 7, 100, 1448, post.length]) {
    const f = new HttpFraming();
    const marks = walk(f, post, step);
    assert.equal(marks[marks.length - 1], false, `step ${step}: closed at the end`);
    assert.ok(marks.slice(0, -1).every((m) => m), `step ${step}: open before the end`);
  }
  // Split right after the head: the body is still owed.
  const f = new HttpFraming();
  const head = post.indexOf('\r\n\r\n') + 4;
  f.feed(Buffer.from(post, 'latin1'), 0, head);
  assert.equal(f.midRequest, true);
  f.feed(Buffer.from(post, 'latin1'), head, post.length - head);
  assert.equal(f.midRequest, false);
});

test('HttpFraming: requests without a body, pipelined requests, bare-LF heads and blank lines between requests', () => {
  const f = new HttpFraming();
  const two = 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n\r\nPOST /b HTTP/1.1\nContent-Length: 3\n\nabcGET /c HTTP/1.1\r\n\r\n';
  assert.deepEqual(walk(f, two, two.length), [false]);
  // Stopping inside the second request's body.
  const g = new HttpFraming();
  const cut = two.indexOf('abc') + 1;
  g.feed(Buffer.from(two, 'latin1'), 0, cut);
  assert.equal(g.midRequest, true);
  g.feed(Buffer.from(two, 'latin1'), cut, two.length - cut);
  assert.equal(g.midRequest, false);
  // A header that only starts like Content-Length does not count, nor does a value elsewhere.
  const h = new HttpFraming();
  assert.deepEqual(walk(h, 'GET / HTTP/1.1\r\nX-Content-Length: 9\r\nContent-Lengthy: 4\r\n\r\n', 1000), [false]);
});

test('HttpFraming: other protocols, chunked bodies and overlong heads turn it opaque (never an open request)', () => {
  const redis = new HttpFraming();
  assert.deepEqual(walk(redis, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n', 3).some((m) => m), false);
  const chunked = new HttpFraming();
  const marks = walk(chunked, 'POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n', 5);
  assert.equal(marks[marks.length - 1], false);
  const long = new HttpFraming();
  const m2 = walk(long, `GET / HTTP/1.1\r\nX: ${'y'.repeat(40_000)}`, 1000);
  assert.equal(m2[m2.length - 1], false);
  // A new connection starts a new stream.
  const r = new HttpFraming();
  walk(r, 'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab', 100);
  assert.equal(r.midRequest, true);
  r.reset();
  assert.equal(r.midRequest, false);
  assert.deepEqual(walk(r, 'GET / HTTP/1.1\r\n\r\n', 100), [false]);
});

test('Conversation: the rest of a POST the server answered early is the same request, the next request a new one', () => {
  const c = new Conversation(true, 1 << 16);
  const head = Buffer.from('POST /r/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n', 'latin1');
  const body = Buffer.from('abcdefgh', 'latin1');
  const next = Buffer.from('GET /b HTTP/1.1\r\n\r\n', 'latin1');
  const answer = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'latin1');
  c.clientSyn(99);
  c.serverSyn(499);
  c.clientData(100, head, 0, head.length, 10);
  c.serverData(500, answer.length, answer, 0, answer.length, 20); // before the body: nginx `return 200`
  c.clientData(100 + head.length, body, 0, body.length, 30);
  c.clientData(100 + head.length + body.length, next, 0, next.length, 40);
  c.serverData(500 + answer.length, answer.length, answer, 0, answer.length, 50);
  c.finish(false);
  assert.equal(c.count, 2);
  assert.equal(c.turn(0)?.reqSize, head.length + body.length);
  assert.equal(c.turn(0)?.req?.take().toString('latin1'), `${head.toString('latin1')}abcdefgh`);
  assert.equal(c.turn(1)?.reqSize, next.length);
  assert.equal(c.turn(1)?.size, answer.length);
  // Not HTTP: a client packet after an answer is a new request, as before.
  const r = new Conversation(false, 1 << 16);
  const set = Buffer.from('*1\r\n$4\r\nPING\r\n', 'latin1');
  const pong = Buffer.from('+PONG\r\n', 'latin1');
  r.clientData(1, set, 0, 4, 1);
  r.serverData(1, pong.length, pong, 0, pong.length, 2);
  r.clientData(5, set, 4, set.length - 4, 3);
  r.finish(false);
  assert.equal(r.count, 2);
});
