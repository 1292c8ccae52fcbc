import type { LogLevel } from '../core/log-level.js';
import { Logger } from '../io/logger.js';

/**
 * The copier's logger: a Logger that first clears the progress bar from stderr before a line
 * goes there (the bar is redrawn on the next tick), plus errOut() for the lines a user must see
 * on stderr even with -l (then they go to the log file too).
 */
export class RunLog extends Logger {
  /** Set by the progress bar while it is on the terminal. */
  beforeStderrLine: () => void = () => undefined;

  constructor(
    private readonly name: string,
    level: LogLevel,
    private readonly file: string | null,
    private readonly stderr: NodeJS.WritableStream,
  ) {
    super({ name, level, file });
  }

  override log(level: LogLevel, message: string): void {
    if (this.file === null && this.enabled(level)) this.beforeStderrLine();
    super.log(level, message);
  }

  /** A line for the user on stderr ("tcpcopy: ..."), also logged when logging to a file. */
  errOut(line: string): void {
    this.beforeStderrLine();
    this.stderr.write(`${this.name}: ${line}\n`);
    if (this.file !== null) this.error(line);
  }

  /** Summary output: to `out`, and to the log file too when there is one. */
  print(out: NodeJS.WritableStream, line: string, level: 'info' | 'warn' = 'info'): void {
    out.write(`${this.name}: ${level === 'warn' ? 'warning: ' : ''}${line}\n`);
    if (this.file !== null) this.log(level, line);
  }
}
