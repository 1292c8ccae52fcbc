// The HTML replay report opened in headless Chromium: the page renders (a screenshot is kept in
// test-artifacts/), the DOM holds the charts and the mismatch rows, and the browser logs no
// console error (a Content-Security-Policy violation — a fetch or a script — would be one). No
// root and no network needed: the page is a local file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportAggregator } from '../../src/core/report/aggregator.js';
import { writeReportFiles } from '../../src/io/report-writer.js';
import { repoRoot } from '../helpers/paths.js';
import { answer, diffyRun, exchange, httpGet, httpResponse, noAnswer } from '../helpers/report-exchanges.js';
import { prng } from '../helpers/prng.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (scripts/install-deps.sh --with-test-tools)`;

interface Run {
  stdout: string;
  stderr: string;
}

/** One headless Chromium run on a local file, with its own profile directory (removed after). */
function chromium(args: string[], page: string): Promise<Run> {
  const profile = mkdtempSync(join(tmpdir(), 'tcpcopy-report-chromium-'));
  const all = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', '--window-size=1280,2400', ...args, `file://${page}`];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, all, { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err !== null) reject(new Error(`chromium failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Console messages (errors, CSP violations, uncaught exceptions) Chromium logged for the page. */
function consoleErrors(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /:CONSOLE[:(]|Uncaught|Refused to/.test(l));
}

/** A Diffy-mode run with noise, mismatches of several kinds, latency on every side, outcomes. */
function sampleReport(): ReturnType<ReportAggregator['report']> {
  const rand = prng(7);
  const agg = new ReportAggregator(diffyRun());
  for (let i = 0; i < 200; i++) {
    const session = `10.0.1.${i % 50}:${41000 + i}>10.0.0.1:80`;
    const date = (k: number): string => `Wed, 02 Dec 2026 08:${String(i % 60).padStart(2, '0')}:0${k} GMT`;
    const us = (base: number): number => Math.round(base * (1 + 3 * rand() * rand()));
    const page = (status: number, body: string, k: number, base: number) => answer(httpResponse(status, body, { Date: date(k), 'Content-Type': 'text/html' }), us(base), us(base * 2));
    const path = ['/users/' + i, '/search?q=<script>alert(1)</script>', '/api/orders', '/health'][i % 4] as string;
    const candidate = path === '/api/orders' ? page(500, 'boom', 0, 9000) : path.startsWith('/search') && i % 3 === 0 ? noAnswer('reset') : page(200, `body ${path}`, 0, 1500);
    agg.exchange(exchange(session, i % 5, httpGet(path), null, [candidate, page(200, `body ${path}`, 1, 1000), page(200, `body ${path}`, 2, 1000)]));
  }
  for (let t = 0; t < 3; t++) for (let s = 0; s < 50; s++) agg.sessionOutcome(`s${s}`, t, s < 45 - t * 5 ? 'completed' : 'reset-by-target');
  return agg.report('2026-12-02T08:30:00.000Z');
}

test('the HTML report renders in headless Chromium: screenshot, charts and mismatch rows in the DOM, no console error', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tcpcopy-report-html-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const page = join(dir, 'report.html');
  const json = join(dir, 'report.json');
  const report = sampleReport();
  await writeReportFiles(report, { json, html: page });
  assert.equal((JSON.parse(readFileSync(json, 'utf8')) as { mismatches: unknown[] }).mismatches.length, report.mismatches.length);

  const artifacts = join(repoRoot, 'test-artifacts');
  mkdirSync(artifacts, { recursive: true });
  const shot = join(artifacts, 'report-html.png');
  rmSync(shot, { force: true });
  const s = await chromium([`--screenshot=${shot}`], page);
  assert.ok(existsSync(shot) && statSync(shot).size > 10_000, `screenshot ${shot}`);
  t.diagnostic(`screenshot: ${shot}`);
  assert.deepEqual(consoleErrors(s.stderr), []);

  const d = await chromium(['--dump-dom'], page);
  assert.deepEqual(consoleErrors(d.stderr), []);
  const dom = d.stdout;
  const mismatchRows = dom.match(/<tr class="mismatch"/g)?.length ?? 0;
  // The page shows up to 25 rows per endpoint and kind (the JSON has them all).
  const groups = new Map<string, number>();
  for (const m of report.mismatches) groups.set(`${m.endpoint} ${m.kind}`, (groups.get(`${m.endpoint} ${m.kind}`) ?? 0) + 1);
  assert.equal(mismatchRows, [...groups.values()].reduce((n, k) => n + Math.min(25, k), 0));
  assert.ok(mismatchRows > 0);
  assert.equal(dom.match(/<tr class="more">/g)?.length, [...groups.values()].filter((k) => k > 25).length);
  // Candidate mismatches: /api/orders answers 500, some /search requests are reset; /users and /health only differ in the noisy Date.
  assert.deepEqual([...new Set(report.mismatches.map((m) => `${m.endpoint} ${m.kind}`))].sort(), ['GET /api/orders status', 'GET /search reset']);
  const charts = dom.match(/<svg class="cdf-chart"[\s\S]*?<\/svg>/g) ?? [];
  assert.equal(charts.length, 2 + report.endpoints.length);
  for (const c of charts.slice(0, 2)) assert.equal(c.match(/<path class="cdf-line"/g)?.length, 3, 'one line per target');
  assert.match(dom, /id="verdict" class="verdict bad">different answers: \d+ of 200 requests differ/);
  assert.match(dom, /id="noise-rate">The two baselines differed in 100\.0% of 200 requests/);
  assert.ok(!/<script/i.test(dom), 'the captured <script> stayed text');
  assert.ok(dom.includes('&lt;script&gt;') || !dom.includes('alert(1)'), 'the request with markup is shown escaped');
});

test('the console check catches an error (it can fail): an inline script is refused by the page policy', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tcpcopy-report-html-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const page = join(dir, 'bad.html');
  await writeReportFiles(sampleReport(), { html: page });
  writeFileSync(page, readFileSync(page, 'utf8').replace('</body>', '<script>window.x = 1;</script></body>'));
  const r = await chromium(['--dump-dom'], page);
  assert.equal(consoleErrors(r.stderr).length, 1, r.stderr);
});
