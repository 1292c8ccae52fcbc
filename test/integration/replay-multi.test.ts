// Two test servers, each with its own intercept: one tcpcopy run with -s naming both and -x
// sending HTTP to one and the greeting protocol to the other. CLIENT_ADD goes to every
// interceptor; each session's responses come back from the interceptor of its own target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startGreetingServer, startNginx } from '../helpers/servers.js';
import { describeRun, multisetMinus, recordLossless, runTcpcopy, startIntercept } from './replay-lab.js';

const skip = requireRoot();

test('two interceptors (-s a,b) and two targets (-x per port): each target gets exactly its traffic', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-multi' });
  const rec = await recordLossless(lab, {
    aliases: 20,
    http: { connections: 200, requestsPerConn: [1, 3] },
    greeting: { connections: 60, linesPerConn: 2, port: 2525 },
    rate: 300,
    concurrency: 16,
  });
  assert.equal(rec.truth.errors, 0);
  const copier = await lab.addNamespace('copier');
  const targets: { ns: string; ip: string; dev: string }[] = [];
  for (const role of ['web', 'greet']) {
    const ns = await lab.addNamespace(role);
    const veth = await lab.addVeth(copier, ns);
    const subnet = await lab.allocSubnet();
    await lab.addAddress(copier, veth.a, `${subnet.host(1)}/24`);
    await lab.addAddress(ns, veth.b, `${subnet.host(2)}/24`);
    await lab.addRoute(ns, ['default', 'via', subnet.host(1)]);
    targets.push({ ns, ip: subnet.host(2), dev: veth.b });
  }
  const [web, greet] = targets as [(typeof targets)[0], (typeof targets)[0]];
  await startIntercept(lab, web.ns, [80]);
  await startIntercept(lab, greet.ns, [2525]);
  const nginx = await startNginx(lab, web.ns, { port: 80, bind: web.ip });
  const greeter = await startGreetingServer(lab, greet.ns, 2525, greet.ip);

  const run = await runTcpcopy(lab, copier, ['-x', `80-${web.ip}:80,2525-${greet.ip}:2525`, '-s', `${web.ip},${greet.ip}`, '-C', '3', '-i', rec.pcap, '--quiet']);
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.summary.outcomes.completed, rec.truth.connections.length, describeRun(run));

  const paths = nginx.readAccessLog().map((e) => `${e.method} ${e.path}`);
  const wantPaths = rec.truth.httpRequests.map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(multisetMinus(wantPaths, paths), []);
  assert.deepEqual(multisetMinus(paths, wantPaths), []);
  const lines = greeter.readLines().map((l) => l.slice(l.indexOf(' ') + 1));
  const wantLines = (rec.greeting?.readLines() ?? []).map((l) => l.slice(l.indexOf(' ') + 1));
  assert.ok(wantLines.length > 0);
  assert.deepEqual(multisetMinus(wantLines, lines), []);
  assert.deepEqual(multisetMinus(lines, wantLines), []);
});
