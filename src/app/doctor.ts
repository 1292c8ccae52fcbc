import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import {
  CAP_NET_ADMIN,
  CAP_NET_RAW,
  checkCaptureDevice,
  checkCaptureFile,
  checkChannelPort,
  checkClientRoutes,
  checkInterceptorReachable,
  checkNfqueueAvailable,
  checkPrivileges,
  checkQueueFree,
  checkRawBackend,
  checkRawSocket,
  checkRpFilter,
  checkRules,
  parseProcStatus,
  parseQueueRules,
  parseRouteGet,
  skipped,
  type CheckResult,
  type QueueRule,
} from '../core/doctor/index.js';
import type { TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { ipToString } from '../core/packet/ipv4.js';
import { runIptables } from '../io/iptables.js';
import {
  moduleLoadable,
  probeBind,
  probeCaptureDevice,
  probeCaptureFile,
  probeConnect,
  probeOwnAddon,
  probeRawSocket,
  processName,
  readSysctlNumber,
  readText,
  routeGet,
} from '../io/sysinfo.js';

/**
 * Preflight checks of both programs (`intercept --check`, `tcpcopy --check`): gathers the facts
 * (src/io/sysinfo.ts) and evaluates them (src/core/doctor). Nothing here changes the system.
 */

/** Script paths as an operator would type them from the checkout (or the install dir). */
function scriptPath(name: string): string {
  const abs = fileURLToPath(new URL(`../../../scripts/${name}`, import.meta.url));
  const rel = relative(process.cwd(), abs);
  return rel.startsWith('..') ? abs : rel;
}

export interface InterceptDoctorOptions {
  queueNum: number;
  /** Channel port and bind address. */
  port: number;
  bind: string | null;
  /** --install-rule ports (intercept will manage the rule itself). */
  installRulePorts: readonly number[];
  /** --check-ports: service ports to verify when the rule is managed outside intercept. */
  servicePorts: readonly number[];
  /** --check-clients: fake client addresses/ranges whose route to check. */
  clients: readonly string[];
  /** --check-copier: the copier host's address (rp_filter and route-via check). */
  copier: string | null;
  iptables?: string;
}

async function listQueueRules(binary: string | undefined): Promise<{ rules: QueueRule[]; error: string | null }> {
  const rules: QueueRule[] = [];
  for (const table of ['filter', 'mangle', 'raw']) {
    const r = await runIptables(['-t', table, '-S'], binary !== undefined ? { binary } : {});
    if (r.code !== 0) {
      if (table === 'filter') return { rules, error: r.error ?? (r.stderr.trim() || `exit status ${r.code}`) };
      continue;
    }
    rules.push(...parseQueueRules(table, r.stdout));
  }
  return { rules, error: null };
}

async function routeChecks(clients: readonly string[], copier: string | null): Promise<CheckResult[]> {
  const lookups = await Promise.all(clients.map((c) => routeGet(c)));
  const routeResult = checkClientRoutes(lookups, { copier, routeScript: scriptPath('route-setup.sh') });
  const first = lookups[0];
  const clientDev = first !== undefined && first.found ? (parseRouteGet(first.text)?.dev ?? null) : null;
  let copierDev: string | null = null;
  if (copier !== null) {
    const c = await routeGet(copier);
    copierDev = c.found ? (parseRouteGet(c.text)?.dev ?? null) : null;
  }
  const perDev: Record<string, number | null> = {};
  for (const d of [copierDev, clientDev]) if (d !== null) perDev[d] = readSysctlNumber(`net.ipv4.conf.${d}.rp_filter`);
  const rp = checkRpFilter({ all: readSysctlNumber('net.ipv4.conf.all.rp_filter'), perDev, clientDev, copierDev });
  return [routeResult, rp];
}

export async function interceptDoctor(o: InterceptDoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(checkPrivileges(parseProcStatus(readText('/proc/self/status') ?? ''), [CAP_NET_ADMIN, CAP_NET_RAW], 'NFQUEUE and iptables'));
  const procText = readText('/proc/net/netfilter/nfnetlink_queue');
  const nf = { procText, loadable: procText === null ? await moduleLoadable('nfnetlink_queue') : true };
  results.push(checkNfqueueAvailable(nf));
  const listed = await listQueueRules(o.iptables);
  results.push(
    ...checkRules({
      rules: listed.rules,
      listError: listed.error,
      queueNum: o.queueNum,
      ports: o.installRulePorts.length > 0 ? o.installRulePorts : o.servicePorts,
      installRule: o.installRulePorts.length > 0,
      channelPort: o.port,
      rulesScript: scriptPath('intercept-rules.sh'),
    }),
  );
  results.push(checkQueueFree(nf, o.queueNum, (portId) => processName(portId)));
  results.push(checkChannelPort(await probeBind(o.bind, o.port)));
  if (o.clients.length > 0) results.push(...(await routeChecks(o.clients, o.copier)));
  else {
    // Without explicit clients, any routable address will do: a default route covers real clients.
    const lookups = [await routeGet('203.0.113.1')];
    const r = checkClientRoutes(lookups, { copier: o.copier, routeScript: scriptPath('route-setup.sh') });
    results.push(
      r.status === 'ok'
        ? { ...r, detail: `default route present (${r.detail.replace('203.0.113.1 ', '')}); give --check-clients <range> to check the replayed clients` }
        : {
            ...r,
            detail: `no default route, and no --check-clients given: ${r.detail}`,
            fix: `bash ${scriptPath('route-setup.sh')} add --clients default --via ${o.copier ?? '<copier ip>'}  (or name the replayed clients: --check-clients <range>)`,
          },
    );
    results.push(skipped('rp-filter', 'rp_filter', 'give --check-clients and --check-copier to check reverse-path filtering'));
  }
  return results;
}

export interface CopierDoctorOptions {
  /** -s entries: interceptor host and port. */
  interceptors: ReadonlyArray<{ host: string; port: number }>;
  /** -x targets: where the rewritten packets go (route checked). */
  targets: readonly string[];
  /** -i file (offline) or null. */
  captureFile: string | null;
  /** Live capture devices (-i DEV[,DEV…], or `any` without -i); empty for a file. */
  captureDevices: readonly string[];
  connectTimeoutMs?: number;
}

/** The copier's checks (wired into `tcpcopy --check`). */
export async function copierDoctor(o: CopierDoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(checkPrivileges(parseProcStatus(readText('/proc/self/status') ?? ''), [CAP_NET_RAW], 'the raw IP socket'));
  results.push(checkRawSocket(probeRawSocket()));
  results.push(checkRawBackend(probeOwnAddon('rawsend')));
  for (const t of o.targets) {
    const l = await routeGet(t);
    const r = l.found ? parseRouteGet(l.text) : null;
    results.push(
      r === null || (r.kind !== 'unicast' && r.kind !== 'local')
        ? { id: 'target-route', title: `route to the test server ${t}`, status: 'problem', detail: l.text || 'no route', fix: `ip route add ${t} via <gateway>  (or fix -x)` }
        : { id: 'target-route', title: `route to the test server ${t}`, status: 'ok', detail: `${r.kind === 'local' ? 'local address (single host)' : r.via !== null ? `via ${r.via}` : 'directly connected'} on ${r.dev ?? '?'}`, fix: null },
    );
  }
  const probes = await Promise.all(o.interceptors.map((i) => probeConnect(i.host, i.port, o.connectTimeoutMs ?? 3000)));
  results.push(...checkInterceptorReachable(probes));
  results.push(
    o.captureFile === null && o.captureDevices.length > 0
      ? skipped('capture-file', 'capture file', `live capture on ${o.captureDevices.join(', ')}`)
      : checkCaptureFile(o.captureFile === null ? null : probeCaptureFile(o.captureFile)),
  );
  if (o.captureFile === null) {
    if (o.captureDevices.length === 0) results.push(checkCaptureDevice(null));
    for (const d of o.captureDevices) results.push(checkCaptureDevice(probeCaptureDevice(d)));
  }
  return results;
}

/** `tcpcopy --check`: the copier doctor's inputs from the parsed command line (-x, -s, -i: a file or devices). */
export function copierDoctorOptionsFrom(cfg: Pick<TcpcopyConfig, 'transfers' | 'interceptors' | 'input'> & { recordOnly?: boolean }): CopierDoctorOptions {
  return {
    interceptors: cfg.interceptors.map((i) => ({ host: ipToString(i.ip), port: i.port })),
    // Record only (--record without -s): nothing is sent, so no target route to check.
    targets: cfg.recordOnly === true ? [] : [...new Set(cfg.transfers.map((t) => ipToString(t.targetIp)))],
    captureFile: cfg.input.kind === 'file' ? cfg.input.path : null,
    captureDevices: cfg.input.kind === 'live' ? cfg.input.devices : [],
  };
}
