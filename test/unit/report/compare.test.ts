import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeAnswer } from '../../../src/core/report/answer-summary.js';
import { firstDifference, differingRanges } from '../../../src/core/report/byte-diff.js';
import { compareAnswers, primaryKind, type CompareOptions } from '../../../src/core/report/compare.js';
import { requestInfo } from '../../../src/core/report/endpoint.js';
import type { Answer } from '../../../src/core/report/exchange.js';
import { IgnoreSet } from '../../../src/core/report/ignore-rules.js';
import { parseIgnoreHeader, parseIgnoreJsonPath } from '../../../src/core/config/report-rules.js';
import { answer, httpGet, httpResponse, noAnswer, resp } from '../../helpers/report-exchanges.js';
import { Buffer } from 'node:buffer';

const GET = requestInfo(Buffer.from(httpGet('/x')), 80);
const REDIS = requestInfo(Buffer.from(resp('GET', 'k')), 6379);
const selected: CompareOptions = { headers: 'selected', ignore: new IgnoreSet([]) };
const all: CompareOptions = { headers: 'all', ignore: new IgnoreSet([]) };
let reqIds = 1;

function fields(ref: Answer, test: Answer, opts = selected, info = GET): string[] {
  return compareAnswers(summarizeAnswer(ref, info), summarizeAnswer(test, info), opts).map((d) => d.field);
}

test('HTTP: equal answers match; Date and Server differ but are not selected headers', () => {
  const a = answer(httpResponse(200, 'hello', { Date: 'Mon, 01 Jan 2026 00:00:00 GMT' }));
  const b = answer(httpResponse(200, 'hello', { Date: 'Tue, 02 Jan 2026 00:00:01 GMT' }).replace('nginx', 'nginx/1.25'));
  assert.deepEqual(fields(a, b), []);
  assert.deepEqual(fields(a, b, all), ['header:server', 'header:date']);
});

test('HTTP: status, selected header, size and body (with the differing span) are told apart', () => {
  const ref = answer(httpResponse(200, 'hello world', { 'Content-Type': 'text/plain' }));
  assert.deepEqual(fields(ref, answer(httpResponse(404, 'hello world', { 'Content-Type': 'text/plain' }))), ['status']);
  assert.deepEqual(fields(ref, answer(httpResponse(200, 'hello world', { 'Content-Type': 'text/html' }))), ['header:content-type']);
  assert.deepEqual(fields(ref, answer(httpResponse(200, 'hello world!', { 'Content-Type': 'text/plain' }))), ['size']);
  assert.deepEqual(fields(ref, answer(httpResponse(200, 'hello WORLD', { 'Content-Type': 'text/plain' }))), ['bytes:6-11']);
  const chunked = answer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n');
  assert.deepEqual(fields(ref, chunked), [], 'chunked framing of the same body is no difference');
});

test('ends: no response, reset, timeout, closed, and an unexpected answer', () => {
  const ref = answer(httpResponse(200, 'ok'));
  assert.deepEqual(fields(ref, noAnswer()), ['end:no-response']);
  assert.deepEqual(fields(ref, noAnswer('reset')), ['end:reset']);
  assert.deepEqual(fields(ref, answer(httpResponse(200, 'ok').slice(0, 20), 5, 6, 'timeout')), ['end:timeout', 'status', 'size']);
  assert.deepEqual(fields(noAnswer(), ref), ['end:unexpected-response']);
  assert.deepEqual(fields(noAnswer(), noAnswer()), []);
  const diffs = compareAnswers(summarizeAnswer(ref, GET), summarizeAnswer(noAnswer('closed'), GET), selected);
  assert.equal(primaryKind(diffs), 'closed');
});

test('sizes only (no bytes kept on a side): payload sizes and ends compare, nothing else', () => {
  const sized = (n: number): Answer => ({ bytes: Buffer.alloc(0), size: n, firstByteUs: 5, lastByteUs: 9, end: 'complete' });
  assert.deepEqual(fields(sized(120), sized(120)), []);
  assert.deepEqual(fields(sized(120), sized(121)), ['size']);
  const full = answer(httpResponse(200, 'x'));
  assert.deepEqual(fields(full, sized(full.size)), [], 'one side with bytes, the other sizes only');
  assert.deepEqual(fields(full, sized(full.size + 1)), ['size']);
  assert.deepEqual(fields(sized(120), noAnswer('reset')), ['end:reset']);
});

test('JSON bodies compare leaf by leaf; ignored paths and headers are skipped', () => {
  const j = (o: unknown): Answer => answer(httpResponse(200, JSON.stringify(o), { 'Content-Type': 'application/json', 'X-Req': String(reqIds++) }));
  const ref = j({ meta: { requestId: 'a1', at: 1 }, items: [{ id: 1, ts: 5 }, { id: 2, ts: 6 }] });
  const test = j({ meta: { requestId: 'b22', at: 1 }, items: [{ id: 1, ts: 7 }, { id: 3, ts: 8 }] });
  assert.deepEqual(fields(ref, test), ['json:$.meta.requestId', 'json:$.items[*].ts', 'json:$.items[*].id']);
  const ignore = new IgnoreSet([parseIgnoreJsonPath('$.meta.requestId'), parseIgnoreJsonPath('$.items[*].ts'), parseIgnoreHeader('x-req')]);
  assert.deepEqual(fields(ref, test, { headers: 'all', ignore }), ['json:$.items[*].id']);
  assert.deepEqual(fields(ref, j({ meta: { requestId: 'zz', at: 1 }, items: [{ id: 1, ts: 0 }, { id: 2, ts: 0 }] }), { headers: 'all', ignore }), [], 'only ignored leaves differ, whatever the size');
});

test('Redis: type and scalar value are the status, bulk content is the body', () => {
  const f = (a: string, b: string): string[] => fields(answer(a), answer(b), selected, REDIS);
  assert.deepEqual(f('$5\r\nhello\r\n', '$5\r\nhello\r\n'), []);
  assert.deepEqual(f('$5\r\nhello\r\n', '$-1\r\n'), ['status', 'size']);
  assert.deepEqual(f('$5\r\nhello\r\n', '$5\r\njello\r\n'), ['bytes:4-5']);
  assert.deepEqual(f('$5\r\nhello\r\n', '$6\r\nhello!\r\n'), ['size']);
  assert.deepEqual(f('+OK\r\n', '-ERR no\r\n'), ['status', 'size']);
  assert.deepEqual(f(':1\r\n', ':2\r\n'), ['status', 'bytes:1-2']);
});

test('first difference: offset and an escaped window of each side; equal buffers give null', () => {
  const d = firstDifference(Buffer.from('HTTP/1.1 200 OK\r\nA: 1'), Buffer.from('HTTP/1.1 404 OK\r\nA: 1'));
  assert.deepEqual(d, { offset: 9, reference: 'HTTP/1.1 200 OK\\r\\nA: 1', test: 'HTTP/1.1 404 OK\\r\\nA: 1' });
  assert.equal(firstDifference(Buffer.from('same'), Buffer.from('same')), null);
  assert.equal(firstDifference(Buffer.from('abc'), Buffer.from('abcd'))?.offset, 3);
  const long = firstDifference(Buffer.alloc(200, 0x61), Buffer.concat([Buffer.alloc(100, 0x61), Buffer.from([0, 0xff]), Buffer.alloc(98, 0x61)]));
  assert.equal(long?.offset, 100);
  assert.ok(long?.test.startsWith('…aaaaaaaaaaaaaaaa\\x00\\xff'), long?.test);
  assert.ok(long?.test.endsWith('…'));
  assert.deepEqual(differingRanges(Buffer.from('aXaaaaaaaaaaaXXa'), Buffer.from('aaaaaaaaaaaaaaaa')), [
    [1, 2],
    [13, 15],
  ]);
  assert.deepEqual(differingRanges(Buffer.from('aXaaXa'), Buffer.from('aaaaaa')), [[1, 5]], 'gaps under 8 bytes are merged');
});
