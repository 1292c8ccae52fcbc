import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import type { BindProbe, CaptureDeviceProbe, CaptureFileProbe, ConnectProbe, RouteLookup } from '../core/doctor/index.js';
import { isSupportedLinkType } from '../core/capture/link-types.js';
import { CaptureFileReader } from './pcap-file.js';
import { loadAddon, type OwnAddon } from './native.js';

/**
 * Facts about the host for the preflight checks: /proc files, sysctls, `ip route get`, modprobe,
 * probes that try the real thing (bind, connect, raw socket, libpcap open). Every function
 * returns a value describing failure instead of throwing.
 */

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCmd(cmd: string, args: readonly string[], timeoutMs = 5000): Promise<CmdResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      resolve({ code: typeof e.code === 'number' ? e.code : null, stdout: stdout ?? '', stderr: stderr || e.message });
    });
  });
}

export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A numeric sysctl under /proc/sys ("net.ipv4.conf.all.rp_filter"); null when unreadable. */
export function readSysctlNumber(name: string): number | null {
  // Interface names may contain dots; /proc/sys spells them as-is, so only the known prefix splits.
  const m = /^net\.ipv4\.conf\.(.+)\.([a-z_]+)$/.exec(name);
  const path = m !== null ? `/proc/sys/net/ipv4/conf/${m[1]}/${m[2]}` : `/proc/sys/${name.replace(/\./g, '/')}`;
  const t = readText(path);
  if (t === null || !/^-?\d+/.test(t.trim())) return null;
  return Number.parseInt(t.trim(), 10);
}

export async function routeGet(addr: string): Promise<RouteLookup> {
  const probe = addr.includes('/') ? (addr.split('/')[0] as string) : addr;
  const r = await runCmd('ip', ['-o', 'route', 'get', probe]);
  return { addr, text: (r.stdout + r.stderr).trim(), found: r.code === 0 };
}

/** `modprobe -n` (dry run): true when the module is loadable or built in; null without modprobe. */
export async function moduleLoadable(name: string): Promise<boolean | null> {
  if (existsSync(`/sys/module/${name}`)) return true;
  const r = await runCmd('modprobe', ['-n', '-q', name]);
  if (r.code === null) return null;
  return r.code === 0;
}

/** The command name of a process (for "queue bound by process N: name"). */
export function processName(pid: number): string | null {
  const comm = readText(`/proc/${pid}/comm`);
  if (comm === null) return null;
  const cmdline = readText(`/proc/${pid}/cmdline`);
  const args = cmdline === null ? '' : cmdline.split('\0').filter((s) => s !== '').slice(0, 4).join(' ');
  return args !== '' ? `${comm.trim()} (${args})` : comm.trim();
}

function errInfo(err: unknown): { code: string; message: string } {
  const e = err as NodeJS.ErrnoException;
  return { code: e.code ?? 'ERROR', message: e.message ?? String(err) };
}

/** Tries to listen on host:port and closes again at once. */
export async function probeBind(host: string | null, port: number): Promise<BindProbe> {
  const h = host ?? '0.0.0.0';
  const error = await new Promise<{ code: string; message: string } | null>((resolve) => {
    const srv = createServer();
    srv.once('error', (err) => resolve(errInfo(err)));
    srv.listen({ host: h, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
  let holder: string | null = null;
  if (error?.code === 'EADDRINUSE') {
    const ss = await runCmd('ss', ['-Hltnp', `sport = :${port}`]);
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(ss.stdout);
    if (m !== null) holder = `${m[1]} (pid ${m[2]})`;
  }
  return { host: h, port, error, holder };
}

/** TCP connect with a timeout, closed at once. */
export function probeConnect(host: string, port: number, timeoutMs = 3000): Promise<ConnectProbe> {
  return new Promise((resolve) => {
    const s = new Socket();
    const target = `${host}:${port}`;
    const done = (error: { code: string; message: string } | null): void => {
      s.destroy();
      resolve({ target, error });
    };
    s.setTimeout(timeoutMs, () => done({ code: 'ETIMEDOUT', message: `no answer within ${timeoutMs} ms` }));
    s.once('error', (err) => done(errInfo(err)));
    s.connect(port, host, () => done(null));
  });
}

interface RawSocketModule {
  createSocket(opts: { protocol: number }): { close(): void; on(ev: string, cb: (e: Error) => void): void };
}

/** Opens (and closes) an IPPROTO_RAW socket, as the copier's sink does. */
export function probeRawSocket(): { code: string; message: string } | null {
  try {
    const raw = loadAddon<RawSocketModule>('raw-socket');
    const s = raw.createSocket({ protocol: 255 });
    s.on('error', () => undefined);
    s.close();
    return null;
  } catch (err) {
    const e = errInfo(err);
    if (/Operation not permitted/i.test(e.message)) return { code: 'EPERM', message: e.message };
    return e;
  }
}

/** Whether one of the project's addons loads: null, or why not (first line of the error). */
export function probeOwnAddon(name: OwnAddon): string | null {
  try {
    loadAddon(name);
    return null;
  } catch (err) {
    return (errInfo(err).message.split('\n')[0] ?? '').trim();
  }
}

/** Reads the start of a capture file (up to `maxPackets`) with the replay's own reader. */
export function probeCaptureFile(path: string, maxPackets = 2000): CaptureFileProbe {
  const linkTypes = new Set<number>();
  let packets = 0;
  let reader: CaptureFileReader | null = null;
  try {
    reader = CaptureFileReader.open(path, { chunkSize: 256 * 1024 });
    for (let rec = reader.nextSync(); rec !== null && packets < maxPackets; rec = reader.nextSync()) {
      linkTypes.add(rec.linkType);
      packets++;
    }
    const types = [...linkTypes];
    return { path, error: null, format: reader.format, linkTypes: types, unsupported: types.filter((t) => !isSupportedLinkType(t)), packets };
  } catch (err) {
    return { path, error: err instanceof Error ? err.message : String(err), format: null, linkTypes: [], unsupported: [], packets };
  } finally {
    reader?.close();
  }
}

interface CapModule {
  Cap: new () => { open(dev: string, filter: string, bufSize: number, buf: Buffer): string; close(): void };
}

/** Whether the interface exists and libpcap (the `cap` addon) can open it for capture. */
export function probeCaptureDevice(device: string): CaptureDeviceProbe {
  const exists = device === 'any' || existsSync(`/sys/class/net/${device}`);
  if (!exists) return { device, exists, openError: null };
  try {
    const cap = loadAddon<CapModule>('cap');
    const c = new cap.Cap();
    c.open(device, 'tcp', 1 << 20, Buffer.alloc(65536));
    c.close();
    return { device, exists, openError: null };
  } catch (err) {
    return { device, exists, openError: err instanceof Error ? err.message : String(err) };
  }
}
