import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { headerFilter, headerValue, looksLikeHttpRequest, parseHttpRequests, parseHttpResponses } from '../../../src/core/report/http-message.js';
import { looksLikeRespCommand, parseRespReplies, respCommands, respLabel, respStatusKey } from '../../../src/core/report/resp.js';
import { httpGet, httpResponse, resp } from '../../helpers/report-exchanges.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('HTTP responses: Content-Length, chunked (with trailers), close-delimited, pipelined', () => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n';
  const r = parseHttpResponses(b(httpResponse(404, 'nope', { 'X-A': '1' }) + chunked + 'HTTP/1.0 200 OK\r\n\r\nuntil close'));
  assert.equal(r.complete, true);
  assert.deepEqual(
    r.responses.map((x) => [x.status, x.body.toString(), x.bodySize]),
    [
      [404, 'nope', 4],
      [200, 'hello world', 11],
      [200, 'until close', 11],
    ],
  );
  assert.equal(headerValue(r.responses[0]?.headers ?? [], 'x-a'), '1');
  assert.equal(headerValue(r.responses[1]?.headers ?? [], 'content-type'), 'text/plain');
});

test('HTTP responses: HEAD, 204 and 304 have no body; 100-continue is skipped; truncation is reported', () => {
  const head = parseHttpResponses(b(httpResponse(200, 'xxxxx').replace(/xxxxx$/, '') + httpResponse(204, '').replace('Content-Length: 0\r\n', '') + httpResponse(200, 'ab')), ['HEAD', 'GET', 'GET']);
  assert.deepEqual(
    head.responses.map((x) => [x.status, x.body.toString()]),
    [
      [200, ''],
      [204, ''],
      [200, 'ab'],
    ],
  );
  const cont = parseHttpResponses(b('HTTP/1.1 100 Continue\r\n\r\n' + httpResponse(201, 'made')));
  assert.deepEqual(
    cont.responses.map((x) => x.status),
    [201],
  );
  const cut = parseHttpResponses(b(httpResponse(200, 'abcdefgh').slice(0, -3)));
  assert.equal(cut.complete, false);
  assert.equal(cut.responses[0]?.bodySize, 8);
  assert.equal(cut.responses[0]?.body.toString(), 'abcde');
  assert.equal(parseHttpResponses(b('SSH-2.0-OpenSSH\r\n\r\n')).responses.length, 0);
  assert.equal(parseHttpResponses(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel')).complete, false);
});

test('HTTP requests: pipelined request lines, bodies skipped by Content-Length', () => {
  const post = 'POST /api/items HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET / HTTP/';
  const reqs = parseHttpRequests(b(httpGet('/a?x=1') + post + httpGet('/b', 'HEAD')));
  assert.deepEqual(reqs, [
    { method: 'GET', target: '/a?x=1' },
    { method: 'POST', target: '/api/items' },
    { method: 'HEAD', target: '/b' },
  ]);
  assert.ok(looksLikeHttpRequest(b(httpGet('/'))));
  assert.ok(!looksLikeHttpRequest(b('*1\r\n$4\r\nPING\r\n')));
  assert.ok(!looksLikeHttpRequest(b('hello world\r\n')));
});

test('RESP replies: every type, pipelined, RESP3 scalars, incomplete input', () => {
  const text = '+OK\r\n-ERR wrong type\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n_\r\n#t\r\n%1\r\n+k\r\n+v\r\n';
  const { replies, complete } = parseRespReplies(b(text));
  assert.equal(complete, true);
  assert.deepEqual(
    replies.map((r) => respLabel(r)),
    ['+OK', '-ERR wrong type', ':42', '$5', '(nil)', '*2', '(nil)', '(nil)', '+#t', '*2'],
  );
  assert.deepEqual(
    replies.slice(0, 6).map((r) => respStatusKey(r)),
    ['+OK', '-ERR wrong type', ':42', '$', '(nil)', '*'],
  );
  const part = parseRespReplies(b('+OK\r\n$10\r\nhello'));
  assert.equal(part.complete, false);
  assert.equal(part.replies.length, 1);
  assert.equal(parseRespReplies(b('HTTP/1.1 200 OK\r\n')).replies.length, 0);
});

test('RESP commands: arrays and inline, pipelined, upper-cased', () => {
  assert.deepEqual(respCommands(b(resp('get', 'k1') + resp('SET', 'k', 'v') + 'ping\r\n')), ['GET', 'SET', 'PING']);
  assert.deepEqual(respCommands(b(resp('G\x1bET', 'k'))), ['?'], 'no control characters in an endpoint name');
  assert.ok(looksLikeRespCommand(b(resp('GET', 'x'))));
  assert.ok(!looksLikeRespCommand(b('*hello')));
});

test('HTTP heads: CRLF, bare LF, a bare-LF line before the CRLF blank line, a blank line in the body, pipelined from an offset', () => {
  const crlf = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab\n\ncd');
  const r1 = parseHttpResponses(crlf);
  assert.deepEqual([r1.complete, r1.responses[0]?.body.toString()], [true, 'ab\n\ncd'], 'a blank LF line in the body does not end the head');
  const lf = parseHttpResponses(Buffer.from('HTTP/1.1 200 OK\nContent-Length: 2\n\nok'));
  assert.deepEqual([lf.complete, lf.responses[0]?.status, lf.responses[0]?.body.toString()], [true, 200, 'ok']);
  // A bare-LF blank line ends the head before the later CRLF one.
  const mixed = parseHttpResponses(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\n\nxx\r\n\r\nyyy'));
  assert.deepEqual([mixed.complete, mixed.responses[0]?.body.toString()], [true, 'xx\r\n\r\nyyy']);
  const two = Buffer.concat([Buffer.from('HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n'), Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi')]);
  assert.deepEqual(parseHttpResponses(two).responses.map((r) => [r.status, r.body.toString()]), [[204, ''], [200, 'hi']]);
  const noEnd = parseHttpResponses(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'));
  assert.equal(noEnd.complete, false);
  // Past 64 KiB of head there is no head end.
  const huge = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX: '), Buffer.alloc(70_000, 0x61), Buffer.from('\r\n\r\n')]);
  assert.equal(parseHttpResponses(huge).complete, false);
});

test('HTTP responses with a header filter: only wanted names are kept (also with odd spacing), framing still works', () => {
  const text =
    'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nContent-Type: text/plain\r\nLast-Modified: x\r\n' +
    'Location : /next\r\nTransfer-Encoding: chunked\r\nETag: "1"\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const all = parseHttpResponses(Buffer.from(text));
  assert.equal(all.responses[0]?.headers.length, 7);
  const some = parseHttpResponses(Buffer.from(text), [], headerFilter(['content-type', 'location', 'transfer-encoding']));
  assert.equal(some.complete, true);
  assert.deepEqual(some.responses[0]?.headers, [
    ['content-type', 'text/plain'],
    ['location', '/next'],
    ['transfer-encoding', 'chunked'],
  ]);
  assert.equal(some.responses[0]?.body.toString(), 'abc');
});
