/**
 * One `-x` entry: captured traffic to [onlineIp:]onlinePort goes to targetIp:targetPort.
 * A leaf module: the session engine uses the type and the config parser produces it, so it
 * lives below both (kept in config/ it made config ↔ session an import cycle).
 */
export interface Transfer {
  /** null = any local address (the stock "missing srcIP"). */
  onlineIp: number | null;
  onlinePort: number;
  targetIp: number;
  targetPort: number;
}
