import { describeLinkType, SUPPORTED_LINK_TYPES_TEXT } from '../capture/link-types.js';
import { ok, problem, skipped, type CheckResult } from './types.js';

/** Result of trying to bind the channel port: null = it could be bound; else errno code + message. */
export interface BindProbe {
  host: string;
  port: number;
  error: { code: string; message: string } | null;
  /** Who listens there (from ss), when known. */
  holder: string | null;
}

export function checkChannelPort(p: BindProbe): CheckResult {
  const id = 'channel-port';
  const title = `channel port ${p.host}:${p.port}`;
  if (p.error === null) return ok(id, title, 'free: copiers can connect once intercept runs');
  if (p.error.code === 'EADDRINUSE') {
    return problem(id, title, `already in use${p.holder !== null ? ` by ${p.holder}` : ''} (another intercept?)`, `stop it (systemctl stop intercept, or kill its PID), or use another port: intercept -p <port> and tcpcopy -s <ip>:<port>`);
  }
  if (p.error.code === 'EADDRNOTAVAIL') return problem(id, title, `${p.host} is not an address of this host`, 'fix -b: use one of the addresses shown by ip -4 addr, or leave -b out');
  return problem(id, title, `${p.error.code}: ${p.error.message}`, 'run as root, or choose a port above 1023 with -p');
}

/** Result of a TCP connect from the copier to one interceptor. */
export interface ConnectProbe {
  target: string;
  error: { code: string; message: string } | null;
}

export function checkInterceptorReachable(probes: readonly ConnectProbe[]): CheckResult[] {
  return probes.map((p) => {
    const id = 'interceptor-reachable';
    const title = `interceptor ${p.target}`;
    if (p.error === null) return ok(id, title, 'reachable (TCP connect succeeded)');
    const why: Record<string, string> = {
      ECONNREFUSED: 'connection refused: intercept is not running there, or listens on another port/address',
      ETIMEDOUT: 'no answer: the test server is down or unreachable, or a firewall drops the channel port',
      EHOSTUNREACH: 'host unreachable: no route from this host to the test server',
      ENETUNREACH: 'network unreachable: no route from this host to the test server',
    };
    return problem(
      id,
      title,
      why[p.error.code] ?? `${p.error.code}: ${p.error.message}`,
      'on the test server: intercept --check, then start intercept (systemctl start intercept); allow TCP 36524 from this host (intercept --allow, firewalls)',
    );
  });
}

/** Result of opening a raw IPv4 socket: null = allowed. */
export function checkRawSocket(error: { code: string; message: string } | null): CheckResult {
  const id = 'raw-socket';
  const title = 'raw IP socket';
  if (error === null) return ok(id, title, 'allowed (IPPROTO_RAW socket opened)');
  if (error.code === 'EPERM' || error.code === 'EACCES' || /not permitted/i.test(error.message)) {
    return problem(id, title, 'not permitted: sending rewritten packets needs CAP_NET_RAW', 'run as root or with CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW in systemd/tcpcopy@.service)');
  }
  return problem(id, title, error.message, `bash scripts/install-deps.sh && npm rebuild raw-socket`);
}

/**
 * Which raw send backend a run would use: the project's sendmmsg addon when it loads (`null`),
 * else the `raw-socket` fallback (with why the addon did not load). Either works; the fallback
 * costs one JS→native call and one sendto per packet.
 */
export function checkRawBackend(addonError: string | null): CheckResult {
  const id = 'raw-backend';
  const title = 'raw send backend';
  if (addonError === null) return ok(id, title, 'sendmmsg addon (src/native/rawsend): one sendmmsg per batch');
  return ok(id, title, `raw-socket fallback (one sendto per packet): the sendmmsg addon did not load: ${addonError}; 'npm run build:native' builds it`);
}

/** What opening a capture file found (first packets read). */
export interface CaptureFileProbe {
  path: string;
  /** Reading failed: the message (names file and byte offset for corrupt input). */
  error: string | null;
  format: string | null;
  linkTypes: readonly number[];
  unsupported: readonly number[];
  packets: number;
}

export function checkCaptureFile(p: CaptureFileProbe | null): CheckResult {
  const id = 'capture-file';
  const title = 'capture file';
  if (p === null) return skipped(id, title, 'no -i file given');
  if (p.error !== null) {
    const fix = /EACCES|permission/i.test(p.error)
      ? `make it readable by the service user (chmod o+r ${p.path}, or put it under the unit's ReadOnlyPaths)`
      : /ENOENT|no such file/i.test(p.error)
        ? 'check the path given to -i'
        : /link/i.test(p.error)
          ? `convert it: editcap -T ether or re-capture with tcpdump -i <iface> (supported: ${SUPPORTED_LINK_TYPES_TEXT})`
          : 're-capture it: tcpdump -i <iface> -s 0 -w file.pcap (the message names the byte offset)';
    return problem(id, title, p.error, fix);
  }
  if (p.unsupported.length > 0) {
    return problem(id, title, `${p.path}: link type ${p.unsupported.map(describeLinkType).join(', ')} not supported`, `re-capture with tcpdump -i <iface> (supported: ${SUPPORTED_LINK_TYPES_TEXT})`);
  }
  if (p.packets === 0) return problem(id, title, `${p.path}: ${p.format ?? 'capture'} file holds no packets`, 're-capture: tcpdump -i <iface> -s 0 -w file.pcap \'tcp port <service port>\'');
  return ok(id, title, `${p.path}: ${p.format ?? '?'}, link type ${p.linkTypes.map(describeLinkType).join(', ')}, packets readable`);
}

/** Live capture device: exists, and libpcap could open it. */
export interface CaptureDeviceProbe {
  device: string;
  exists: boolean;
  openError: string | null;
}

export function checkCaptureDevice(p: CaptureDeviceProbe | null): CheckResult {
  const id = 'capture-device';
  const title = 'capture device';
  if (p === null) return skipped(id, title, 'no live capture device in use');
  if (!p.exists) return problem(id, title, `${p.device}: no such interface`, 'pick one from ip -br link (or "any")');
  if (p.openError !== null) {
    const perm = /permission|not permitted|EPERM/i.test(p.openError);
    return problem(id, title, `libpcap cannot open ${p.device}: ${p.openError}`, perm ? 'run as root or with CAP_NET_RAW (+ CAP_NET_ADMIN for promiscuous mode)' : 'bash scripts/install-deps.sh && npm rebuild cap');
  }
  return ok(id, title, `${p.device}: libpcap opened it`);
}
