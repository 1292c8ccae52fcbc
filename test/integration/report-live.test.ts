// Issue 13, live: tcpcopy copying live traffic with --report takes the production answers from
// the live capture itself (the server→client direction joins the capture filter and goes through
// the ring as reference packets). The online nginx answers every path; the test target answers
// /gone/* with 404: exactly those requests are reported, each with a reference answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, startNodeServer } from '../helpers/servers.js';
import { startIntercept } from './replay-lab.js';
import { curlJobs, liveNet, startLiveCopier, waitCount } from './live-lab.js';
import { mismatchesByEndpoint, readReport } from './report-lab.js';

const skip = requireRoot();

/** Like nginx's test config ("ok <path>\n", text/plain), but /gone/* is 404; counts requests in <dir>/count. */
const TARGET = `
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
const [port, dir, bind] = process.argv.slice(2);
let n = 0;
createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (let end = buf.indexOf('\\r\\n\\r\\n'); end >= 0; end = buf.indexOf('\\r\\n\\r\\n')) {
      const path = buf.slice(0, end).split(' ')[1];
      buf = buf.slice(end + 4);
      const body = 'ok ' + path + '\\n';
      const status = path.startsWith('/gone/') ? '404 Not Found' : '200 OK';
      s.write('HTTP/1.1 ' + status + '\\r\\nContent-Type: text/plain\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
      writeFileSync(dir + '/count', String(++n));
    }
  });
  s.on('error', () => {});
}).listen(Number(port), bind, () => console.log('listening'));
`;

test('live copy with --report: reference answers from the live capture; exactly the 404s are reported', { skip, timeout: 150_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-live' });
  const net = await liveNet(lab, 4);
  await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNodeServer(lab, net.target, TARGET, 80, net.targetIp);
  await startIntercept(lab, net.target, [80], ['--forward-payload', 'all']);
  const json = join(lab.tmpDir, 'report.json');
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '--report', json]);
  const jobs = Array.from({ length: 12 }, (_, i) => ({ from: net.clientIps[i % net.clientIps.length] as string, urls: [`http://${net.onlineIp}/here/${i}`, `http://${net.onlineIp}/gone/${i}`] }));
  const clients = await curlJobs(lab, net.client, jobs, 4);
  assert.deepEqual(clients.errors, []);
  const countFile = join(target.dir, 'count');
  await waitCount(() => (existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) : 0), 24);
  await new Promise((r) => setTimeout(r, 500));
  const run = await copier.stop();
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const r = readReport(json);
  t.diagnostic(run.stdout.split('\n').filter((l) => l.startsWith('report:')).join(' / '));
  assert.equal(r.totals.exchanges, 24, run.stdout);
  assert.equal(r.totals.noReference, 0, 'every request has its production answer from the live capture');
  assert.deepEqual(mismatchesByEndpoint(r), { 'GET /gone/{id}': 12 }, JSON.stringify(r.mismatches.slice(0, 2), null, 1));
  assert.ok(r.mismatches.every((m) => m.kind === 'status' && m.reference.status === '200' && m.test.status === '404'));
});
