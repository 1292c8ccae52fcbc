import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { ReportAggregator } from '../../../src/core/report/aggregator.js';
import type { Answer, AnswerEnd } from '../../../src/core/report/exchange.js';
import { renderReportHtml } from '../../../src/core/report/report-html.js';
import { reportHeadline } from '../../../src/core/report/headline.js';
import { answer, captureRun, diffyRun, exchange, httpGet, httpResponse, resp } from '../../helpers/report-exchanges.js';
import { prng, randBytes, randInt } from '../../helpers/prng.js';

const ENDS: AnswerEnd[] = ['complete', 'no-response', 'reset', 'closed', 'timeout'];

/** A plausible message cut, spliced or sprayed with random bytes. */
function mangle(rand: () => number, text: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  switch (randInt(rand, 4)) {
    case 0:
      return b.subarray(0, randInt(rand, b.length + 1));
    case 1:
      for (let i = 0; i < 4; i++) b[randInt(rand, b.length)] = randInt(rand, 256);
      return b;
    case 2:
      return Buffer.concat([b, randBytes(rand, randInt(rand, 64))]);
    default:
      return randBytes(rand, randInt(rand, 200));
  }
}

test('captured garbage never throws: mangled HTTP, RESP, chunked framing, deep JSON, random bytes', () => {
  const rand = prng(1313);
  const seeds = [
    httpResponse(200, '{"a":[1,2,{"b":3}]}', { 'Content-Type': 'application/json' }),
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nffffffffffff\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nx',
    '*3\r\n$3\r\nabc\r\n*-5\r\n:x\r\n',
    '$99999999999\r\n',
    '%2\r\n+a\r\n',
    httpResponse(200, '['.repeat(5000) + ']'.repeat(5000), { 'Content-Type': 'application/json' }),
  ];
  const deep = (n: number): Answer => answer(httpResponse(200, `${'['.repeat(n)}${n}${']'.repeat(n)}`, { 'Content-Type': 'application/json' }));
  for (const run of [captureRun(2), diffyRun()]) {
    const agg = new ReportAggregator(run, { mismatchCap: 50 });
    agg.exchange(exchange('deep', 0, httpGet('/deep'), deep(30_000), [deep(30_001), deep(30_000), deep(30_002)]));
    for (let i = 0; i < 3000; i++) {
      const pick = (): Answer => {
        const bytes = mangle(rand, seeds[randInt(rand, seeds.length)] as string);
        return { bytes, size: bytes.length + (rand() < 0.1 ? randInt(rand, 1000) : 0), firstByteUs: rand() < 0.1 ? null : randInt(rand, 1e7), lastByteUs: randInt(rand, 1e7), end: ENDS[randInt(rand, ENDS.length)] as AnswerEnd };
      };
      const request = [httpGet(`/p/${i}`), resp('GET', `k${i}`), httpGet('/a') + httpGet('/b', 'HEAD')][i % 3] as string;
      const req = mangle(rand, request).toString('latin1');
      agg.exchange(exchange(`s${i}`, i, req, rand() < 0.1 ? null : pick(), [pick(), rand() < 0.1 ? null : pick(), pick()], i % 2 === 0 ? 80 : 6379));
      if (i % 500 === 0) agg.sessionOutcome(`s${i}`, i % 3, 'completed');
    }
    const r = agg.report('t');
    assert.ok(r.totals.exchanges > 2900);
    assert.ok(renderReportHtml(r).length > 1000);
    assert.ok(reportHeadline(r).length >= 2);
    JSON.stringify(r);
  }
});
