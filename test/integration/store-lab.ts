// Shared set-up of the stream-store tests: a real `nats-server -js` (file storage in the lab's temp
// dir) inside a lab namespace, and the topology of two online hosts recording into it.
import { existsSync } from 'node:fs';
import { cliPath } from '../helpers/paths.js';
import type { Lab, LabProcess } from '../helpers/lab.js';
import { liveNet, type LiveNet } from './live-lab.js';

export const NATS_SERVER = '/usr/sbin/nats-server';

/** Why the store tests cannot run here (no nats-server), or false. */
export function requireNats(): string | false {
  return existsSync(NATS_SERVER) ? false : `needs ${NATS_SERVER} (scripts/install-deps.sh --with-test-tools)`;
}

export interface NatsServer {
  port: number;
  proc: LabProcess;
  /** Stops it (SIGTERM, by PID). */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (after stop()). */
  start(): Promise<void>;
}

/** nats-server -js on 0.0.0.0:port of `ns`, storage in a fresh dir of the lab; resolves once it listens. */
export async function startNats(lab: Lab, ns: string, port = 14222): Promise<NatsServer> {
  const dir = lab.mkdir('nats');
  const server: NatsServer = {
    port,
    proc: null as unknown as LabProcess,
    async start() {
      server.proc = lab.spawn(ns, NATS_SERVER, ['-js', '-a', '0.0.0.0', '-p', String(port), '-sd', dir, '-n', 'store1']);
      await server.proc.waitFor(/Server is ready/, 'stderr', 15_000);
    },
    async stop() {
      await server.proc.stop('SIGTERM', 5000);
    },
  };
  await server.start();
  return server;
}

export interface StoreNet extends LiveNet {
  /** The second online host: its namespace, capture interface and address, and its clients. */
  online2: string;
  online2If: string;
  online2Ip: string;
  client2Ips: string[];
  /** The store (nats-server in the first online namespace) as each online host reaches it. */
  storeFromOnline: string;
  storeFromOnline2: string;
  nats: NatsServer;
}

/**
 * liveNet (client ── online ── target) plus a second online host: client ── online2, and
 * online2 ── online for its way to the store, which runs in the online namespace.
 */
export async function storeNet(lab: Lab, aliases: number, port = 14222): Promise<StoreNet> {
  const net = await liveNet(lab, aliases);
  const online2 = await lab.addNamespace('online2');
  const front2 = await lab.addVeth(net.client, online2);
  const link = await lab.addVeth(online2, net.online);
  const c = await lab.allocSubnet();
  const d = await lab.allocSubnet();
  const client2Ips = Array.from({ length: aliases }, (_, i) => c.host(10 + i));
  await lab.addAliases(net.client, front2.a, client2Ips);
  await lab.addAddress(online2, front2.b, `${c.host(1)}/24`);
  await lab.addAddress(online2, link.a, `${d.host(2)}/24`);
  await lab.addAddress(net.online, link.b, `${d.host(1)}/24`);
  const nats = await startNats(lab, net.online, port);
  return {
    ...net,
    online2,
    online2If: front2.b,
    online2Ip: c.host(1),
    client2Ips,
    storeFromOnline: `127.0.0.1:${port}`,
    storeFromOnline2: `${d.host(1)}:${port}`,
    nats,
  };
}

/** A record-only tcpcopy into the store, started and capturing. */
export async function startStoreRecorder(lab: Lab, ns: string, dev: string, url: string, extra: string[] = []): Promise<LabProcess> {
  const p = lab.spawn(ns, process.execPath, [cliPath('tcpcopy'), '-i', dev, '--record', url, '--stats-interval', '0', ...extra]);
  await p.waitFor(/recording live capture on .* \(record only\) to /, 'stderr', 20_000);
  return p;
}

/** SIGTERM a recorder and wait for its exit (it leaves its tasks and waits for the store first). */
export async function stopRecorder(p: LabProcess, timeoutMs = 20_000): Promise<{ code: number | null; stderr: string }> {
  p.signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([p.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
  clearTimeout(timer);
  if (exit === null) {
    await p.stop('SIGKILL', 1000);
    throw new Error(`recorder did not exit within ${timeoutMs} ms of SIGTERM\n${p.stderr.slice(-3000)}`);
  }
  return { code: exit.code, stderr: p.stderr };
}
