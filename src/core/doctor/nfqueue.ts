import { ok, problem, type CheckResult } from './types.js';

/** A queue listed in /proc/net/netfilter/nfnetlink_queue (a process has it open). */
export interface BoundQueue {
  queueNum: number;
  /** Netlink port id of the owner; for the first netlink socket of a process it is its PID. */
  portId: number;
}

/** Parses /proc/net/netfilter/nfnetlink_queue: "queue portid waiting mode range dropped …". */
export function parseBoundQueues(text: string): BoundQueue[] {
  const out: BoundQueue[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || !/^\d+$/.test(f[0] ?? '') || !/^\d+$/.test(f[1] ?? '')) continue;
    out.push({ queueNum: Number(f[0]), portId: Number(f[1]) });
  }
  return out;
}

export interface NfqueueFacts {
  /** Contents of /proc/net/netfilter/nfnetlink_queue, null when the file is missing. */
  procText: string | null;
  /** `modprobe -n nfnetlink_queue` succeeded (null: modprobe not available). */
  loadable: boolean | null;
}

/** nfnetlink_queue present (built in / loaded) or at least loadable. */
export function checkNfqueueAvailable(f: NfqueueFacts): CheckResult {
  const id = 'nfnetlink-queue';
  const title = 'nfnetlink_queue';
  if (f.procText !== null) return ok(id, title, 'loaded (/proc/net/netfilter/nfnetlink_queue exists)');
  if (f.loadable === true) return ok(id, title, 'not loaded yet, but loadable (the kernel loads it when intercept opens the queue)');
  return problem(
    id,
    title,
    'not loaded and not loadable: the kernel has no NFQUEUE support' + (f.loadable === null ? ' (modprobe not found)' : ''),
    'modprobe nfnetlink_queue xt_NFQUEUE (kernel options CONFIG_NETFILTER_NETLINK_QUEUE, CONFIG_NETFILTER_XT_TARGET_NFQUEUE; on Debian: apt-get install linux-image-amd64 and reboot into it)',
  );
}

/**
 * No other process holds the queue: the kernel gives a queue to one netlink socket only, so a
 * second intercept (or another NFQUEUE user) makes ours fail to bind, or the other one eats the
 * responses. `owner` describes the owner process when known (comm of the PID equal to the port id).
 */
export function checkQueueFree(f: NfqueueFacts, queueNum: number, owner: (portId: number) => string | null): CheckResult {
  const id = 'nfqueue-free';
  const title = `NFQUEUE ${queueNum} free`;
  if (f.procText === null) return ok(id, title, 'no queue is bound (module not loaded yet)');
  const q = parseBoundQueues(f.procText).find((b) => b.queueNum === queueNum);
  if (q === undefined) return ok(id, title, 'no process has it open');
  const who = owner(q.portId);
  return problem(
    id,
    title,
    `already bound by netlink port ${q.portId}` + (who !== null ? ` (process ${q.portId}: ${who})` : ''),
    `stop that process (kill ${q.portId} if it is an old intercept; systemctl stop intercept), or use another queue: --queue-num ${queueNum + 1} with a matching rule`,
  );
}
