import { ConfigError } from '../config/errors.js';
import { parseIpv4 } from '../packet/ipv4.js';

/**
 * Operations flags shared by both daemons: `--check` with its optional context, and the
 * metrics endpoint. Parsed once here; commander hands over the raw strings.
 */
export interface OpsRawOptions {
  check?: boolean;
  checkPorts?: string;
  checkClients?: string;
  checkCopier?: string;
  metricsPort?: string;
  metricsBind?: string;
}

export interface OpsConfig {
  check: boolean;
  checkPorts: number[];
  /** Addresses or a.b.c.d/len ranges. */
  checkClients: string[];
  checkCopier: string | null;
  /** null = no metrics endpoint. */
  metrics: { port: number; host: string } | null;
}

const PORT_FORM = 'expected a TCP port 1..65535';

function port(flag: string, v: string): number {
  const t = v.trim();
  if (!/^[0-9]{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) throw new ConfigError(flag, v, PORT_FORM);
  return Number(t);
}

function ip(flag: string, v: string, form: string): string {
  const t = v.trim();
  if (parseIpv4(t) === null) throw new ConfigError(flag, v, form);
  return t;
}

export function parseOpsOptions(raw: OpsRawOptions): OpsConfig {
  const checkPorts = raw.checkPorts === undefined ? [] : raw.checkPorts.split(',').map((p) => port('--check-ports', p));
  const clientForm = 'expected a.b.c.d or a.b.c.d/len, comma-separated';
  const checkClients =
    raw.checkClients === undefined
      ? []
      : raw.checkClients.split(',').map((c) => {
          const [a, len, ...rest] = c.trim().split('/');
          if (rest.length > 0 || a === undefined) throw new ConfigError('--check-clients', raw.checkClients ?? '', clientForm);
          ip('--check-clients', a, clientForm);
          if (len !== undefined && (!/^[0-9]{1,2}$/.test(len) || Number(len) > 32)) throw new ConfigError('--check-clients', raw.checkClients ?? '', clientForm);
          return c.trim();
        });
  const checkCopier = raw.checkCopier === undefined ? null : ip('--check-copier', raw.checkCopier, 'expected the copier host\'s IPv4 address');
  if (raw.metricsBind !== undefined && raw.metricsPort === undefined) {
    throw new ConfigError('--metrics-bind', raw.metricsBind, 'needs --metrics-port as well');
  }
  const metrics =
    raw.metricsPort === undefined
      ? null
      : {
          port: port('--metrics-port', raw.metricsPort),
          host: raw.metricsBind === undefined ? '127.0.0.1' : ip('--metrics-bind', raw.metricsBind, 'expected an IPv4 address (0.0.0.0 = all)'),
        };
  return { check: raw.check === true, checkPorts, checkClients, checkCopier, metrics };
}
