import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus endpoint of a daemon (`--metrics-port`): every counter of its stats snapshot plus
 * prom-client's default process metrics (CPU, memory, event-loop lag, handles, GC).
 *
 * The snapshot is read at scrape time (collect callbacks), so the hot path keeps bumping plain
 * numbers and pays nothing for metrics. Bound to 127.0.0.1 unless told otherwise: the numbers
 * describe production traffic and need no wider audience by default.
 */
export interface MetricsOptions {
  /** Metric name prefix, e.g. "tcpcopy_intercept". */
  prefix: string;
  port: number;
  host: string;
  /** Current values, camelCase names (InterceptStats.snapshot(), copier stats…). */
  snapshot: () => Readonly<Record<string, number>>;
  /** Names that go up and down (exported as gauges, without _total). */
  gauges?: ReadonlySet<string>;
  /** Optional help text per name. */
  help?: Readonly<Record<string, string>>;
  /** Other requests the daemon answers (e.g. POST /tasks/NAME/start); null = not its route. */
  routes?: (method: string, url: string) => Promise<{ status: number; body: string }> | null;
}

/** Names and gauges of the two daemons' endpoints (stats counters that go up and down). */
export const INTERCEPT_METRICS = { prefix: 'tcpcopy_intercept', gauges: new Set(['connsLive', 'routes']) } as const;
export const COPIER_METRICS = {
  prefix: 'tcpcopy_copier',
  gauges: new Set([
    'activeSessions',
    'establishedSessions',
    'establishedPeak',
    'lingeringSessions',
    'timeWaitTuples',
    'bufferedBytes',
    // Load mode (-u).
    'loadUsersRequested',
    'loadUsersActive',
    'loadUsersPeak',
    'loadEstablishedPerSecond',
    'loadRequestsPerSecond',
    'loadResponsesPerSecond',
  ]),
} as const;

export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Builds the registry (exported for tests: render with `registry.metrics()`). */
export function buildRegistry(o: Omit<MetricsOptions, 'port' | 'host'>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${o.prefix}_` });
  const names = Object.keys(o.snapshot());
  const value = (name: string): number => o.snapshot()[name] ?? 0;
  for (const name of names) {
    const help = o.help?.[name] ?? `${name} (stats counter)`;
    if (o.gauges?.has(name) === true) {
      new Gauge({
        name: `${o.prefix}_${snakeCase(name)}`,
        help,
        registers: [registry],
        collect(this: Gauge) {
          this.set(value(name));
        },
      });
    } else {
      new Counter({
        name: `${o.prefix}_${snakeCase(name)}_total`,
        help,
        registers: [registry],
        collect(this: Counter) {
          // Counters only go up: reset and set to the snapshot's absolute value.
          this.reset();
          this.inc(value(name));
        },
      });
    }
  }
  return registry;
}

export interface MetricsServer {
  address: AddressInfo;
  registry: Registry;
  close(): Promise<void>;
}

/** Serves GET /metrics; resolves once listening, rejects with the listen error (EADDRINUSE…). */
export function startMetricsServer(o: MetricsOptions): Promise<MetricsServer> {
  const registry = buildRegistry(o);
  const server: Server = createServer((req, res) => {
    const routed = o.routes?.(req.method ?? '', req.url ?? '') ?? null;
    if (routed !== null) {
      routed.then(
        (r) => res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`failed: ${String(err)}\n`),
      );
      return;
    }
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: o.port, host: o.host }, () => {
      server.off('error', reject);
      resolve({
        address: server.address() as AddressInfo,
        registry,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
