import type { StoreCommand } from '../../core/config/store-commands.js';
import { toLogLevel } from '../../core/log-level.js';
import { RunLog } from '../run-log.js';
import { runStoreCommand } from './store-commands.js';

/** The CLI's entry to a store command: a log on stderr, the command's exit code. */
export async function runStoreCommandCli(cmd: StoreCommand, level: string | undefined, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const log = new RunLog('tcpcopy', toLogLevel(level ?? 'info') ?? 'info', null, stderr);
  try {
    return await runStoreCommand(cmd, stdout, log);
  } finally {
    log.close();
  }
}
