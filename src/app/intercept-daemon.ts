import { spawn } from 'node:child_process';

/** Set in the re-spawned child so it runs in the foreground instead of spawning again. */
export const DAEMON_CHILD_ENV = 'TCPCOPY_TS_DAEMON_CHILD';

/** How long `-d` waits for the daemon to say it is ready (iptables -w may wait for its lock). */
export const DAEMON_READY_TIMEOUT_MS = 20_000;

/** Messages the daemon child sends its parent over the IPC channel. */
export type DaemonMessage = { ready: true } | { failed: string };

export interface DaemonStart {
  pid: number;
  ok: boolean;
  /** Why it is not running (when !ok). */
  detail: string;
}

function isDaemonMessage(m: unknown): m is DaemonMessage {
  return typeof m === 'object' && m !== null && ('ready' in m || ('failed' in m && typeof (m as { failed: unknown }).failed === 'string'));
}

/**
 * Re-spawn this program detached (new session, no terminal, stdio closed) and return its PID at
 * once, without waiting for it to start (tcpcopy -d uses this). Under systemd, run in the
 * foreground instead (Type=simple, no -d).
 */
export function respawnDetached(execPath: string, execArgv: readonly string[], argv: readonly string[]): number {
  const child = spawn(execPath, [...execArgv, ...argv], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  child.unref();
  return child.pid ?? -1;
}

/**
 * intercept `-d`: re-spawn this program detached (new session, no terminal, stdio closed) and wait until it
 * reports that it is serving, or why it could not start, so that an init script's `intercept -d`
 * fails when the daemon does (queue held, port in use, no privileges) instead of exiting 0 for a
 * daemon that died at once. The child must call `reportToParent`.
 */
export function respawnDetachedReady(execPath: string, execArgv: readonly string[], argv: readonly string[], timeoutMs = DAEMON_READY_TIMEOUT_MS): Promise<DaemonStart> {
  const child = spawn(execPath, [...execArgv, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  const pid = child.pid ?? -1;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (ok: boolean, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners();
      child.on('error', () => undefined);
      if (child.connected) child.disconnect();
      child.unref();
      resolve({ pid, ok, detail });
    };
    const timer = setTimeout(() => settle(false, `not ready after ${timeoutMs / 1000} s (PID ${pid} may still be starting)`), timeoutMs);
    child.on('message', (m: unknown) => {
      if (!isDaemonMessage(m)) return;
      if ('ready' in m) settle(true, '');
      else settle(false, m.failed);
    });
    child.on('error', (err) => settle(false, err.message));
    child.on('exit', (code, signal) => settle(false, signal !== null ? `killed by ${signal}` : `exited with code ${code ?? '?'}`));
  });
}

/**
 * In the daemon child: tells the parent (if it is waiting) that start-up ended. Resolves once the
 * message is sent; the IPC channel is then closed so it does not keep the daemon's loop alive.
 */
export function reportToParent(msg: DaemonMessage): Promise<void> {
  if (process.env[DAEMON_CHILD_ENV] === undefined || process.send === undefined || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      if (process.connected) process.disconnect();
      resolve();
    };
    try {
      process.send?.(msg, undefined, {}, done);
    } catch {
      done();
    }
  });
}
