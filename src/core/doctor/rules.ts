import { ok, problem, type CheckResult } from './types.js';

/** One `-j NFQUEUE` rule from `iptables -t TABLE -S`, reduced to what the checks need. */
export interface QueueRule {
  table: string;
  chain: string;
  /** Source-port ranges matched (inclusive); null = any port. */
  sports: Array<[number, number]> | null;
  /** Matches TCP (or every protocol). */
  tcp: boolean;
  queueFirst: number;
  queueLast: number;
  /** The rule as listed (for messages). */
  line: string;
}

function portRanges(spec: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (m === null) continue;
    const a = Number(m[1]);
    out.push([a, m[2] === undefined ? a : Number(m[2])]);
  }
  return out;
}

/** Parses NFQUEUE rules out of `iptables -S` output of one table. Other lines are ignored. */
export function parseQueueRules(table: string, listing: string): QueueRule[] {
  const rules: QueueRule[] = [];
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('-A ') || !/-j NFQUEUE\b/.test(line)) continue;
    const chain = line.split(/\s+/)[1] ?? '';
    const proto = /(?:^|\s)(!\s+)?-p\s+(\S+)/.exec(line);
    const tcp = proto === null || (proto[1] === undefined && (proto[2] === 'tcp' || proto[2] === '6'));
    // A negated port match ("! --sport 22") matches almost everything: treat it as any port.
    const sp = /(?:^|\s)(!\s+)?--(?:sport|source-port|sports|source-ports)\s+(\S+)/.exec(line);
    const sports = sp === null || sp[1] !== undefined ? null : portRanges(sp[2] as string);
    let queueFirst = 0;
    let queueLast = 0;
    const bal = /--queue-balance (\d+):(\d+)/.exec(line);
    const num = /--queue-num (\d+)/.exec(line);
    if (bal !== null) {
      queueFirst = Number(bal[1]);
      queueLast = Number(bal[2]);
    } else if (num !== null) {
      queueFirst = queueLast = Number(num[1]);
    }
    rules.push({ table, chain, sports, tcp, queueFirst, queueLast, line });
  }
  return rules;
}

export function ruleMatchesPort(r: QueueRule, port: number): boolean {
  if (!r.tcp) return false;
  return r.sports === null || r.sports.some(([a, b]) => port >= a && port <= b);
}

const feedsQueue = (r: QueueRule, q: number): boolean => q >= r.queueFirst && q <= r.queueLast;
/** Responses of a local server pass OUTPUT (filter, mangle, raw) and POSTROUTING (mangle). */
const outbound = (r: QueueRule): boolean => r.chain === 'OUTPUT' || r.chain === 'POSTROUTING';

export interface RuleCheckInput {
  rules: readonly QueueRule[];
  /** `iptables -S` failed: the message (then rules is empty). */
  listError: string | null;
  queueNum: number;
  /** Service ports to verify; empty = any port will do. */
  ports: readonly number[];
  /** --install-rule given: intercept inserts the rules itself at start. */
  installRule: boolean;
  /** intercept's channel port (never to be queued). */
  channelPort: number;
  /** How to invoke the rule script in the fix text. */
  rulesScript: string;
}

/**
 * "A rule feeds the configured queue and the service port": the usual cause of "the test server
 * gets the requests but the copier never learns the responses" (no rule, wrong queue number, rule
 * in INPUT) and of a stuck channel (a rule that also queues the channel port).
 */
export function checkRules(i: RuleCheckInput): CheckResult[] {
  const id = 'nfqueue-rule';
  const title = `iptables rule → NFQUEUE ${i.queueNum}`;
  const out: CheckResult[] = [];
  if (i.listError !== null) {
    return [problem(id, title, `cannot list iptables rules: ${i.listError}`, 'install iptables (apt-get install iptables) and run as root or with CAP_NET_ADMIN')];
  }
  const feeding = i.rules.filter((r) => outbound(r) && feedsQueue(r, i.queueNum));
  const addCmd = (ports: readonly (number | string)[]): string => `bash ${i.rulesScript} add --port ${ports.join(',')} --queue ${i.queueNum}`;

  const channel = feeding.filter((r) => ruleMatchesPort(r, i.channelPort));
  if (channel.length > 0) {
    out.push(
      problem(
        'nfqueue-rule-channel',
        'channel port not queued',
        `rule "${channel[0]?.line}" also queues tcp source port ${i.channelPort}, intercept's own channel to the copier`,
        `match only the service port(s): delete it (iptables -t ${channel[0]?.table} ${channel[0]?.line.replace(/^-A /, '-D ')}) and run ${addCmd(i.ports.length > 0 ? i.ports : ['<service port>'])}`,
      ),
    );
  }
  if (i.installRule) {
    const existing = i.ports.filter((p) => feeding.some((r) => ruleMatchesPort(r, p)));
    out.push(
      ok(id, title, `--install-rule: intercept inserts the rule for port(s) ${i.ports.join(',')} at start and removes it at exit` +
        (existing.length > 0 ? ` (already present for ${existing.join(',')})` : '')),
    );
    return out;
  }
  if (i.ports.length === 0) {
    if (feeding.length > 0) {
      const ports = feeding.map((r) => (r.sports === null ? 'any' : r.sports.map(([a, b]) => (a === b ? `${a}` : `${a}:${b}`)).join(','))).join(', ');
      out.push(ok(id, title, `${feeding.length} rule(s) feed it (source ports: ${ports})`));
    } else {
      out.push(problem(id, title, `no rule in OUTPUT sends packets to NFQUEUE ${i.queueNum}: the server's responses leave the host instead of being intercepted`, `${addCmd(['<service port>'])}  (or start intercept with --install-rule <service port>)`));
    }
    return out.concat(misplaced(i));
  }
  const missing = i.ports.filter((p) => !feeding.some((r) => ruleMatchesPort(r, p)));
  if (missing.length === 0) {
    out.push(ok(id, title, `responses from port(s) ${i.ports.join(',')} are queued`));
  } else {
    const elsewhere = missing
      .map((p) => {
        const r = i.rules.find((x) => outbound(x) && ruleMatchesPort(x, p));
        return r === undefined ? null : `port ${p} goes to NFQUEUE ${r.queueFirst === r.queueLast ? r.queueFirst : `${r.queueFirst}:${r.queueLast}`}`;
      })
      .filter((s): s is string => s !== null);
    out.push(
      problem(
        id,
        title,
        `no rule queues responses from port(s) ${missing.join(',')} to NFQUEUE ${i.queueNum}` + (elsewhere.length > 0 ? ` (${elsewhere.join('; ')}: start intercept with the matching --queue-num, or fix the rule)` : ''),
        `${addCmd(missing)}  (or start intercept with --install-rule ${missing.join(',')})`,
      ),
    );
  }
  return out.concat(misplaced(i));
}

/** A queue rule in INPUT/PREROUTING sees the requests, not the server's responses. */
function misplaced(i: RuleCheckInput): CheckResult[] {
  const bad = i.rules.filter((r) => !outbound(r) && feedsQueue(r, i.queueNum));
  if (bad.length === 0) return [];
  const r = bad[0] as QueueRule;
  return [
    problem(
      'nfqueue-rule-chain',
      'rule chain',
      `rule "${r.line}" (table ${r.table}) queues packets arriving at the server; intercept needs the responses leaving it (OUTPUT)`,
      `iptables -t ${r.table} ${r.line.replace(/^-A /, '-D ')}  and add the OUTPUT rule: bash ${i.rulesScript} add --port <service port> --queue ${i.queueNum}`,
    ),
  ];
}
