// Builds the project's Node-API addons — src/native/nfq (batched NFQUEUE, for intercept),
// src/native/rawsend (batched raw sends, for tcpcopy), src/native/pktstat (kernel drop
// counters of a live capture socket, for tcpcopy) and src/native/pcapbatch (batched libpcap live
// capture, for tcpcopy; links -lpcap) — into src/native/<name>/build/Release/
// <name>.node with the node-gyp that ships with npm, against the headers of the node that runs
// this script (<prefix>/include/node): nothing is downloaded. Run through `npm run build:native`.
// Every addon is tried even when one fails; the exit status is 1 if any failed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ADDONS = [
  { name: 'nfq', without: "intercept falls back to the slower 'nfqueue' package" },
  { name: 'rawsend', without: "tcpcopy falls back to the slower 'raw-socket' package" },
  { name: 'pktstat', without: "tcpcopy's live capture cannot count kernel drops" },
  { name: 'pcapbatch', without: "tcpcopy's live capture falls back to the slower 'cap' package" },
];

const root = dirname(fileURLToPath(import.meta.url));
const prefix = dirname(dirname(process.execPath));
const localHeaders = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '';
const nodedir = process.env.npm_config_nodedir || localHeaders;
// npm exports the path of its bundled node-gyp to scripts; run directly, look for npm's copy
// next to this node, else a node-gyp on PATH.
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : '');
const cmd = gyp ? process.execPath : 'node-gyp';
const clean = process.argv.includes('--clean');

let failed = 0;
for (const addon of ADDONS) {
  const here = join(root, addon.name);
  // Incremental: configure only when there is no Makefile yet (or binding.gyp changed), then let
  // make rebuild what changed. A full `rebuild` would delete the .node first, and in a shared work
  // tree other processes starting meanwhile would find no addon. `--clean` forces a rebuild.
  const makefile = join(here, 'build', 'Makefile');
  const stale = !existsSync(makefile) || statSync(join(here, 'binding.gyp')).mtimeMs > statSync(makefile).mtimeMs;
  const steps = clean ? ['rebuild'] : stale ? ['configure', 'build'] : ['build'];
  const args = [...(gyp ? [gyp] : []), ...steps, `--directory=${here}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    failed++;
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    console.error(
      `build:native: building src/native/${addon.name} failed (${why}). It needs make, a C compiler (Debian: build-essential), python3 ` +
        `and Node's headers${nodedir ? ` (using ${nodedir}/include/node)` : ' (none found next to this node: set npm_config_nodedir)'}. ` +
        `Without it, ${addon.without}.`,
    );
  }
}
if (failed > 0) process.exit(1);
