import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTransfers } from '../../src/core/config/copier.js';
import { SessionEngine } from '../../src/core/session/engine.js';
import { defaultEngineConfig, type SessionInfo } from '../../src/core/session/types.js';
import { ipToString } from '../../src/core/packet/ipv4.js';
import { captureSession, request } from './capture.js';
import { ONLINE_SERVER, ip } from './harness.js';

/*
 * --mirror (and --diffy): a captured connection gets one session per -x entry of its online
 * address and port, each announced (CLIENT_ADD) and started towards its own target; without it
 * the first entry alone gets it (stock first-match). sessionStarted reports each session.
 */

const CLIENT = ip('192.0.2.77');

function run(mirror: boolean): { routes: string[]; syns: string[]; started: string[] } {
  const routes: string[] = [];
  const syns: string[] = [];
  const started: string[] = [];
  const cfg = defaultEngineConfig(parseTransfers('80-10.0.0.2:8080,80-10.0.0.3:8080,80-10.0.0.4:8081,443-10.0.0.9:443'), { mirror });
  const engine = new SessionEngine(cfg, {
    send: (buf, _len, dstIp) => {
      if (((buf[33] as number) & 0x02) !== 0) syns.push(`${ipToString(dstIp)}:${buf.readUInt16BE(22)}`);
    },
    routeAdd: (_cip, _cport, tip, tport) => {
      routes.push(`${ipToString(tip)}:${tport}`);
      return true;
    },
    routeDel: () => undefined,
    sessionClosed: () => undefined,
    sessionStarted: (info: SessionInfo) => started.push(`${info.onlineClientPort}>${ipToString(info.targetIp)}:${info.targetPort}`),
  });
  const caps = captureSession({ clientIp: CLIENT, clientPort: 40000, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: request('x', 100) }] });
  const syn = caps[0];
  assert.ok(syn !== undefined);
  engine.onCaptured(syn.pkt, 0, syn.pkt.length, 1_700_000_000_000_000, syn.tsUs);
  return { routes, syns, started };
}

test('--mirror: one session per -x entry of the online port, each towards its own target', () => {
  const all = ['10.0.0.2:8080', '10.0.0.3:8080', '10.0.0.4:8081'];
  assert.deepEqual(run(true), { routes: all, syns: all, started: all.map((a) => `40000>${a}`) });
});

test('without --mirror: the first -x entry only (stock first match)', () => {
  assert.deepEqual(run(false), { routes: ['10.0.0.2:8080'], syns: ['10.0.0.2:8080'], started: ['40000>10.0.0.2:8080'] });
});
