import { execFile, execFileSync } from 'node:child_process';

/**
 * A small typed wrapper around the iptables command (`iptables -w …` through execFile, no shell).
 * Every call reports the exit status and stderr, so a caller can tell "rule absent" (status 1
 * from -C) from "iptables missing" or "permission denied".
 */
export interface IptablesResult {
  /** Exit status; null when killed by a signal or not started (then `error` says why). */
  code: number | null;
  stdout: string;
  stderr: string;
  error: string | null;
}

export interface IptablesOptions {
  /** The binary; default "iptables". */
  binary?: string;
  timeoutMs?: number;
}

export function runIptables(args: readonly string[], opts: IptablesOptions = {}): Promise<IptablesResult> {
  const bin = opts.binary ?? 'iptables';
  return new Promise((resolve) => {
    execFile(bin, ['-w', ...args], { timeout: opts.timeoutMs ?? 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ code: 0, stdout, stderr, error: null });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      const code = typeof e.code === 'number' ? e.code : null;
      resolve({ code, stdout, stderr, error: code === null ? e.message : null });
    });
  });
}

/** Synchronous variant, for the last-chance cleanup in a process 'exit' handler. */
export function runIptablesSync(args: readonly string[], opts: IptablesOptions = {}): IptablesResult {
  const bin = opts.binary ?? 'iptables';
  try {
    const stdout = execFileSync(bin, ['-w', ...args], { timeout: opts.timeoutMs ?? 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '', error: null };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message: string };
    const code = typeof e.status === 'number' ? e.status : null;
    return { code, stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? ''), error: code === null ? e.message : null };
  }
}

/** Comment that marks rules installed by intercept, so a later run can recognise them. */
export const RULE_COMMENT = 'tcpcopy-ts intercept';

/**
 * The NFQUEUE rule for one service port: responses leaving that port (not on lo, so local
 * monitoring still works) go to the queue. Chain OUTPUT of the filter table.
 */
export function nfqueueRuleSpec(port: number, queueNum: number): string[] {
  return [
    'OUTPUT', '-p', 'tcp', '--sport', String(port), '!', '-o', 'lo',
    '-m', 'comment', '--comment', RULE_COMMENT,
    '-j', 'NFQUEUE', '--queue-num', String(queueNum),
  ];
}

/** The command an operator would run to add the rule by hand (printed in warnings). */
export function nfqueueRuleCommand(port: number | string, queueNum: number): string {
  return `iptables -I OUTPUT -p tcp --sport ${port} ! -o lo -j NFQUEUE --queue-num ${queueNum}`;
}

function describe(r: IptablesResult): string {
  if (r.error !== null) return r.error;
  return `exit status ${r.code ?? '?'}${r.stderr.trim() !== '' ? `: ${r.stderr.trim()}` : ''}`;
}

export class IptablesError extends Error {
  constructor(
    message: string,
    readonly result: IptablesResult,
  ) {
    super(`${message} (${describe(result)})`);
    this.name = 'IptablesError';
  }
}

/**
 * Rules managed by `--install-rule`: inserted at start when absent (checked with -C first, so a
 * second start or a rule left by a killed run is not duplicated), and exactly those deleted at
 * exit. A rule carrying our comment that already exists was left by an earlier run that could
 * not clean up (SIGKILL); it is adopted and removed at exit like our own.
 */
export class NfqueueRules {
  private installed: number[] = [];

  constructor(
    readonly ports: readonly number[],
    readonly queueNum: number,
    private readonly opts: IptablesOptions = {},
  ) {}

  get active(): readonly number[] {
    return this.installed;
  }

  /** Returns the ports whose rule already existed (adopted). Throws IptablesError on failure. */
  async install(): Promise<number[]> {
    const adopted: number[] = [];
    for (const port of this.ports) {
      const spec = nfqueueRuleSpec(port, this.queueNum);
      const check = await runIptables(['-C', ...spec], this.opts);
      if (check.code === 0) {
        adopted.push(port);
      } else if (check.code === 1 && check.error === null && !/permission|denied|not permitted/i.test(check.stderr)) {
        const ins = await runIptables(['-I', ...spec], this.opts);
        if (ins.code !== 0) throw new IptablesError(`cannot insert the NFQUEUE rule for port ${port}`, ins);
      } else {
        throw new IptablesError(`cannot check the NFQUEUE rule for port ${port}`, check);
      }
      this.installed.push(port);
    }
    return adopted;
  }

  /** Deletes the managed rules; returns error messages (empty when all went). */
  async remove(): Promise<string[]> {
    const errors: string[] = [];
    for (const port of [...this.installed]) {
      const r = await runIptables(['-D', ...nfqueueRuleSpec(port, this.queueNum)], this.opts);
      if (r.code === 0 || r.code === 1) this.installed = this.installed.filter((p) => p !== port);
      if (r.code !== 0) errors.push(`port ${port}: ${describe(r)}`);
    }
    return errors;
  }

  /** Same, synchronously (process 'exit' handler). */
  removeSync(): string[] {
    const errors: string[] = [];
    for (const port of [...this.installed]) {
      const r = runIptablesSync(['-D', ...nfqueueRuleSpec(port, this.queueNum)], this.opts);
      if (r.code === 0 || r.code === 1) this.installed = this.installed.filter((p) => p !== port);
      if (r.code !== 0) errors.push(`port ${port}: ${describe(r)}`);
    }
    return errors;
  }
}

/** Whether `iptables -S` output holds a rule sending packets to `queueNum`. */
export function rulesFeedQueue(listing: string, queueNum: number): boolean {
  for (const line of listing.split('\n')) {
    if (!/-j NFQUEUE\b/.test(line)) continue;
    const bal = /--queue-balance (\d+):(\d+)/.exec(line);
    if (bal !== null) {
      if (queueNum >= Number(bal[1]) && queueNum <= Number(bal[2])) return true;
      continue;
    }
    const num = /--queue-num (\d+)/.exec(line);
    if ((num === null ? 0 : Number(num[1])) === queueNum) return true;
  }
  return false;
}

/**
 * Whether any rule in the filter, mangle or raw table sends packets to `queueNum` (NFQUEUE with
 * --queue-num, the default queue 0, or a --queue-balance range). When the filter table cannot be
 * listed, returns the failed result instead.
 */
export async function queueHasRule(queueNum: number, opts: IptablesOptions = {}): Promise<boolean | IptablesResult> {
  for (const table of ['filter', 'mangle', 'raw']) {
    const r = await runIptables(['-t', table, '-S'], opts);
    if (r.code !== 0) {
      if (table === 'filter') return r;
      continue;
    }
    if (rulesFeedQueue(r.stdout, queueNum)) return true;
  }
  return false;
}
