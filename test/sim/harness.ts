import { Buffer } from 'node:buffer';
import { parseTransfers } from '../../src/core/config/copier.js';
import { parseIpv4 } from '../../src/core/packet/index.js';
import { SessionEngine } from '../../src/core/session/engine.js';
import { defaultEngineConfig, type EngineConfig, type Outcome, type SessionInfo } from '../../src/core/session/types.js';
import { buildRecord, newRecordInfo } from '../../src/core/wire/record.js';
import type { CapturedPacket } from './capture.js';
import { FakeTarget, type TargetOptions } from './fake-target.js';
import { World, noFaults, type LinkFaults } from './world.js';

export const ip = (s: string): number => parseIpv4(s) as number;
export const ONLINE_SERVER = ip('198.51.100.1');
export const TARGET = ip('10.0.0.2');
export const TARGET_PORT = 8080;

export interface ClosedSession {
  info: SessionInfo;
  outcome: Outcome;
  clientIp: number;
  clientPort: number;
  onlineClientPort: number;
  replica: number;
  endUs: number;
  /** Our ISN: the target connection whose irs equals it is this session's. */
  iss: number;
}

export interface SimOptions {
  engine?: Partial<EngineConfig>;
  target: Omit<TargetOptions, 'ip' | 'port'> & { ip?: number; port?: number };
  /** Faults on copier → target packets. */
  toTarget?: LinkFaults;
  /** Faults on interceptor records → copier. */
  toEngine?: LinkFaults;
  linkDelayUs?: number;
  transfers?: string;
  /**
   * How records look: ours (64 bytes), 'stock-ip-options' (a stock interceptor's record of a
   * response with 4 bytes of IP options: IHL 6, Total Length counting them, TCP still at +20),
   * or 'payload' (192-byte payload variant).
   */
  recordStyle?: 'ours' | 'stock-ip-options' | 'payload';
  /** Share a world and target with an earlier run (replaying the same capture twice). */
  world?: World;
  fakeTarget?: FakeTarget;
  /**
   * A real interceptor in the loop (test/sim/intercept-link.ts): the target's packets go to
   * `targetOut` instead of coming straight back as records, and route changes also go to the
   * channel. Records then reach the engine only through the channel (it calls engine.onResponse).
   */
  channel?: SimChannel;
}

export interface SimChannel {
  targetOut(pkt: Buffer): void;
  routeAdd(clientIp: number, clientPort: number, targetIp: number, targetPort: number): boolean;
  routeDel(clientIp: number, clientPort: number, targetIp: number, targetPort: number): void;
}

/**
 * The engine wired to a fake target through lossy links and a record-building interceptor,
 * all on one fake clock. `feed` plays a capture the way the offline reader would (file
 * pacing by the caller, divided by -a); `run` advances the world.
 */
export class Sim {
  readonly world: World;
  readonly target: FakeTarget;
  readonly engine: SessionEngine;
  readonly closed: ClosedSession[] = [];
  readonly routes: string[] = [];
  sentPackets = 0;
  records = 0;
  private toTargetIdx = 0;
  private toEngineIdx = 0;
  private readonly recBuf = Buffer.alloc(192);
  private readonly recInfo = newRecordInfo();

  constructor(readonly o: SimOptions) {
    this.world = o.world ?? new World();
    const delay = o.linkDelayUs ?? 50;
    const toTarget = o.toTarget ?? noFaults;
    const toEngine = o.toEngine ?? noFaults;
    const transfers = parseTransfers(o.transfers ?? `80-10.0.0.2:${TARGET_PORT}`);
    const cfg: EngineConfig = defaultEngineConfig(transfers, o.engine ?? {});
    const ch = o.channel;
    const out =
      ch !== undefined
        ? (pkt: Buffer): void => ch.targetOut(pkt)
        : (pkt: Buffer): void => {
            for (const extra of toEngine(this.toEngineIdx++, pkt)) {
              this.world.after(delay + extra, () => this.deliverRecord(pkt));
            }
          };
    if (o.fakeTarget !== undefined) {
      // A later run against the same target: its packets now come to this engine.
      this.target = o.fakeTarget;
      this.target.out = out;
    } else {
      this.target = new FakeTarget(this.world, { ip: TARGET, port: TARGET_PORT, mtu: cfg.mtu, ...o.target }, out);
    }
    const world = this.world;
    this.engine = new SessionEngine(cfg, {
      send: (buf, len) => {
        this.sentPackets++;
        const pkt = Buffer.from(buf.subarray(0, len));
        for (const extra of toTarget(this.toTargetIdx++, pkt)) {
          world.after(delay + extra, () => this.target.receive(pkt));
        }
      },
      routeAdd: (cip, cport, tip, tport) => {
        this.routes.push(`add ${cip}:${cport}`);
        return ch === undefined ? true : ch.routeAdd(cip, cport, tip, tport);
      },
      routeDel: (cip, cport, tip, tport) => {
        this.routes.push(`del ${cip}:${cport}`);
        ch?.routeDel(cip, cport, tip, tport);
      },
      sessionClosed: (info, outcome) => {
        this.closed.push({
          info,
          outcome,
          clientIp: info.clientIp,
          clientPort: info.clientPort,
          onlineClientPort: info.onlineClientPort,
          replica: info.replica,
          endUs: info.endUs,
          iss: info.iss,
        });
      },
    });
  }

  private deliverRecord(pkt: Buffer): void {
    const style = this.o.recordStyle ?? 'ours';
    if (buildRecord(pkt, pkt.length, this.recBuf, 0, style === 'payload', this.recInfo) !== 'ok') return;
    this.records++;
    if (style === 'stock-ip-options') {
      this.recBuf[0] = 0x46;
      this.recBuf.writeUInt16BE(this.recBuf.readUInt16BE(2) + 4, 2);
    }
    this.engine.onResponse(this.recBuf, 0, this.world.now, style === 'payload' ? 192 : 64);
  }

  /** Schedule a capture: first packet at startAt, later ones by their captured gaps / accel. */
  feed(cap: CapturedPacket[], startAt = this.world.now, accel = 1): void {
    if (cap.length === 0) return;
    const t0 = (cap[0] as CapturedPacket).tsUs;
    for (const p of cap) {
      this.world.schedule(startAt + (p.tsUs - t0) / accel, () =>
        this.engine.onCaptured(p.pkt, 0, p.pkt.length, this.world.now, p.tsUs),
      );
    }
  }

  /** Run until nothing is left to do or `forUs` of fake time has passed. */
  run(forUs = 600_000_000, maxSteps = 5_000_000): void {
    const limit = this.world.now + forUs;
    for (let i = 0; i < maxSteps; i++) {
      const te = this.world.nextAt();
      const tt = this.engine.nextDeadline();
      const t = Math.min(te, tt);
      if (t === Infinity || t > limit) break;
      if (tt <= te) {
        this.world.now = Math.max(this.world.now, tt);
        this.engine.onTimer(this.world.now);
      } else {
        this.world.runOne();
      }
    }
  }

  /** The target connection of a closed session. */
  targetConnOf(cl: ClosedSession): import('./fake-target.js').TargetConn | undefined {
    return this.target.history.find((c) => c.clientIp === cl.clientIp && c.clientPort === cl.clientPort && c.irs === cl.iss);
  }

  outcomes(): Outcome[] {
    return this.closed.map((c) => c.outcome);
  }
}
