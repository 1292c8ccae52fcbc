/**
 * Preflight checks ("doctor") shared by `intercept --check` and `tcpcopy --check`: each check
 * turns facts gathered by src/io/sysinfo.ts into one result with the exact fix. This folder is
 * pure: the facts come in as values, the report goes out as text.
 */
export type CheckStatus = 'ok' | 'problem' | 'skipped';

export interface CheckResult {
  /** Stable id (tests and scripts match on it), e.g. "nfqueue-rule". */
  id: string;
  /** What was checked, in a few words. */
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** The exact command or change that fixes a problem; null when ok. */
  fix: string | null;
}

export const ok = (id: string, title: string, detail: string): CheckResult => ({ id, title, status: 'ok', detail, fix: null });
export const problem = (id: string, title: string, detail: string, fix: string): CheckResult => ({ id, title, status: 'problem', detail, fix });
export const skipped = (id: string, title: string, detail: string): CheckResult => ({ id, title, status: 'skipped', detail, fix: null });

const LABEL: Record<CheckStatus, string> = { ok: 'ok', problem: 'PROBLEM', skipped: 'skipped' };

/**
 * The report: one line per check (`ok      <title>: <detail>`), a `fix:` line under each problem,
 * and a closing count. Plain text, no colours: it goes to journald and into bug reports.
 */
export function formatReport(program: string, results: readonly CheckResult[]): string {
  const lines = [`${program} --check`];
  for (const r of results) {
    lines.push(`  ${LABEL[r.status].padEnd(8)} ${r.title}: ${r.detail}`);
    if (r.fix !== null) lines.push(`           fix: ${r.fix}`);
  }
  const n = countProblems(results);
  lines.push(n === 0 ? `${program}: all ${results.length} checks passed` : `${program}: ${n} problem(s) found`);
  return lines.join('\n') + '\n';
}

export function countProblems(results: readonly CheckResult[]): number {
  return results.filter((r) => r.status === 'problem').length;
}

/** Exit status of `--check`: 0 all fine, 1 at least one problem. */
export function checkExitCode(results: readonly CheckResult[]): number {
  return countProblems(results) === 0 ? 0 : 1;
}
