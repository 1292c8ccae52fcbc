// Issue 13: the replay report against a capture holding both directions. nginx answers every
// path when recording; the test target (a small Node server) answers like it except /missing/*
// (404), /big/* (a longer body) and /slow/* (150 ms late). The report must list exactly those
// mismatches, show the latency shift on /slow, and nothing else; the HTML page is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, startNodeServer } from '../helpers/servers.js';
import { describeRun, replayTarget, runTcpcopy } from './replay-lab.js';
import { HTTP_CLIENT, mismatchesByEndpoint, p50, readReport, recordWorkload } from './report-lab.js';

const skip = requireRoot();

/** Answers like the recording's nginx ("ok <path>\n", text/plain), except where the test wants a difference. */
const TARGET = `
import { createServer } from 'node:net';
const [port, , bind] = process.argv.slice(2);
const server = createServer((s) => {
  let buf = '';
  let busy = Promise.resolve();
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (let end = buf.indexOf('\\r\\n\\r\\n'); end >= 0; end = buf.indexOf('\\r\\n\\r\\n')) {
      const path = buf.slice(0, end).split(' ')[1];
      buf = buf.slice(end + 4);
      busy = busy.then(() => answer(s, path));
    }
  });
  s.on('error', () => {});
});
async function answer(s, path) {
  let status = '200 OK';
  let body = 'ok ' + path + '\\n';
  if (path.startsWith('/missing/')) status = '404 Not Found';
  if (path.startsWith('/big/')) body += 'x'.repeat(1500);
  if (path.startsWith('/slow/')) await new Promise((r) => setTimeout(r, 150));
  s.write('HTTP/1.1 ' + status + '\\r\\nServer: test\\r\\nContent-Type: text/plain\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\nConnection: keep-alive\\r\\n\\r\\n' + body);
}
server.listen(Number(port), bind, () => console.log('listening'));
`;

test('report from a capture in both directions: exactly the 404s, the longer bodies and the slow endpoint', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-http' });
  const rec = await recordWorkload(
    lab,
    80,
    HTTP_CLIENT,
    (pair) => startNginx(lab, pair.server, { port: 80, bind: pair.serverIp }),
    (pair) => ({
      conns: Array.from({ length: 12 }, (_, i) => ({
        from: pair.clientIps[i % pair.clientIps.length] as string,
        paths: [`/users/${i}`, `/missing/${i}`, `/big/${i}`, `/slow/${i}`],
      })),
    }),
  );
  const { net } = await replayTarget(lab, [80], ['--forward-payload', 'all']);
  await startNodeServer(lab, net.target, TARGET, 80, net.targetIp);
  const json = join(lab.tmpDir, 'report.json');
  const html = join(lab.tmpDir, 'report.html');
  const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet', '--report', json, '--report-html', html]);
  assert.equal(run.code, 0, describeRun(run));
  assert.ok(existsSync(json) && existsSync(html), describeRun(run));
  const r = readReport(json);
  assert.equal(r.testPayload, 'forwarded', describeRun(run));
  assert.equal(r.totals.exchanges, rec.requests, describeRun(run));
  assert.equal(r.totals.noReference, 0);
  assert.deepEqual(mismatchesByEndpoint(r), { 'GET /missing/{id}': 12, 'GET /big/{id}': 12 }, JSON.stringify(r.mismatches.slice(0, 3), null, 1));
  const kinds = new Set(r.mismatches.map((m) => `${m.endpoint} ${m.kind}`));
  assert.deepEqual([...kinds].sort(), ['GET /big/{id} size', 'GET /missing/{id} status']);
  assert.equal(r.mismatches.length, 24);
  for (const m of r.mismatches.filter((x) => x.endpoint === 'GET /missing/{id}')) assert.deepEqual([m.reference.status, m.test.status], ['200', '404'], JSON.stringify(m));
  // The latency shift: /slow answers 150 ms later than production did; /users does not.
  const slowShift = p50(r, 'GET /slow/{id}', 0) - p50(r, 'GET /slow/{id}', 'reference');
  assert.ok(slowShift >= 120_000, `slow endpoint shifted by ${slowShift} µs`);
  t.diagnostic(JSON.stringify(r.endpoints.map((e) => [e.endpoint, e.latency.map((l) => [l.side, l.firstByte?.p50, l.firstByte?.p99])])));
  assert.ok(p50(r, 'GET /users/{id}', 0) < 60_000, `users endpoint p50 ${p50(r, 'GET /users/{id}', 0)} µs`);
  t.diagnostic(run.stdout.split('\n').filter((l) => l.startsWith('report:')).join(' / '));
  // The terminal headline.
  assert.match(run.stdout, /report: .*: 48 requests compared, 24 mismatched/, run.stdout);
  assert.match(readFileSync(html, 'utf8'), /<html/i);
  // The page of this real run, rendered: one mismatch row per request (24 ≤ 25 per group), the
  // charts, no console error.
  if (existsSync(CHROMIUM)) {
    const dom = await renderedDom(html);
    assert.equal(dom.stdout.match(/<tr class="mismatch"/g)?.length, 24);
    assert.ok((dom.stdout.match(/<svg class="cdf-chart"/g)?.length ?? 0) >= 2);
    assert.deepEqual(dom.stderr.split('\n').filter((l) => /:CONSOLE[:(]|Uncaught|Refused to/.test(l)), []);
  } else t.diagnostic(`page not rendered: no ${CHROMIUM}`);
});

const CHROMIUM = '/usr/bin/chromium';

/** The page's DOM after headless Chromium rendered it (a local file: no network), with its log. */
function renderedDom(page: string): Promise<{ stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'tcpcopy-report-http-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', '--dump-dom', `file://${page}`];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err !== null) reject(new Error(`chromium failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}
