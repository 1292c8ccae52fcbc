import { loadCapacity } from '../load/user-scheduler.js';
import { parseIntRange } from './copier.js';
import { ConfigError } from './errors.js';
import type { CaptureInput } from './tcpcopy-input.js';

/** tcpcopy's load mode (-u, tcpburn's flags): N concurrent users replaying a capture's sessions. */
export interface LoadConfig {
  /** -u/--users: users kept running at once. */
  users: number;
  /** -c as the users' client addresses (empty: the capture's client addresses). */
  addresses: number[];
  /** --ramp: reach -u over this long (0 = start all at once). */
  rampUs: number;
  /** --duration: stop releasing packets after this long (Infinity = until -T or a signal). */
  durationUs: number;
  /** -T: passes over the captured sessions (users × sessions started = passes × sessions), null = unbounded. */
  passes: number | null;
  /** --comet: the captured client close is not replayed; connections stay until the server closes them. */
  comet: boolean;
}

export interface LoadRawOptions {
  users?: string;
  ramp?: string;
  duration?: string;
  comet?: boolean;
}

export const MAX_USERS = 10_000_000;

/**
 * -u and its companions, or null without -u (then --ramp, --duration and --comet are errors).
 * `pool` is the parsed -c, `replicas` -n, `times` the raw -T.
 */
export function parseLoadOptions(
  raw: LoadRawOptions,
  input: CaptureInput,
  pool: number[],
  replicas: number,
  times: string | undefined,
): LoadConfig | null {
  if (raw.users === undefined) {
    const stray = (
      [
        ['--ramp', raw.ramp],
        ['--duration', raw.duration],
        ['--comet', raw.comet === true ? 'on' : undefined],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (stray !== undefined) throw new ConfigError(stray[0], stray[1] ?? '', 'only with -u/--users N (load mode)');
    return null;
  }
  const users = parseIntRange(raw.users, '-u', 1, MAX_USERS, 'the number of concurrent users');
  if (input.kind !== 'file') {
    throw new ConfigError('-u', raw.users, input.kind === 'live' ? 'load mode replays the sessions of a capture file: give -i FILE (live capture cannot be turned into users)' : 'load mode replays the sessions of a capture file: give -i FILE (export the task with --export FILE first)');
  }
  if (pool.length > 0 && users > loadCapacity(pool.length, replicas)) {
    throw new ConfigError(
      '-u',
      raw.users,
      `at most ${loadCapacity(pool.length, replicas)} users for the ${pool.length} address(es) of -c (64512 ports each${replicas > 1 ? `, ÷ -n ${replicas}` : ''}): ` +
        `give a wider -c (e.g. a.b.c.0/24 or a /16) or fewer -u${replicas > 1 ? ' / -n' : ''}`,
    );
  }
  const rampUs = raw.ramp === undefined ? 0 : parseIntRange(raw.ramp, '--ramp', 0, 86_400, 'seconds to reach -u users') * 1e6;
  const durationUs = raw.duration === undefined ? Infinity : parseIntRange(raw.duration, '--duration', 1, 30 * 86_400, 'the run time in seconds') * 1e6;
  const passes = times === undefined ? null : parseIntRange(times, '-T', 1, 1_000_000, 'passes over the captured sessions');
  return { users, addresses: pool, rampUs, durationUs, passes, comet: raw.comet === true };
}

/** What load mode cannot be combined with (the report's and the sampler's flags). */
export interface LoadExclusiveOptions {
  report?: string;
  reportHtml?: string;
  diffy?: boolean;
  mirror?: boolean;
  percentage?: string;
  gradual?: boolean;
  rate?: boolean;
  maxOpening?: string;
}

/** With -u: throws ConfigError for the first flag that load mode cannot honour. */
export function refuseWithLoad(raw: LoadExclusiveOptions): void {
  // Each captured session is replayed many times from synthetic users: there is no one
  // production answer per request to compare with, nor one session per target to mirror.
  const clash = (
    [
      ['--report', raw.report],
      ['--report-html', raw.reportHtml],
      ['--diffy', raw.diffy === true ? 'on' : undefined],
      ['--mirror', raw.mirror === true ? 'on' : undefined],
    ] as const
  ).find(([, v]) => v !== undefined);
  if (clash !== undefined) throw new ConfigError(clash[0], clash[1] ?? '', 'not with -u/--users (load mode): replay the capture without -u to compare answers or mirror it');
  // -u says how many users run: a sampled-out user would start its next session at once, and
  // so on through the capture without pause; users keep their think times (scaled by -a).
  const pacing = (
    [
      ['-r', raw.percentage],
      ['-g', raw.gradual === true ? 'on' : undefined],
      ['--rate', raw.rate === true ? 'on' : undefined],
      ['--max-opening', raw.maxOpening],
    ] as const
  ).find(([, v]) => v !== undefined);
  if (pacing !== undefined) {
    throw new ConfigError(pacing[0], pacing[1] ?? '', 'not with -u/--users (load mode): -u sets how many users run, --ramp how fast they start, -a their think times; select sessions with -F');
  }
}
