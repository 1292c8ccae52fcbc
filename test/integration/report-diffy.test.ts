// Issue 13, Diffy mode: the recorded traffic goes at once to a candidate and two baselines
// (--diffy: three -x targets for port 80, three hosts, three interceptors). The baselines answer
// alike except an X-Request-Id header (their own id per answer: noise); the candidate also
// answers alike except on /orders/* (another body). Only the candidate's /orders endpoint may be
// reported, and the header must be learned as noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labFor, requireRoot, type Lab } from '../helpers/lab.js';
import { startNginx, startNodeServer } from '../helpers/servers.js';
import { describeRun, runTcpcopy, startIntercept } from './replay-lab.js';
import { HTTP_CLIENT, mismatchesByEndpoint, readReport, recordWorkload } from './report-lab.js';

const skip = requireRoot();

/** `node server.mjs <port> <dir> <bind>`; ROLE is replaced per server: the candidate changes /orders bodies. */
const SERVER = `
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
const [port, , bind] = process.argv.slice(2);
const candidate = 'ROLE' === 'candidate';
const me = randomBytes(4).toString('hex');
let n = 0;
createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (let end = buf.indexOf('\\r\\n\\r\\n'); end >= 0; end = buf.indexOf('\\r\\n\\r\\n')) {
      const path = buf.slice(0, end).split(' ')[1];
      buf = buf.slice(end + 4);
      let body = 'ok ' + path + '\\n';
      if (candidate && path.startsWith('/orders/')) body = 'orders moved ' + path + '\\n';
      s.write('HTTP/1.1 200 OK\\r\\nServer: test\\r\\nX-Request-Id: ' + me + '-' + n++ + '\\r\\nContent-Type: text/plain\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
    }
  });
  s.on('error', () => {});
}).listen(Number(port), bind, () => console.log('listening'));
`;

/** copier ns with one veth (own subnet) to each of `n` target namespaces; each target routes back via the copier. */
async function targets(lab: Lab, n: number): Promise<{ copier: string; hosts: { ns: string; ip: string }[] }> {
  const copier = await lab.addNamespace('copier');
  const hosts: { ns: string; ip: string }[] = [];
  for (let i = 0; i < n; i++) {
    const ns = await lab.addNamespace(`target${i}`);
    const veth = await lab.addVeth(copier, ns);
    const subnet = await lab.allocSubnet();
    await lab.addAddress(copier, veth.a, `${subnet.host(1)}/24`);
    await lab.addAddress(ns, veth.b, `${subnet.host(2)}/24`);
    await lab.addRoute(ns, ['default', 'via', subnet.host(1)]);
    hosts.push({ ns, ip: subnet.host(2) });
  }
  return { copier, hosts };
}

test('Diffy mode: only the candidate endpoint that differs is reported; the baselines\' differing header is learned as noise', { skip, timeout: 150_000 }, async (t) => {
  const lab = await labFor(t, { name: 'report-diffy' });
  const rec = await recordWorkload(
    lab,
    80,
    HTTP_CLIENT,
    (pair) => startNginx(lab, pair.server, { port: 80, bind: pair.serverIp }),
    (pair) => ({
      conns: Array.from({ length: 12 }, (_, i) => ({ from: pair.clientIps[i % pair.clientIps.length] as string, paths: [`/users/${i}`, `/orders/${i}`, `/items/${i}`] })),
    }),
  );
  const net = await targets(lab, 3);
  const roles = ['candidate', 'baseline1', 'baseline2'];
  for (const [i, h] of net.hosts.entries()) {
    await startIntercept(lab, h.ns, [80], ['--forward-payload', 'all']);
    await startNodeServer(lab, h.ns, SERVER.replace('ROLE', roles[i] as string), 80, h.ip);
  }
  const json = join(lab.tmpDir, 'report.json');
  const x = net.hosts.map((h) => `80-${h.ip}:80`).join(',');
  const s = net.hosts.map((h) => h.ip).join(',');
  const run = await runTcpcopy(lab, net.copier, ['-x', x, '-s', s, '-i', rec.pcap, '--quiet', '--diffy', '--report', json]);
  assert.equal(run.code, 0, describeRun(run));
  const r = readReport(json);
  assert.equal(r.run.reference, 'baselines');
  assert.deepEqual(r.run.targets.map((x) => x.role), ['candidate', 'baseline', 'baseline']);
  assert.equal(r.totals.exchanges, rec.requests, describeRun(run));
  assert.deepEqual(mismatchesByEndpoint(r, 0), { 'GET /orders/{id}': 12 }, JSON.stringify(r.mismatches.slice(0, 2), null, 1));
  assert.ok(r.mismatches.every((m) => m.endpoint === 'GET /orders/{id}' && m.target === 0));
  assert.ok(r.noise !== null && r.noise.rate > 0.9, JSON.stringify(r.noise));
  const learned = new Set(r.noise.endpoints.flatMap((e) => e.fields.map((f) => f.field)));
  assert.deepEqual([...learned], ['header:x-request-id'], JSON.stringify(r.noise.endpoints));
  t.diagnostic(run.stdout.split('\n').filter((l) => l.startsWith('report:')).join(' / '));
});
