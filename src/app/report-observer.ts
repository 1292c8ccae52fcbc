import { readFileSync } from 'node:fs';
import { ExchangeCollector } from '../core/collect/collector.js';
import type { ReportConfig } from '../core/config/report.js';
import { parseIgnoreFile } from '../core/config/report-rules.js';
import { ReportAggregator } from '../core/report/aggregator.js';
import type { ReportRun } from '../core/report/exchange.js';
import { reportHeadline } from '../core/report/headline.js';
import type { IgnoreRule } from '../core/report/ignore-rules.js';
import type { Outcome, SessionInfo } from '../core/session/types.js';
import { writeReportFiles } from '../io/report-writer.js';
import type { Copier } from './copier.js';
import { nowUs } from './copier.js';
import type { CopierObserver } from './copier-observer.js';
import type { RunLog } from './run-log.js';

/** The --ignore-file could not be read or holds a bad rule: a usage error (exit 2). */
class ReportSetupError extends Error {}

/** What the report says about the test answers' bytes, after the channel negotiation. */
type TestPayload = 'forwarded' | 'partly forwarded' | 'sizes only';

/**
 * The replay report (--report / --report-html): owns the exchange collector the copier feeds
 * (attached before the run so the channel asks for response payloads) and the report core's
 * aggregator; at the end prints the headline and writes the files (awaited in close()).
 */
export class ReplayReportObserver implements CopierObserver {
  readonly name = 'replay report';
  readonly collector: ExchangeCollector;
  private readonly aggregator: ReportAggregator;
  private readonly run: ReportRun;
  private writing: Promise<void> | null = null;
  private testPayload: TestPayload = 'sizes only';

  constructor(
    private readonly cfg: ReportConfig,
    run: { input: string; acceleration: number },
    ignore: readonly IgnoreRule[],
    private readonly stdout: NodeJS.WritableStream,
    private readonly log: RunLog,
  ) {
    this.run = {
      input: run.input,
      startedAt: new Date().toISOString(),
      acceleration: run.acceleration,
      targets: cfg.targets.map((t) => ({ address: t.address, role: t.role })),
      reference: cfg.diffy ? 'baselines' : 'capture',
    };
    this.aggregator = new ReportAggregator(this.run, { mismatchCap: cfg.mismatchCap, ignore });
    this.collector = new ExchangeCollector({ targets: cfg.targets, bytesCap: cfg.bytesCap, captureReference: !cfg.diffy, recycleBytes: true }, this.aggregator);
  }

  /** Reads --ignore-file and builds the observer; throws ReportSetupError on a bad file. */
  static create(cfg: ReportConfig, run: { input: string; acceleration: number }, stdout: NodeJS.WritableStream, log: RunLog): ReplayReportObserver {
    const rules = [...cfg.ignore];
    if (cfg.ignoreFile !== null) {
      let text: string;
      try {
        text = readFileSync(cfg.ignoreFile, 'utf8');
      } catch (err) {
        throw new ReportSetupError(`--ignore-file ${JSON.stringify(cfg.ignoreFile)}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      try {
        rules.push(...parseIgnoreFile(text, cfg.ignoreFile));
      } catch (err) {
        throw new ReportSetupError((err as Error).message);
      }
    }
    return new ReplayReportObserver(cfg, run, rules, stdout, log);
  }

  start(copier: Copier): void {
    const g = copier.extensionGranted;
    const forwarding = g.filter((x) => x > 0).length;
    this.testPayload = forwarding === 0 ? 'sizes only' : forwarding === g.length ? 'forwarded' : 'partly forwarded';
  }

  tick(now: number): void {
    this.collector.tick(now);
  }

  sessionClosed(info: SessionInfo, outcome: Outcome): void {
    this.collector.testClosed(info, outcome, nowUs());
  }

  end(): void {
    this.collector.flush();
    const report = { ...this.aggregator.report(new Date().toISOString()), testPayload: this.testPayload };
    const lines = reportHeadline(report);
    if (this.testPayload !== 'forwarded') {
      lines.push(`report: test answers: ${this.testPayload} (the interceptor did not forward every response payload; see intercept --forward-payload)`);
    }
    this.stdout.write(`${lines.join('\n')}\n`);
    const paths = { ...(this.cfg.jsonPath === null ? {} : { json: this.cfg.jsonPath }), ...(this.cfg.htmlPath === null ? {} : { html: this.cfg.htmlPath }) };
    this.writing = writeReportFiles(report, paths).then(
      () => this.log.info(`report written: ${[this.cfg.jsonPath, this.cfg.htmlPath].filter((p) => p !== null).join(', ')} (${this.collector.exchanges} requests)`),
      (err: unknown) => this.log.errOut(`cannot write the report: ${(err as Error).message}`),
    );
  }

  async close(): Promise<void> {
    await this.writing;
  }
}
