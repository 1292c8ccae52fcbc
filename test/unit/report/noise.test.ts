import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointNoise } from '../../../src/core/report/noise.js';
import { ReportAggregator } from '../../../src/core/report/aggregator.js';
import { answer, diffyRun, exchange, httpGet, httpResponse } from '../../helpers/report-exchanges.js';

const d = (...fields: string[]) => fields.map((field) => ({ field, kind: 'body' as const }));

test('noise: fields and byte spans learned; a candidate span inside a learned one is noise, outside it is not', () => {
  const n = new EndpointNoise();
  n.learn(d());
  n.learn(d('header:date', 'bytes:10-20'));
  n.learn(d('header:date', 'bytes:15-30', 'json:$.id'));
  assert.equal(n.compared, 3);
  assert.equal(n.differing, 2);
  assert.ok(n.isNoise('header:date'));
  assert.ok(n.isNoise('json:$.id'));
  assert.ok(n.isNoise('bytes:12-28'), 'overlapping spans merge into 10-30');
  assert.ok(!n.isNoise('bytes:5-12'));
  assert.ok(!n.isNoise('bytes:40-41'));
  assert.ok(!n.isNoise('status'));
  assert.ok(!n.isNoise('size'));
  assert.deepEqual(n.learned(), [
    { field: 'bytes', count: 2 },
    { field: 'header:date', count: 2 },
    { field: 'json:$.id', count: 1 },
  ]);
  const sized = new EndpointNoise();
  sized.learn(d('size'));
  assert.ok(sized.isNoise('bytes:0-4') && sized.isNoise('body') && sized.isNoise('size'), 'a body whose size varies is not compared byte by byte');
  assert.ok(!sized.isNoise('status') && !sized.isNoise('header:x'));
  const flaky = new EndpointNoise();
  flaky.learn(d('end:reset', 'status'));
  for (let i = 0; i < 19; i++) flaky.learn(d());
  assert.ok(!flaky.isNoise('end:reset'), 'a failing baseline never hides a failing candidate');
  assert.ok(!flaky.isNoise('status'), 'one status flake in 20 is not noise');
  flaky.learn(d('status'));
  flaky.learn(d('status'));
  assert.ok(flaky.isNoise('status'), '3 in 22 is');
});

test('Diffy mode: a token in the body that differs between baselines is learned as a byte span', () => {
  const agg = new ReportAggregator(diffyRun());
  const page = (token: string, tail = 'end'): ReturnType<typeof answer> => answer(httpResponse(200, `<p>csrf=${token}</p><p>some text</p><p>${tail}</p>`));
  for (let i = 0; i < 10; i++) {
    const tok = (k: number): string => String((i * 31 + k * 7) % 1000).padStart(4, '0');
    agg.exchange(exchange(`s${i}`, 0, httpGet('/form'), null, [page(tok(0), i === 9 ? 'END' : 'end'), page(tok(1)), page(tok(2))]));
  }
  const r = agg.report('t');
  assert.equal(r.totals.targets[0]?.mismatched, 1, JSON.stringify(r.mismatches));
  const at = '<p>csrf=0000</p><p>some text</p><p>'.length;
  assert.deepEqual(r.mismatches[0]?.fields, [`bytes:${at}-${at + 3}`], 'only the tail: the span of the token is noise');
  assert.equal(r.mismatches[0]?.session, 's9');
});
