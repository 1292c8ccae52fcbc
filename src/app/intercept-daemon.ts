import { spawn } from 'node:child_process';

/** Set in the re-spawned child so it runs in the foreground instead of spawning again. */
export const DAEMON_CHILD_ENV = 'TCPCOPY_TS_DAEMON_CHILD';

/**
 * `-d`: re-spawn this program detached (new session, no terminal, stdio closed) and let the
 * caller exit. Node cannot fork(); a detached re-spawn gives the same result for an init script.
 * Under systemd, run in the foreground instead (Type=simple, no -d). Returns the child's PID.
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
