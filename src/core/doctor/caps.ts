import { ok, problem, type CheckResult } from './types.js';

/** Capability numbers from linux/capability.h that the daemons need. */
export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;

export interface ProcessPrivileges {
  /** Effective uid (from /proc/self/status "Uid:" second field). */
  euid: number;
  /** "CapEff:" hex mask from /proc/self/status. */
  capEffHex: string;
}

/** Reads the Uid and CapEff lines of /proc/<pid>/status text; null when they are missing. */
export function parseProcStatus(text: string): ProcessPrivileges | null {
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  const cap = /^CapEff:\s+([0-9a-fA-F]+)/m.exec(text);
  if (uid === null || cap === null) return null;
  return { euid: Number(uid[1]), capEffHex: cap[1] as string };
}

/** Whether bit `cap` is set in a CapEff hex mask (up to 64 bits). */
export function hasCap(capEffHex: string, cap: number): boolean {
  const mask = BigInt(`0x${capEffHex || '0'}`);
  return ((mask >> BigInt(cap)) & 1n) === 1n;
}

const NAMES: Record<number, string> = { [CAP_NET_ADMIN]: 'CAP_NET_ADMIN', [CAP_NET_RAW]: 'CAP_NET_RAW' };

/**
 * Root or the listed capabilities. `why` says what each is for (printed when one is missing).
 * The fix names both ways: root, or the capabilities (setcap on node, or the systemd unit).
 */
export function checkPrivileges(p: ProcessPrivileges | null, need: readonly number[], why: string): CheckResult {
  const title = 'privileges';
  if (p === null) return problem('privileges', title, 'cannot read /proc/self/status', 'run on Linux with /proc mounted');
  const missing = need.filter((c) => !hasCap(p.capEffHex, c));
  const names = need.map((c) => NAMES[c] ?? `cap ${c}`).join(' + ');
  if (missing.length === 0) {
    return ok('privileges', title, p.euid === 0 ? `root (uid 0), ${names} effective` : `uid ${p.euid} with ${names} (${why})`);
  }
  const miss = missing.map((c) => NAMES[c] ?? `cap ${c}`).join(' and ');
  return problem(
    'privileges',
    title,
    `uid ${p.euid} lacks ${miss} (needed for ${why})`,
    `run as root, or grant ${names}: systemd AmbientCapabilities=${need.map((c) => NAMES[c]).join(' ')} (see systemd/), ` +
      `or setpriv --inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw …`,
  );
}
