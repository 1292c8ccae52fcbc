import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator } from '../../../src/core/report/aggregator.js';
import { renderReportHtml } from '../../../src/core/report/report-html.js';
import { escapeHtml } from '../../../src/core/report/html-escape.js';
import { answer, captureRun, exchange, httpResponse } from '../../helpers/report-exchanges.js';

const EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';

test('captured content is escaped everywhere: no markup from the capture reaches the page', () => {
  const run = { ...captureRun(), input: `cap${EVIL}.pcap` };
  const agg = new ReportAggregator(run);
  const req = `GET /${encodeURIComponent('<x>')}/${EVIL.replace(/\s/g, '')} HTTP/1.1\r\nHost: ${EVIL}\r\n\r\n`;
  agg.exchange(exchange(`sess${EVIL}`, 0, req, answer(httpResponse(200, EVIL, { 'Content-Type': `text/html${EVIL}` })), [answer(`HTTP/1.1 500 ${EVIL}\r\n\r\n${EVIL}`)]));
  agg.sessionOutcome('s', 0, `weird${EVIL}`);
  const html = renderReportHtml(agg.report(EVIL));
  assert.ok(!html.includes('<script'), 'no script element at all');
  assert.ok(!/<img/i.test(html));
  // Every tag on the page is the renderer's own: none carries an event handler attribute.
  for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) assert.ok(!/\son[a-z]+=/i.test(tag.replace(/"[^"]*"/g, '""')), tag);
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:">/);
  assert.ok(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(html), 'no external resource');
  assert.equal(escapeHtml(`a<b>"c"&'d'`), 'a&lt;b&gt;&quot;c&quot;&amp;&#39;d&#39;');
});

test('the page holds the verdict, grouped mismatch rows and one CDF chart per figure', () => {
  const agg = new ReportAggregator(captureRun());
  for (let i = 0; i < 3; i++) {
    agg.exchange(exchange(`s${i}`, 0, 'GET /a HTTP/1.1\r\n\r\n', answer(httpResponse(200, 'x'), 100, 200), [answer(httpResponse(404, 'x'), 300, 400)]));
    agg.exchange(exchange(`s${i}`, 1, 'GET /b HTTP/1.1\r\n\r\n', answer(httpResponse(200, 'x'), 100, 200), [answer(httpResponse(200, 'xy'), 300, 400)]));
  }
  const html = renderReportHtml(agg.report('t'));
  assert.match(html, /<div id="verdict" class="verdict bad">different answers: 6 of 6 requests differ \(status 3, size 3\)<\/div>/);
  assert.equal(html.match(/<tr class="mismatch"/g)?.length, 6);
  assert.equal(html.match(/<tr class="group">/g)?.length, 2);
  assert.match(html, /GET \/a — status \(3\)/);
  // all endpoints first + last byte, then one per endpoint
  assert.equal(html.match(/<svg class="cdf-chart"/g)?.length, 4);
  assert.equal(html.match(/<path class="cdf-line"/g)?.length, 8);
});
