import type { Command } from 'commander';

/** Repeatable option values, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** tcpcopy's replay-report and mirror flags (parsed by core/config/report.ts). */
export function addReportOptions(program: Command): Command {
  return program
    .option('--report <file>', 'write the replay report (reference vs test answers per request, by endpoint) as JSON to FILE')
    .option('--report-html <file>', 'write the replay report as one self-contained HTML page to FILE')
    .option('--ignore-header <name>', 'report: a header whose differences are known noise (repeatable)', collect)
    .option('--ignore-json-path <path>', 'report: a JSON body field whose differences are known noise, e.g. $.meta.id (repeatable)', collect)
    .option('--ignore-file <file>', 'report: a file of ignore rules (one per line: header NAME or json PATH)')
    .option('--report-mismatches <n>', 'report: mismatches kept in detail; later ones are only counted (default 1000)')
    .option('--report-bytes <n>', 'report: response bytes kept per answer for status, digest and diff (default 262144)')
    .option('--mirror', 'send each captured connection to every -x entry with its online address:port, not only the first')
    .option('--diffy', 'report, Diffy mode: each service has three -x entries, candidate, baseline, baseline (implies --mirror)');
}
