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

/**
 * Index of the first transfer matching a captured destination, or −1. The packet source matches
 * once per packet and hands the index to the engine with the packet.
 */
export function findTransfer(transfers: readonly Transfer[], dst: number, dport: number): number {
  for (let i = 0; i < transfers.length; i++) {
    const t = transfers[i] as Transfer;
    if (t.onlinePort === dport && (t.onlineIp === null || t.onlineIp === dst)) return i;
  }
  return -1;
}
