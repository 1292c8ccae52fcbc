import { TupleMap } from './tuple-map.js';

/** First and last port handed out when the preferred port is taken. */
const PORT_LO = 1024;
const PORT_SPAN = 65536 - PORT_LO;

interface TwEntry {
  clientIp: number;
  clientPort: number;
  targetIp: number;
  targetPort: number;
  expiresUs: number;
}

/**
 * Rewritten client ports. A tuple (client address, port, target address, port) is handed out
 * only if no live session uses it and the target does not hold it in TIME_WAIT; otherwise the
 * next port up (wrapping within 1024..65535) is tried. Exhaustion is reported (-1), never a
 * collision. `isLive` is the engine's session table.
 */
export class PortAllocator {
  private readonly tw = new TupleMap<TwEntry>(1024);
  /** TIME_WAIT entries in expiry order (all last the same time, so insertion order). */
  private twFifo: TwEntry[] = [];
  private twHead = 0;

  constructor(private readonly isLive: (cip: number, cport: number, tip: number, tport: number) => boolean) {}

  get timeWaitCount(): number {
    return this.tw.size;
  }

  /** The target holds this tuple in TIME_WAIT until expiresUs. */
  addTimeWait(clientIp: number, clientPort: number, targetIp: number, targetPort: number, expiresUs: number): void {
    const e: TwEntry = { clientIp, clientPort, targetIp, targetPort, expiresUs };
    this.tw.set(clientIp, clientPort, targetIp, targetPort, e);
    this.twFifo.push(e);
  }

  inTimeWait(clientIp: number, clientPort: number, targetIp: number, targetPort: number, nowUs: number): boolean {
    const e = this.tw.get(clientIp, clientPort, targetIp, targetPort);
    return e !== undefined && e.expiresUs > nowUs;
  }

  /** Drop expired TIME_WAIT entries. */
  expire(nowUs: number): void {
    const q = this.twFifo;
    while (this.twHead < q.length) {
      const e = q[this.twHead] as TwEntry;
      if (e.expiresUs > nowUs) break;
      this.twHead++;
      // Only delete if the map still holds this very entry (a later re-add replaced it).
      if (this.tw.get(e.clientIp, e.clientPort, e.targetIp, e.targetPort) === e) {
        this.tw.delete(e.clientIp, e.clientPort, e.targetIp, e.targetPort);
      }
    }
    if (this.twHead > 4096 && this.twHead * 2 > q.length) {
      this.twFifo = q.slice(this.twHead);
      this.twHead = 0;
    }
  }

  /** A free port for clientIp towards target, preferring `preferred`; -1 when none is free. */
  allocate(clientIp: number, preferred: number, targetIp: number, targetPort: number, nowUs: number): number {
    if (this.free(clientIp, preferred, targetIp, targetPort, nowUs)) return preferred;
    const start = preferred >= PORT_LO ? preferred - PORT_LO : 0;
    for (let k = 1; k <= PORT_SPAN; k++) {
      const port = PORT_LO + ((start + k) % PORT_SPAN);
      if (this.free(clientIp, port, targetIp, targetPort, nowUs)) return port;
    }
    return -1;
  }

  private free(cip: number, cport: number, tip: number, tport: number, nowUs: number): boolean {
    return !this.isLive(cip, cport, tip, tport) && !this.inTimeWait(cip, cport, tip, tport, nowUs);
  }
}
