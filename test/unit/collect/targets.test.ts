import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator } from '../../../src/core/report/aggregator.js';
import { answer, captureRun, exchange, httpGet, httpResponse } from '../../helpers/report-exchanges.js';

test('an exchange naming its targets counts only those as not reached (two -x services, each session to its own target)', () => {
  const agg = new ReportAggregator(captureRun(2));
  const ok = answer(httpResponse(200, 'ok'));
  // Target 0's service: target 1 was never meant to get it.
  agg.exchange({ ...exchange('a', 0, httpGet('/x'), ok, [ok, null]), targets: [0] });
  // Without `targets`: every target is expected, so the missing one was not reached.
  agg.exchange(exchange('b', 0, httpGet('/y'), ok, [ok, null]));
  const r = agg.report('2026-12-02T09:00:00.000Z');
  assert.deepEqual(r.totals.targets.map((t) => t.notReached), [0, 1]);
});
