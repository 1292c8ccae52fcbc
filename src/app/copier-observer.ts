import type { Outcome, SessionInfo } from '../core/session/types.js';
import type { Copier } from './copier.js';

/** How a run ended; an observer may turn a clean end into a failure (the summary does). */
export interface RunEnd {
  code: number;
  /** Why the run stopped early (signal, memory, lost interceptor), or null at the end of input. */
  stoppedBy: string | null;
  durationUs: number;
}

/**
 * Something that watches a copier run without being part of the packet path: the progress bar,
 * periodic stats, the memory guard, metrics, the end summary (later the replay report and the
 * recorder). Adding one touches nothing else: register it with copier.observe().
 */
export interface CopierObserver {
  readonly name: string;
  /** Once, after the sink and channel are up; a throw fails the run with its message. */
  start?(copier: Copier): void | Promise<void>;
  /** Every housekeeping tick (250 ms). */
  tick?(nowUs: number): void;
  /** Every session outcome, synchronously on the engine's path: keep it cheap. */
  sessionClosed?(info: SessionInfo, outcome: Outcome): void;
  /** The run is over (sessions closed, sink flushed), before anything is released. */
  end?(copier: Copier, end: RunEnd): void;
  /** Release what start() acquired (runs in the disposer stack). */
  close?(): void | Promise<void>;
}
