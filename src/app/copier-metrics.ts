import type { Copier } from './copier.js';
import type { CopierObserver } from './copier-observer.js';
// Types only: the metrics module (node:http + prom-client, ~40 ms of start-up CPU) is loaded
// when --metrics-port asks for it.
import type { MetricsOptions, MetricsServer } from '../io/metrics.js';

/** --metrics-port: a Prometheus endpoint with every engine counter while the copier runs. */
export class CopierMetrics implements CopierObserver {
  readonly name = 'metrics endpoint';
  private server: MetricsServer | null = null;

  constructor(
    private readonly where: { port: number; host: string },
    /** --record nats://…: the task routes (POST /tasks/NAME/start|stop). */
    private readonly routes?: MetricsOptions['routes'],
    /** More values: the recorder's counters (--record), load mode's users and rates (-u). */
    private readonly extra?: () => Record<string, number>,
  ) {}

  async start(c: Copier): Promise<void> {
    const { port, host } = this.where;
    try {
      const { COPIER_METRICS, startMetricsServer } = await import('../io/metrics.js');
      this.server = await startMetricsServer({
        prefix: COPIER_METRICS.prefix,
        port,
        host,
        snapshot: () => {
          const p = c.source.progress();
          return {
            ...c.engine.stats.snapshot(),
            packetsRead: p.packets,
            packetsUsed: p.packetsUsed,
            sourceDrops: p.drops,
            interceptorRecords: c.records,
            rawRefused: c.rawSink?.stats.refused ?? 0,
            rawQueued: c.rawSink?.stats.queued ?? 0,
            ...this.extra?.(),
          };
        },
        gauges: COPIER_METRICS.gauges,
        ...(this.routes === undefined ? {} : { routes: this.routes }),
      });
    } catch (err) {
      throw new Error(`--metrics-port ${port}: cannot serve metrics on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    c.logger.info(`metrics on http://${this.server.address.address}:${this.server.address.port}/metrics`);
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }
}
