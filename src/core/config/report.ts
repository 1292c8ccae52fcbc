import { ipToString } from '../packet/ipv4.js';
import { ANSWER_BYTES_CAP, type ReportTarget } from '../report/exchange.js';
import type { Transfer } from '../transfer.js';
import { parseIntRange } from './copier.js';
import { ConfigError } from './errors.js';
import { DEFAULT_MISMATCH_CAP } from '../report/aggregator.js';
import type { IgnoreRule } from '../report/ignore-rules.js';
import { parseIgnoreHeader, parseIgnoreJsonPath } from './report-rules.js';

/** The replay report's flags as commander hands them over. */
export interface ReportRawOptions {
  report?: string;
  reportHtml?: string;
  ignoreHeader?: string[];
  ignoreJsonPath?: string[];
  ignoreFile?: string;
  reportMismatches?: string;
  reportBytes?: string;
  mirror?: boolean;
  diffy?: boolean;
}

export interface ReportConfig {
  /** --report FILE.json / --report-html FILE.html (at least one is set). */
  jsonPath: string | null;
  htmlPath: string | null;
  /** --ignore-header NAME and --ignore-json-path PATH (repeatable), in order. */
  ignore: IgnoreRule[];
  /** --ignore-file FILE: more rules, read when the run starts (core/config/report-rules.ts). */
  ignoreFile: string | null;
  /** --report-mismatches: mismatches kept with their details; later ones are only counted. */
  mismatchCap: number;
  /** --report-bytes: response bytes kept per answer (digest, status, diff). */
  bytesCap: number;
  /** --diffy: the -x entries of a service are candidate, baseline, baseline (implies --mirror). */
  diffy: boolean;
  /** The test targets in report order, with their roles. */
  targets: (ReportTarget & { ip: number; port: number })[];
}

/** Flag names and forms kept in one place: the errors below quote them. */
const DIFFY_FORM =
  'expected three -x entries for one service, in this order: candidate, baseline, baseline, e.g. -x 80-10.0.0.2:80,80-10.0.0.3:80,80-10.0.0.4:80';

/** --mirror: every -x entry with the same online side gets the traffic. */
export function mirrorRequested(raw: ReportRawOptions): boolean {
  return raw.mirror === true || raw.diffy === true;
}

/** Report flags → config; null without --report / --report-html (then the other report flags are errors). */
export function parseReportOptions(raw: ReportRawOptions, transfers: readonly Transfer[]): ReportConfig | null {
  const jsonPath = raw.report === undefined ? null : path(raw.report, '--report', 'expected the path of the JSON report to write, e.g. report.json');
  const htmlPath = raw.reportHtml === undefined ? null : path(raw.reportHtml, '--report-html', 'expected the path of the HTML page to write, e.g. report.html');
  if (jsonPath === null && htmlPath === null) {
    const stray = (
      [
        ['--ignore-header', raw.ignoreHeader?.[0]],
        ['--ignore-json-path', raw.ignoreJsonPath?.[0]],
        ['--ignore-file', raw.ignoreFile],
        ['--report-mismatches', raw.reportMismatches],
        ['--report-bytes', raw.reportBytes],
        ['--diffy', raw.diffy === true ? 'on' : undefined],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (stray !== undefined) throw new ConfigError(stray[0], stray[1] ?? '', 'only with --report FILE.json or --report-html FILE.html');
    return null;
  }
  const ignore = [...(raw.ignoreHeader ?? []).map((h) => parseIgnoreHeader(h)), ...(raw.ignoreJsonPath ?? []).map((p) => parseIgnoreJsonPath(p))];
  const diffy = raw.diffy === true;
  const targets = reportTargets(transfers, diffy);
  return {
    jsonPath,
    htmlPath,
    ignore,
    ignoreFile: raw.ignoreFile === undefined ? null : path(raw.ignoreFile, '--ignore-file', 'expected the path of a file of ignore rules'),
    mismatchCap: raw.reportMismatches === undefined ? DEFAULT_MISMATCH_CAP : parseIntRange(raw.reportMismatches, '--report-mismatches', 0, 10_000_000, 'mismatches kept in detail'),
    bytesCap: raw.reportBytes === undefined ? ANSWER_BYTES_CAP : parseIntRange(raw.reportBytes, '--report-bytes', 16, ANSWER_BYTES_CAP, 'response bytes kept per answer'),
    diffy,
    targets,
  };
}

/** Distinct -x targets in order; with --diffy, each service's three entries are candidate, baseline, baseline. */
function reportTargets(transfers: readonly Transfer[], diffy: boolean): ReportConfig['targets'] {
  const out: ReportConfig['targets'] = [];
  const seen = new Map<string, number>();
  transfers.forEach((t, i) => {
    let role: ReportTarget['role'] = 'candidate';
    if (diffy) {
      const group = transfers.filter((u) => u.onlinePort === t.onlinePort && u.onlineIp === t.onlineIp);
      // One service per Diffy run: the report has one candidate and one pair of baselines.
      if (group.length !== 3 || transfers.length !== 3) throw new ConfigError('--diffy', 'on', DIFFY_FORM);
      role = group.indexOf(t) === 0 ? 'candidate' : 'baseline';
    }
    const address = `${ipToString(t.targetIp)}:${t.targetPort}`;
    if (seen.has(address)) {
      if (diffy) throw new ConfigError('--diffy', 'on', `${DIFFY_FORM} (three different targets; -x entry ${i + 1} repeats ${address})`);
      return;
    }
    seen.set(address, out.length);
    out.push({ address, role, ip: t.targetIp, port: t.targetPort });
  });
  return out;
}

function path(value: string, flag: string, form: string): string {
  if (value.trim() === '') throw new ConfigError(flag, value, form);
  return value;
}
