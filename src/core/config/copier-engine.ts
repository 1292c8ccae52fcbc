import { defaultEngineConfig, type EngineConfig } from '../session/types.js';
import {
  parseAcceleration,
  parseAddress,
  parseClientPool,
  parseFixedRtt,
  parseKeepaliveTimeout,
  parseMemoryMb,
  parseMss,
  parseMtu,
  parsePortShift,
  parseReplicas,
  parseSampleRate,
  parseSessionBufferKb,
  parseSessionTimeout,
  parseTransfers,
} from './copier.js';

/**
 * The copier's session-related flags as commander hands them over (strings, or booleans for
 * switches); absent = default. One call turns them into the engine's config, so the CLI stays
 * a thin list of options.
 */
export interface CopierFlags {
  /** -x (required) */
  transfers: string;
  /** -c */
  clientPool?: string;
  /** -H */
  localAddress?: string;
  /** -n */
  replicas?: string;
  /** -f */
  portShift?: string;
  /** -r */
  sample?: string;
  /** -g */
  gradual?: boolean;
  /** -O */
  onlyFromSyn?: boolean;
  /** -W */
  noWait?: boolean;
  /** -L */
  lonely?: boolean;
  /** -M */
  mtu?: string;
  /** -D */
  mss?: string;
  /** -R (ms) */
  rtt?: string;
  /** -t (s) */
  sessionTimeout?: string;
  /** -k (s) */
  keepalive?: string;
  /** -U (KB) */
  sessionBufferKb?: string;
  /** -m (MB) */
  memoryMb?: string;
  /** -a */
  acceleration?: string;
  /** Seed of the replay's pseudo-random choices (sampling, port shift). */
  seed?: number;
}

export function engineConfigFromFlags(f: CopierFlags): EngineConfig {
  const transfers = parseTransfers(f.transfers);
  const targetIps = transfers.map((t) => t.targetIp);
  const o: Partial<EngineConfig> = {};
  if (f.clientPool !== undefined) o.clientPool = parseClientPool(f.clientPool, targetIps);
  if (f.localAddress !== undefined) o.localAddress = parseAddress(f.localAddress, '-H');
  if (f.replicas !== undefined) o.replicas = parseReplicas(f.replicas);
  if (f.portShift !== undefined) o.portShift = parsePortShift(f.portShift);
  if (f.sample !== undefined) o.samplePercent = parseSampleRate(f.sample);
  if (f.gradual === true) o.gradual = true;
  if (f.onlyFromSyn === true) o.onlyFromSyn = true;
  if (f.noWait === true) o.noWait = true;
  if (f.lonely === true) o.lonely = true;
  if (f.mtu !== undefined) o.mtu = parseMtu(f.mtu);
  if (f.mss !== undefined) o.mss = parseMss(f.mss);
  if (f.rtt !== undefined) o.fixedRttUs = parseFixedRtt(f.rtt) * 1000;
  const t = f.sessionTimeout !== undefined ? parseSessionTimeout(f.sessionTimeout) : 600;
  o.sessionTimeoutUs = t * 1_000_000;
  o.keepaliveTimeoutUs = (f.keepalive !== undefined ? parseKeepaliveTimeout(f.keepalive, t) : t + 120) * 1_000_000;
  if (f.sessionBufferKb !== undefined) o.sessionBufferCap = parseSessionBufferKb(f.sessionBufferKb) * 1024;
  if (f.memoryMb !== undefined) o.totalBufferCap = parseMemoryMb(f.memoryMb) * 1024 * 1024;
  if (f.acceleration !== undefined) o.acceleration = parseAcceleration(f.acceleration);
  if (f.seed !== undefined) o.seed = f.seed;
  return defaultEngineConfig(transfers, o);
}
