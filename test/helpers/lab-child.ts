// A test process that builds a lab and then dies in a chosen way, so lab.test.ts can check
// that teardown happens anyway. Run as `node lab-child.js <mode>`; prints one JSON line
// (LabChildReport) as soon as the lab exists, then:
//   assert   — a node:test body that registered t.after(destroy) fails an assertion
//   uncaught — an uncaught exception with no hook at all (the process 'exit' hook must clean up)
//   wait     — prints "ready" and idles (bounded) until the parent signals it
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, twoHost, type Lab } from './lab.js';
import { startNginx } from './servers.js';

export interface LabChildReport {
  id: string;
  namespaces: string[];
  pids: number[];
  tmpDir: string;
}

async function build(): Promise<Lab> {
  const lab = await createLab({ name: 'child' });
  const th = await twoHost(lab);
  await startNginx(lab, th.target, { port: 80 });
  lab.spawn(th.copier, 'sleep', ['120']);
  const report: LabChildReport = {
    id: lab.id,
    namespaces: [...lab.namespaces],
    // Includes nginx's worker, which the lab never spawned itself.
    pids: [...new Set([...lab.processes.map((p) => p.pid), ...lab.pidsInNamespaces()])],
    tmpDir: lab.tmpDir,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
  return lab;
}

const mode = process.argv[2];
if (mode === 'assert') {
  test('a failing body', async (t) => {
    const lab = await build();
    t.after(() => lab.destroy());
    assert.equal(1 + 1, 3, 'deliberate failure');
  });
} else if (mode === 'uncaught') {
  await build();
  setTimeout(() => {
    throw new Error('deliberate uncaught exception');
  }, 10);
} else if (mode === 'wait') {
  await build();
  process.stdout.write('ready\n');
  // Bounded: the parent signals long before this.
  setTimeout(() => undefined, 60_000);
} else {
  process.stderr.write(`lab-child: unknown mode ${String(mode)} (assert | uncaught | wait)\n`);
  process.exitCode = 2;
}
