import { unlinkSync, writeFileSync } from 'node:fs';

/**
 * A -P pid file: written at start, removed once at exit (also from a process 'exit' handler, so
 * a process.exit from elsewhere does not leave it behind). write() throws when it cannot write.
 */
export class PidFile {
  private removed = false;
  private readonly onExit = (): void => this.remove();

  private constructor(readonly path: string) {
    process.on('exit', this.onExit);
  }

  static write(path: string): PidFile {
    writeFileSync(path, `${process.pid}\n`);
    return new PidFile(path);
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
