/**
 * Errors and warnings of the capture-file reader. A CaptureError always names the source (file
 * path, or a label given by the caller) and the absolute byte offset of the offending structure,
 * so a corrupt multi-GB file can be inspected with `dd skip=` / a hex editor.
 */
export class CaptureError extends Error {
  constructor(
    readonly source: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${source}: byte offset ${offset}: ${reason}`);
    this.name = 'CaptureError';
  }
}

/** Non-fatal problem, e.g. a truncated final record; everything before it was delivered. */
export interface CaptureWarning {
  readonly source: string;
  readonly offset: number;
  readonly message: string;
}
