// Network-namespace labs for integration tests (see docs/LAB.md).
//
// Every lab owns a per-run id (`tl` + pid in base 36 + 2 random chars) that prefixes all of its
// namespaces, interfaces and temp dirs, so parallel runs never collide and leftovers of a
// crashed run can be recognised (the owner pid is in the name) and swept.
// Teardown stops every process the lab started (by PID), deletes its namespaces (which removes
// their veths and iptables rules) and its temp dirs; it runs from destroy(), from the process
// 'exit' hook and from SIGINT/SIGTERM handlers, and is idempotent.
import { execFile, execFileSync, spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const LAB_PREFIX = 'tl';
// id = 'tl' + owner pid (5 base-36 chars, pids are < 2^22) + 2 random base-36 chars.
const ID_RE = /^tl([0-9a-z]{5})([0-9a-z]{2})/;
const TMP_PREFIX = 'tcpcopy-lab-';

/** Returns a skip reason when the tests cannot create namespaces, or false. */
export function requireRoot(): string | false {
  if (process.platform !== 'linux') return 'needs root: Linux network namespaces are required';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root: creates network namespaces, veths and iptables rules';
  }
  return false;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Default 20 s; the child is killed after it. */
  timeoutMs?: number;
  /** Throw (with the command and its stderr) on a non-zero exit. Default true. */
  check?: boolean;
  input?: string;
}

function runFile(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const check = opts.check ?? true;
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        const res: ExecResult = { code, stdout: String(stdout), stderr: String(stderr) };
        if (check && code !== 0) {
          reject(new Error(`command failed (exit ${code}${err?.killed ? ', killed by timeout' : ''}): ${cmd} ${args.join(' ')}\n${res.stderr.trim()}`));
        } else {
          resolve(res);
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function runSyncQuiet(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString();
  } catch {
    return '';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while `pid` is a live (non-zombie) process. Orphans we killed are reaped by whatever
 * PID 1 is, maybe late, so a zombie counts as gone.
 */
export function processRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // Field 3 follows the parenthesised command name, which may itself hold spaces or parens.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Spawned processes

export interface SpawnOptions {
  /** Extra environment; merged over process.env. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kept bytes of stdout/stderr (the tail). Default 4 MiB each. */
  captureLimit?: number;
  /** Feed this to stdin and close it; otherwise stdin is ignored. */
  input?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | null = null;
  private out = '';
  private err = '';
  private readonly limit: number;
  private waiters: { re: RegExp; stream: 'stdout' | 'stderr' | 'any'; resolve: () => void }[] = [];

  constructor(
    readonly label: string,
    child: ChildProcess,
    opts: SpawnOptions,
  ) {
    if (child.pid === undefined) throw new Error(`spawn failed: ${label}`);
    this.pid = child.pid;
    this.limit = opts.captureLimit ?? 4 * 1024 * 1024;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => this.append('stdout', d));
    child.stderr?.on('data', (d: string) => this.append('stderr', d));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }
  get running(): boolean {
    return this.exitInfo === null;
  }

  private append(stream: 'stdout' | 'stderr', d: string): void {
    if (stream === 'stdout') {
      this.out += d;
      if (this.out.length > this.limit) this.out = this.out.slice(this.out.length - this.limit);
    } else {
      this.err += d;
      if (this.err.length > this.limit) this.err = this.err.slice(this.err.length - this.limit);
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.matches(w.re, w.stream)) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  private matches(re: RegExp, stream: 'stdout' | 'stderr' | 'any'): boolean {
    if (stream === 'stdout') return re.test(this.out);
    if (stream === 'stderr') return re.test(this.err);
    return re.test(this.out) || re.test(this.err);
  }

  /** Resolves when `re` matches the captured output; rejects on timeout or exit. */
  async waitFor(re: RegExp, stream: 'stdout' | 'stderr' | 'any' = 'any', timeoutMs = 10_000): Promise<void> {
    if (this.matches(re, stream)) return;
    if (!this.running) throw new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before printing ${re}\n${this.err.slice(-2000)}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.waiters.push({ re, stream, resolve })),
        this.exited.then((x) => {
          if (!this.matches(re, stream)) {
            throw new Error(`${this.label} exited (${JSON.stringify(x)}) before printing ${re}\n${this.err.slice(-2000)}`);
          }
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timeout (${timeoutMs} ms) waiting for ${re} from ${this.label}\n${this.err.slice(-2000)}`)), timeoutMs);
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Sends a signal to our PID only (never by name). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /** `sig` (default SIGTERM), then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo as ExitInfo;
    this.signal(sig);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    if (timer) clearTimeout(timer);
    return this.exited;
  }

  killSync(): void {
    this.signal('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// The lab

export interface LabOptions {
  /** Folded into temp dir names only, for humans reading /tmp. */
  name?: string;
}

export interface Subnet {
  /** e.g. "10.213.7" — append ".N" for a host. */
  base: string;
  cidr: string;
  host(n: number): string;
}

export interface VethPair {
  /** Interface name on the `a` side and its namespace. */
  a: string;
  aNs: string | null;
  b: string;
  bNs: string | null;
}

const liveLabs = new Set<Lab>();
const idsUsed = new Set<string>();
let handlersInstalled = false;

function installProcessHooks(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort for ends that skip after() hooks (uncaught exception, process.exit()).
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const lab of liveLabs) lab.destroySync();
      // Re-raise with the default disposition so the parent sees the real cause of death.
      process.kill(process.pid, sig);
    });
  }
}

// ETHTOOL_STXCSUM(0) then ETHTOOL_GTXCSUM through SIOCETHTOOL, for hosts without ethtool.
const ETHTOOL_TXCSUM_OFF_PY = [
  'import array, fcntl, socket, struct, sys',
  'def et(dev, cmd, data=0):',
  '    v = array.array("I", [cmd, data])',
  '    ifr = struct.pack("16sP", dev.encode(), v.buffer_info()[0]) + bytes(16)',
  '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  '    fcntl.ioctl(s.fileno(), 0x8946, ifr)',
  '    s.close()',
  '    return v[1]',
  'et(sys.argv[1], 0x17, 0)',
  'print("off" if et(sys.argv[1], 0x16) == 0 else "on")',
].join('\n');

export class Lab {
  /** Per-run id, prefix of every name this lab creates (≤ 9 chars). */
  readonly id: string;
  readonly tmpDir: string;
  readonly namespaces: string[] = [];
  readonly processes: LabProcess[] = [];
  private readonly rootLinks: string[] = [];
  private readonly subnets: string[] = [];
  private readonly tmpDirs: string[] = [];
  private vethCount = 0;
  private destroyed = false;

  constructor(opts: LabOptions = {}) {
    // The pid part separates processes; the random part must also differ between labs of this one.
    let id: string;
    do {
      id = LAB_PREFIX + process.pid.toString(36).padStart(5, '0') + (randomBytes(2).readUInt16BE(0) % 1296).toString(36).padStart(2, '0');
    } while (idsUsed.has(id));
    if (idsUsed.size >= 1200) throw new Error('more than 1200 labs in one process');
    idsUsed.add(id);
    this.id = id;
    this.tmpDir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${this.id}-${(opts.name ?? 'lab').replace(/[^a-z0-9]/gi, '')}-`));
    this.tmpDirs.push(this.tmpDir);
    liveLabs.add(this);
    installProcessHooks();
  }

  /** A fresh directory under the lab's temp dir. */
  mkdir(name: string): string {
    return mkdtempSync(join(this.tmpDir, `${name.replace(/[^a-z0-9]/gi, '')}-`));
  }

  /** Creates namespace `<id>-<role>` with lo up and rp_filter off. */
  async addNamespace(role: string): Promise<string> {
    if (!/^[a-z0-9]{1,12}$/.test(role)) throw new Error(`namespace role must be [a-z0-9]{1,12}: ${role}`);
    const ns = `${this.id}-${role}`;
    await runFile('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(ns, ['link', 'set', 'lo', 'up']);
    await this.sysctl(ns, {
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.default.rp_filter': '0',
    });
    return ns;
  }

  /** `ip [-n ns] args` (ns null = root namespace). */
  ip(ns: string | null, args: string[], opts?: ExecOptions): Promise<ExecResult> {
    return runFile('ip', ns === null ? args : ['-n', ns, ...args], opts);
  }

  async sysctl(ns: string | null, values: Record<string, string>): Promise<void> {
    const args = ['-qw', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)];
    if (ns === null) await runFile('sysctl', args);
    else await this.exec(ns, 'sysctl', args);
  }

  /**
   * A veth pair `<id>v<k>a` / `<id>v<k>b`, moved into the given namespaces and set up.
   * Interface names stay ≤ 15 chars (the kernel's limit).
   */
  async addVeth(aNs: string | null, bNs: string | null): Promise<VethPair> {
    const k = this.vethCount++;
    const a = `${this.id}v${k}a`;
    const b = `${this.id}v${k}b`;
    if (a.length > 15) throw new Error(`interface name too long: ${a}`);
    await runFile('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    // Until moved, both ends live in the root namespace; remember them for cleanup.
    this.rootLinks.push(a);
    if (aNs !== null) await runFile('ip', ['link', 'set', a, 'netns', aNs]);
    if (bNs !== null) await runFile('ip', ['link', 'set', b, 'netns', bNs]);
    if (aNs !== null && bNs !== null) this.rootLinks.pop();
    await this.ip(aNs, ['link', 'set', a, 'up']);
    await this.ip(bNs, ['link', 'set', b, 'up']);
    // The per-device value counts too (the stricter of all/dev wins), and a device created in
    // the root namespace may carry the host's default.
    await this.sysctl(aNs, { [`net.ipv4.conf.${a}.rp_filter`]: '0' });
    await this.sysctl(bNs, { [`net.ipv4.conf.${b}.rp_filter`]: '0' });
    return { a, aNs, b, bNs };
  }

  /**
   * A dead-end interface `<id>d<k>` in `ns` (the kernel here has no dummy driver, so it is a veth
   * whose peer `<id>d<k>p` sits unaddressed in the same namespace): packets routed out of it vanish.
   */
  async addDummy(ns: string, k = 0): Promise<string> {
    const dev = `${this.id}d${k}`;
    await this.ip(ns, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
    await this.ip(ns, ['link', 'set', dev, 'up']);
    await this.ip(ns, ['link', 'set', `${dev}p`, 'up']);
    return dev;
  }

  /**
   * Turns TX checksum offload off on `dev` (which also turns off SG/TSO), so the kernel computes
   * full checksums and segments to the MTU before taps see the packets: captures then hold real
   * checksums and wire-sized segments instead of CHECKSUM_PARTIAL super-packets. Uses ethtool when
   * installed, else the same ioctl from python3; if neither works, caps GSO at one segment (sizes
   * then stay real, checksums do not) and says why.
   */
  async disableOffload(ns: string, dev: string): Promise<{ checksums: boolean; how: string }> {
    const viaEthtool = await this.exec(ns, 'ethtool', ['-K', dev, 'tx', 'off'], { check: false });
    if (viaEthtool.code === 0) return { checksums: true, how: 'ethtool' };
    const viaPython = await this.exec(ns, 'python3', ['-c', ETHTOOL_TXCSUM_OFF_PY, dev], { check: false });
    if (viaPython.code === 0 && viaPython.stdout.trim() === 'off') return { checksums: true, how: 'python3 ioctl' };
    await this.ip(ns, ['link', 'set', dev, 'gso_max_segs', '1']);
    return {
      checksums: false,
      how: `gso_max_segs 1 only (ethtool: ${viaEthtool.stderr.trim() || viaEthtool.code}; python3: ${viaPython.stderr.trim().split('\n').pop() ?? viaPython.code})`,
    };
  }

  /** Adds `cidr` (e.g. "10.213.7.1/24") to dev; no DAD/noise for IPv4. */
  async addAddress(ns: string | null, dev: string, cidr: string): Promise<void> {
    await this.ip(ns, ['addr', 'add', cidr, 'dev', dev]);
  }

  /** Adds many /32 aliases at once (one `ip -batch` run). */
  async addAliases(ns: string, dev: string, addrs: string[], prefixLen = 24): Promise<void> {
    if (addrs.length === 0) return;
    const batch = addrs.map((a) => `addr add ${a}/${prefixLen} dev ${dev}`).join('\n') + '\n';
    await runFile('ip', ['-n', ns, '-batch', '-'], { input: batch });
  }

  async addRoute(ns: string | null, args: string[]): Promise<void> {
    await this.ip(ns, ['route', 'add', ...args]);
  }

  /**
   * A /24 in 10.200.0.0–10.250.255.0 not used by the root namespace, any live namespace of ours
   * or this lab. Namespaces are isolated, but distinct subnets keep captures and logs unambiguous.
   */
  async allocSubnet(): Promise<Subnet> {
    const used = new Set<string>(this.subnets);
    const collect = (text: string): void => {
      for (const m of text.matchAll(/inet (10\.\d+\.\d+)\.\d+\//g)) if (m[1] !== undefined) used.add(m[1]);
    };
    collect((await runFile('ip', ['-o', '-4', 'addr'], { check: false })).stdout);
    collect((await runFile('ip', ['-o', '-4', 'route'], { check: false })).stdout.replace(/^(10\.\d+\.\d+)\.\d+\/\d+/gm, 'inet $1.0/'));
    const others = (await runFile('ip', ['netns', 'list'], { check: false })).stdout;
    for (const line of others.split('\n')) {
      const ns = line.split(' ')[0];
      if (ns !== undefined && ns.startsWith(LAB_PREFIX)) {
        collect((await runFile('ip', ['-n', ns, '-o', '-4', 'addr'], { check: false })).stdout);
      }
    }
    for (let tries = 0; tries < 1000; tries++) {
      const r = randomBytes(2);
      const second = 200 + ((r[0] ?? 0) % 51);
      const base = `10.${second}.${r[1] ?? 0}`;
      if (!used.has(base)) {
        this.subnets.push(base);
        return { base, cidr: `${base}.0/24`, host: (n: number) => `${base}.${n}` };
      }
    }
    throw new Error('no free 10.200-250.x.0/24 subnet');
  }

  /** Runs `cmd args` inside `ns` (null = root namespace) to completion. */
  exec(ns: string | null, cmd: string, args: string[] = [], opts?: ExecOptions): Promise<ExecResult> {
    if (ns === null) return runFile(cmd, args, opts);
    return runFile('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /**
   * Starts a long-running process inside `ns`. `ip netns exec` execs the command, so the PID is
   * the command's own. The lab stops it on destroy().
   */
  spawn(ns: string | null, cmd: string, args: string[] = [], opts: SpawnOptions = {}): LabProcess {
    if (this.destroyed) throw new Error('lab already destroyed');
    const argv = ns === null ? [cmd, ...args] : ['ip', 'netns', 'exec', ns, cmd, ...args];
    const child = spawnChild(argv[0] as string, argv.slice(1), {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      cwd: opts.cwd,
    });
    child.on('error', () => {
      // Reported through `exited` (spawn errors emit 'exit' too, or pid is undefined).
    });
    const proc = new LabProcess(`${cmd}@${ns ?? 'root'}`, child, opts);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    this.processes.push(proc);
    return proc;
  }

  /** Polls `ss` in `ns` until something listens on the TCP port. */
  async waitListening(ns: string, port: number, timeoutMs = 10_000, proc?: LabProcess): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.exec(ns, 'ss', ['-Hltn', `sport = :${port}`], { check: false });
      if (r.stdout.trim() !== '') return;
      if (proc && !proc.running) throw new Error(`${proc.label} exited before listening on :${port}: ${proc.stderr.slice(-2000)}`);
      await sleep(25);
    }
    throw new Error(`nothing listening on tcp :${port} in ${ns} after ${timeoutMs} ms${proc ? `: ${proc.stderr.slice(-2000)}` : ''}`);
  }

  /** PIDs of every process living in the lab's namespaces (ours or our children). */
  pidsInNamespaces(): number[] {
    const pids: number[] = [];
    for (const ns of this.namespaces) {
      for (const p of runSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/)) {
        const n = Number(p);
        if (p !== '' && Number.isInteger(n) && n > 1) pids.push(n);
      }
    }
    return pids;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Graceful teardown: SIGTERM (then SIGKILL) each process, delete namespaces and temp dirs. */
  async destroy(opts: { keepTmp?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.processes.map((p) => p.stop('SIGTERM', 2000)));
    this.destroySync(opts);
  }

  /** Synchronous teardown (signal handlers, 'exit'): SIGKILL everything, then delete. */
  destroySync(opts: { keepTmp?: boolean } = {}): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveLabs.delete(this);
    for (const p of this.processes) p.killSync();
    // Children of our processes (nginx workers, shells) still live in our namespaces.
    for (const pid of this.pidsInNamespaces()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    for (const ns of this.namespaces) runSyncQuiet('ip', ['netns', 'del', ns]);
    for (const link of this.rootLinks) runSyncQuiet('ip', ['link', 'del', link]);
    if (!opts.keepTmp) for (const d of this.tmpDirs) rmSync(d, { recursive: true, force: true });
  }
}

let sweptOnce = false;

/**
 * A new lab. The first call in a process also sweeps leftovers of crashed runs (labs whose
 * owner process is gone); `sweep: false` skips that.
 */
export async function createLab(opts: LabOptions & { sweep?: boolean } = {}): Promise<Lab> {
  const reason = requireRoot();
  if (reason) throw new Error(reason);
  if (!sweptOnce && opts.sweep !== false) {
    sweptOnce = true;
    sweepStale();
  }
  return new Lab(opts);
}

/** createLab() plus `t.after(() => lab.destroy())`: the usual first line of a root test. */
export async function labFor(t: { after(fn: () => unknown): void }, opts: LabOptions = {}): Promise<Lab> {
  const lab = await createLab(opts);
  t.after(() => lab.destroy());
  return lab;
}

// ---------------------------------------------------------------------------------------------
// Topologies

export interface TwoHost {
  copier: string;
  target: string;
  copierIf: string;
  targetIf: string;
  copierIp: string;
  targetIp: string;
  subnet: Subnet;
}

/** copier ns ── veth ── target ns; the target's default route points at the copier (docs/LAB.md). */
export async function twoHost(lab: Lab): Promise<TwoHost> {
  const copier = await lab.addNamespace('copier');
  const target = await lab.addNamespace('target');
  const veth = await lab.addVeth(copier, target);
  const subnet = await lab.allocSubnet();
  const copierIp = subnet.host(1);
  const targetIp = subnet.host(2);
  await lab.addAddress(copier, veth.a, `${copierIp}/24`);
  await lab.addAddress(target, veth.b, `${targetIp}/24`);
  await lab.addRoute(target, ['default', 'via', copierIp]);
  return { copier, target, copierIf: veth.a, targetIf: veth.b, copierIp, targetIp, subnet };
}

export interface SingleHost {
  ns: string;
  /** The dummy interface carrying the host's own address and the default route. */
  dev: string;
  ip: string;
  subnet: Subnet;
}

/**
 * One namespace with its own non-loopback address on a dummy interface and a default route out of
 * that interface, so answers to any fake client address have a route (and go into OUTPUT).
 */
export async function singleHost(lab: Lab): Promise<SingleHost> {
  const ns = await lab.addNamespace('host');
  const dev = await lab.addDummy(ns);
  const subnet = await lab.allocSubnet();
  const ip = subnet.host(1);
  await lab.addAddress(ns, dev, `${ip}/24`);
  await lab.addRoute(ns, ['default', 'dev', dev]);
  return { ns, dev, ip, subnet };
}

export interface RecordingPair {
  client: string;
  server: string;
  clientIf: string;
  serverIf: string;
  serverIp: string;
  /** Client addresses, all on clientIf: subnet .10, .11, … */
  clientIps: string[];
  subnet: Subnet;
  /** True when both veth ends compute full checksums (offload off), so captures verify. */
  checksums: boolean;
  offloadHow: string;
}

/**
 * client ns (N address aliases) ── veth ── server ns. Offload is turned off on both ends unless
 * `offload: true`, so recorded packets look like a real wire (MTU-sized, valid checksums).
 */
export async function recordingPair(lab: Lab, opts: { aliases?: number; offload?: boolean } = {}): Promise<RecordingPair> {
  const n = opts.aliases ?? 10;
  if (n < 1 || n > 240) throw new Error(`aliases must be 1..240, got ${n}`);
  const client = await lab.addNamespace('client');
  const server = await lab.addNamespace('server');
  const veth = await lab.addVeth(client, server);
  const subnet = await lab.allocSubnet();
  const serverIp = subnet.host(1);
  const clientIps = Array.from({ length: n }, (_, i) => subnet.host(10 + i));
  await lab.addAddress(server, veth.b, `${serverIp}/24`);
  await lab.addAliases(client, veth.a, clientIps);
  let checksums = false;
  let offloadHow = 'offload left on';
  if (!opts.offload) {
    const a = await lab.disableOffload(client, veth.a);
    const b = await lab.disableOffload(server, veth.b);
    checksums = a.checksums && b.checksums;
    offloadHow = a.how === b.how ? a.how : `${a.how} / ${b.how}`;
  }
  return { client, server, clientIf: veth.a, serverIf: veth.b, serverIp, clientIps, subnet, checksums, offloadHow };
}

// ---------------------------------------------------------------------------------------------
// Leftovers of crashed runs

/**
 * Deletes namespaces, root-namespace links and temp dirs whose names carry our lab prefix and
 * whose owner process (pid encoded in the id) is gone. Live labs (of this or other processes)
 * are never touched. Returns the ids swept.
 */
export function sweepStale(prefix: string = LAB_PREFIX): string[] {
  if (prefix !== LAB_PREFIX) throw new Error(`sweepStale only knows the '${LAB_PREFIX}' family`);
  const stale = new Set<string>();
  const staleId = (name: string): string | null => {
    const m = ID_RE.exec(name);
    if (!m || m[1] === undefined || m[2] === undefined) return null;
    const pid = parseInt(m[1], 36);
    if (pid === process.pid || pidAlive(pid)) return null;
    return `${LAB_PREFIX}${m[1]}${m[2]}`;
  };
  for (const line of runSyncQuiet('ip', ['netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const id = staleId(ns);
    if (id === null || !ns.startsWith(`${id}-`)) continue;
    stale.add(id);
    for (const p of runSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/)) {
      const pid = Number(p);
      if (p !== '' && Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
    runSyncQuiet('ip', ['netns', 'del', ns]);
  }
  for (const m of runSyncQuiet('ip', ['-o', 'link']).matchAll(/^\d+: ([^:@\s]+)/gm)) {
    const link = m[1] ?? '';
    const id = staleId(link);
    if (id !== null && /^tl[0-9a-z]{7}[vd]\d+[ab]?$/.test(link)) {
      stale.add(id);
      runSyncQuiet('ip', ['link', 'del', link]);
    }
  }
  for (const d of readdirSync(tmpdir())) {
    if (!d.startsWith(TMP_PREFIX)) continue;
    const id = staleId(d.slice(TMP_PREFIX.length));
    if (id !== null) {
      stale.add(id);
      rmSync(join(tmpdir(), d), { recursive: true, force: true });
    }
  }
  return [...stale];
}
