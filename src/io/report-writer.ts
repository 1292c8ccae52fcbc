import { rename, writeFile } from 'node:fs/promises';
import type { ReplayReport } from '../core/report/report-types.js';
import { renderReportHtml } from '../core/report/report-html.js';

export interface ReportPaths {
  /** `--report FILE.json` */
  json?: string;
  /** `--report-html FILE.html` */
  html?: string;
}

/** Write to a temporary name, then rename: a reader never sees half a report. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/** Writes the report's JSON and/or HTML files (the paths given). */
export async function writeReportFiles(report: ReplayReport, paths: ReportPaths): Promise<void> {
  if (paths.json !== undefined) await writeAtomic(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  if (paths.html !== undefined) await writeAtomic(paths.html, renderReportHtml(report));
}
