/**
 * One clean-up stack for a run: every resource registers its release as it is acquired, and
 * every exit path (normal end, signal, failure while starting) unwinds the same stack, last in
 * first out, each step at most once. A step that throws is reported and the rest still run.
 */
export class Disposers {
  private readonly steps: { name: string; fn: () => void | Promise<void> }[] = [];

  defer(name: string, fn: () => void | Promise<void>): void {
    this.steps.push({ name, fn });
  }

  get size(): number {
    return this.steps.length;
  }

  async dispose(onError: (name: string, err: unknown) => void = () => undefined): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.fn();
      } catch (err) {
        onError(step.name, err);
      }
    }
  }
}
