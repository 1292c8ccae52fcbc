import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator, OTHER_ENDPOINT } from '../../../src/core/report/aggregator.js';
import { reportHeadline } from '../../../src/core/report/headline.js';
import { parseIgnoreFile } from '../../../src/core/config/report-rules.js';
import type { Answer } from '../../../src/core/report/exchange.js';
import { answer, captureRun, diffyRun, exchange, httpGet, httpResponse, noAnswer, resp } from '../../helpers/report-exchanges.js';

const ok = (body: string, us = 1000): Answer => answer(httpResponse(200, body, { 'Content-Type': 'text/plain' }), us, us * 2);

test('capture mode: exactly the differing requests are reported, by endpoint and kind, with the latency shift', () => {
  const agg = new ReportAggregator(captureRun());
  for (let s = 0; s < 20; s++) {
    const session = `10.0.0.5:${40000 + s}>10.0.0.1:80`;
    agg.exchange(exchange(session, 0, httpGet(`/items/${s}`), ok(`item ${s}`, 1000), [ok(`item ${s}`, 1000)]));
    // /missing answers 404 on the test side; /big is bigger; /slow is 10x slower but equal.
    agg.exchange(exchange(session, 1, httpGet('/missing'), ok('here'), [answer(httpResponse(404, 'not found'))]));
    agg.exchange(exchange(session, 2, httpGet('/big'), ok('small'), [ok('much bigger')]));
    agg.exchange(exchange(session, 3, httpGet('/slow'), ok('same', 2000), [ok('same', 20_000)]));
    agg.sessionOutcome(session, 0, s < 18 ? 'completed' : 'reset-by-target');
  }
  const r = agg.report('2026-12-02T08:05:00.000Z');
  assert.equal(r.verdict.ok, false);
  assert.equal(r.verdict.text, 'different answers: 40 of 80 requests differ (status 20, size 20)');
  assert.deepEqual(r.totals.targets[0], { target: 0, address: '10.0.0.2:80', role: 'candidate', compared: 80, matched: 40, mismatched: 40, notReached: 0, byKind: { status: 20, size: 20 } });
  const byEndpoint = Object.fromEntries(r.endpoints.map((e) => [e.endpoint, e.targets[0]?.byKind]));
  assert.deepEqual(byEndpoint, { 'GET /big': { size: 20 }, 'GET /items/{id}': {}, 'GET /missing': { status: 20 }, 'GET /slow': {} });
  assert.equal(r.mismatches.length, 40);
  const first = r.mismatches[0];
  assert.equal(first?.endpoint, 'GET /missing');
  assert.equal(first?.session, '10.0.0.5:40000>10.0.0.1:80');
  assert.equal(first?.index, 1);
  assert.deepEqual([first?.reference.status, first?.test.status], ['200', '404']);
  assert.deepEqual([first?.reference.headers, first?.test.headers], [{ 'content-type': 'text/plain' }, {}]);
  assert.equal(first?.diff?.offset, 9);
  const slow = r.endpoints.find((e) => e.endpoint === 'GET /slow');
  const [ref, test] = slow?.latency ?? [];
  assert.equal(ref?.side, 'reference');
  assert.ok(Math.abs((ref?.firstByte?.p99 ?? 0) - 2000) < 40 && Math.abs((test?.firstByte?.p99 ?? 0) - 20_000) < 400, JSON.stringify(slow?.latency));
  assert.deepEqual(r.outcomes, [{ target: 0, address: '10.0.0.2:80', counts: { completed: 18, 'reset-by-target': 2 } }]);
  const lines = reportHeadline(r);
  assert.equal(lines[0], 'report: different answers: 40 of 80 requests differ (status 20, size 20)');
  assert.equal(lines[1], 'report: 10.0.0.2:80: 80 requests compared, 40 mismatched (status 20, size 20)');
  assert.match(lines[2] ?? '', /^report: 10\.0\.0\.2:80: p99 first byte \d\.\d\d ms reference vs \d+\.\d ms test; last byte/);
});

test('capture mode: an identical run is a pass; missing references and unreached requests are counted, not mismatched', () => {
  const agg = new ReportAggregator(captureRun(2));
  agg.exchange(exchange('s1', 0, httpGet('/'), ok('x'), [ok('x'), ok('x')]));
  agg.exchange(exchange('s1', 1, httpGet('/'), null, [ok('x'), ok('x')]));
  agg.exchange(exchange('s1', 2, httpGet('/'), ok('x'), [ok('x'), null]));
  agg.exchange(exchange('s2', 0, resp('GET', 'k'), answer('$1\r\nv\r\n'), [answer('$1\r\nv\r\n'), answer('$1\r\nv\r\n')], 6379));
  const r = agg.report('t');
  assert.deepEqual(r.verdict, { ok: true, text: 'same answers: 5 requests compared, no mismatch' });
  assert.equal(r.totals.noReference, 1);
  assert.deepEqual(
    r.totals.targets.map((t) => [t.compared, t.notReached]),
    [
      [3, 0],
      [2, 1],
    ],
  );
  assert.deepEqual(
    r.endpoints.map((e) => [e.endpoint, e.protocol]),
    [
      ['GET /', 'http'],
      ['redis GET', 'redis'],
    ],
  );
  assert.equal(new ReportAggregator(captureRun()).report('t').verdict.ok, false, 'nothing compared is no pass');
});

test('Redis: only the GETs whose keys the target holds differently are reported', () => {
  const agg = new ReportAggregator(captureRun());
  const preset = new Set([3, 7]);
  for (let k = 0; k < 10; k++) {
    const test = preset.has(k) ? answer('$7\r\npreset!\r\n') : answer('$-1\r\n');
    agg.exchange(exchange(`c${k}`, 0, resp('GET', `key:${k}`), answer('$-1\r\n'), [test], 6379));
    agg.exchange(exchange(`c${k}`, 1, resp('SET', `key:${k}`, 'v'), answer('+OK\r\n'), [answer('+OK\r\n')], 6379));
  }
  const r = agg.report('t');
  assert.deepEqual(
    r.mismatches.map((m) => [m.session, m.endpoint, m.kind, m.reference.status, m.test.status]),
    [
      ['c3', 'redis GET', 'status', '(nil)', '$7'],
      ['c7', 'redis GET', 'status', '(nil)', '$7'],
    ],
  );
  assert.equal(r.totals.targets[0]?.mismatched, 2);
});

test('Diffy mode: a Date-like header differing between baselines is noise; only the candidate endpoint is reported', () => {
  const agg = new ReportAggregator(diffyRun());
  const page = (body: string, date: string, status = 200): Answer => answer(httpResponse(status, body, { Date: date, 'Content-Type': 'text/html' }));
  for (let i = 0; i < 30; i++) {
    const d = (k: number): string => `Wed, 02 Dec 2026 08:00:${String((i * 3 + k) % 60).padStart(2, '0')} GMT`;
    agg.exchange(exchange(`s${i}`, 0, httpGet(`/home/${i}`), null, [page('home', d(0)), page('home', d(1)), page('home', d(2))]));
    // The candidate answers /api/v2 differently (a new body), the baselines agree with each other.
    agg.exchange(exchange(`s${i}`, 1, httpGet('/api/v2'), null, [page('{"v":3}', d(0)), page('{"v":2}', d(1)), page('{"v":2}', d(2))]));
  }
  const r = agg.report('t');
  assert.deepEqual(
    r.endpoints.map((e) => [e.endpoint, e.targets.map((t) => t.target), e.targets[0]?.byKind]),
    [
      ['GET /api/v2', [0], { body: 30 }],
      ['GET /home/{id}', [0], {}],
    ],
  );
  assert.ok(r.mismatches.every((m) => m.endpoint === 'GET /api/v2' && m.kind === 'body' && m.fields.join() === 'bytes:5-6'), JSON.stringify(r.mismatches[0]));
  assert.equal(r.mismatches.length, 30);
  assert.ok(r.noise !== null);
  assert.equal(r.noise.compared, 60);
  assert.equal(r.noise.differing, 60);
  assert.deepEqual(r.noise.endpoints.map((e) => [e.endpoint, e.fields.map((f) => f.field)]), [
    ['GET /home/{id}', ['header:date']],
    ['GET /api/v2', ['header:date']],
  ]);
  assert.ok(r.noise.suppressed >= 30, `${r.noise.suppressed}`);
  assert.match(reportHeadline(r).join('\n'), /noise: baselines differed in 100\.0% of 60 requests \(header:date\)/);
});

test('Diffy mode: noise learned later also clears earlier candidate differences', () => {
  const agg = new ReportAggregator(diffyRun());
  const a = (tag: string): Answer => answer(httpResponse(200, 'x', { ETag: tag }));
  // First the baselines agree (no noise yet) while the candidate differs in ETag…
  agg.exchange(exchange('s', 0, httpGet('/e'), null, [a('"c"'), a('"b"'), a('"b"')]));
  // …then the baselines differ in ETag too: it is noise for the whole run.
  agg.exchange(exchange('s', 1, httpGet('/e'), null, [a('"c"'), a('"b1"'), a('"b2"')]));
  const r = agg.report('t');
  assert.equal(r.totals.targets[0]?.mismatched, 0);
  assert.equal(r.mismatches.length, 0);
  assert.equal(r.verdict.ok, true);
  assert.throws(() => new ReportAggregator({ ...diffyRun(), targets: diffyRun().targets.slice(0, 2) }), /two baseline targets/);
});

test('bounded memory: mismatches kept up to the cap and then counted; endpoints capped into one bucket', () => {
  const agg = new ReportAggregator(captureRun(), { mismatchCap: 5, endpointCap: 4 });
  for (let i = 0; i < 100; i++) agg.exchange(exchange(`s${i}`, 0, httpGet(`/p${i}/x`), ok('a'), [noAnswer('reset')]));
  const r = agg.report('t');
  assert.equal(r.mismatches.length, 5);
  assert.equal(r.limits.mismatchesNotKept, 95);
  assert.equal(r.totals.targets[0]?.byKind.reset, 100);
  assert.equal(r.endpoints.length, 4);
  assert.equal(r.limits.endpointsMerged, 97);
  const other = r.endpoints.find((e) => e.endpoint === OTHER_ENDPOINT);
  assert.equal(other?.requests, 97);
  assert.match(reportHeadline(r).join('\n'), /95 mismatches counted but not kept \(cap 5\)/);
});

test('ignore rules: skipped endpoints are not compared; ignored headers never mismatch', () => {
  const rules = parseIgnoreFile('endpoint GET /health\nheader Location\n', 'r');
  const agg = new ReportAggregator(captureRun(), { ignore: rules });
  agg.exchange(exchange('s', 0, httpGet('/health'), ok('up'), [answer(httpResponse(500, 'down'))]));
  agg.exchange(exchange('s', 1, httpGet('/go'), answer(httpResponse(302, '', { Location: '/a' })), [answer(httpResponse(302, '', { Location: '/b' }))]));
  const r = agg.report('t');
  assert.equal(r.totals.skipped, 1);
  assert.equal(r.totals.targets[0]?.compared, 1);
  assert.equal(r.totals.targets[0]?.mismatched, 0);
  assert.deepEqual(r.ignore, ['endpoint GET /health', 'header location']);
  const strict = new ReportAggregator(captureRun());
  strict.exchange(exchange('s', 1, httpGet('/go'), answer(httpResponse(302, '', { Location: '/a' })), [answer(httpResponse(302, '', { Location: '/b' }))]));
  assert.deepEqual(strict.report('t').mismatches[0]?.diff, { offset: 0, reference: 'location: /a', test: 'location: /b' });
});

test('JSON shape: the report survives JSON round trip with the documented top-level fields and no buffers', () => {
  const agg = new ReportAggregator(captureRun());
  agg.exchange(exchange('s', 0, httpGet('/a'), ok('x'), [ok('y')]));
  const r = agg.report('2026-12-02T08:10:00.000Z');
  const text = JSON.stringify(r);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['format', 'run', 'verdict', 'totals', 'outcomes', 'endpoints', 'latency', 'mismatches', 'noise', 'ignore', 'limits']);
  assert.deepEqual(JSON.parse(text), r, 'plain data only');
  assert.ok(!text.includes('"type":"Buffer"'));
  assert.equal(r.run.endedAt, '2026-12-02T08:10:00.000Z');
  assert.deepEqual(Object.keys(r.mismatches[0] ?? {}), ['session', 'index', 'endpoint', 'target', 'kind', 'fields', 'request', 'reference', 'test', 'diff']);
  assert.equal(r.mismatches[0]?.request, 'GET /a HTTP/1.1\\r\\nHost: example\\r\\n\\r\\n');
});
