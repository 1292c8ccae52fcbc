import type { SessionStore } from './session-store.js';

/**
 * Load mode's users: N slots, each replaying one stored session at a time from its own client
 * address and port, the next session starting when the engine reports the current one over.
 * Pure (time comes in as arguments); per-user state is typed arrays (~40 bytes a user).
 *
 * Addresses and ports: user u has address addresses[u % A] and lane j = ⌊u / A⌋ of that
 * address's ports 1024..65535 (L = ⌊64512 / ⌈N / A⌉⌋ ports per lane); its k-th session uses
 * port 1024 + j·L + (k mod L), so a session's online tuple names its user (the engine reports
 * outcomes by online tuple) and a user's ports rotate through its lane, letting the target's
 * TIME_WAIT of earlier sessions expire. The engine's port allocator still checks every tuple
 * against live sessions and TIME_WAIT and moves to a free port when needed: never a collision.
 */

export const PORT_LO = 1024;
export const PORTS_PER_ADDRESS = 65536 - PORT_LO;

export interface LoadPlan {
  users: number;
  /** Client addresses of the users (u32). */
  addresses: readonly number[];
  /** --ramp: users start evenly over this long (0 = all at once). */
  rampUs: number;
  /** --duration: no packet is released after this long (Infinity = unbounded). */
  durationUs: number;
  /** -T: at most this many sessions started in all (Infinity = unbounded). */
  maxSessions: number;
  /** -a: captured gaps are divided by this. */
  acceleration: number;
  /** -n: engine sessions per user session (each reports an outcome). */
  replicas: number;
}

/** Users that can be served by `addresses` client addresses with `replicas` sessions each. */
export function loadCapacity(addresses: number, replicas: number): number {
  return Math.floor((addresses * PORTS_PER_ADDRESS) / Math.max(1, replicas));
}

const ST_IDLE = 0;
const ST_RUNNING = 1;
const ST_DONE = 2;

export interface LoadCounters {
  usersRequested: number;
  /** Users whose session is started and not reported over. */
  usersActive: number;
  usersPeak: number;
  /** µs after start when usersPeak was first reached. */
  usersPeakAtUs: number;
  sessionsStarted: number;
  sessionsEnded: number;
  /** Packets released to the engine, and those that start a request. */
  packetsReleased: number;
  requestsReleased: number;
  /** Packets of sessions that ended early (reset, timeout), never released. */
  packetsAbandoned: number;
}

export class UserScheduler {
  readonly counters: LoadCounters;
  private readonly addrIndex = new Map<number, number>();
  private readonly lanePorts: number;
  // Per user.
  private readonly state: Uint8Array;
  private readonly session: Int32Array;
  private readonly nextPkt: Int32Array;
  private readonly endPkt: Int32Array;
  private readonly seqNo: Uint32Array;
  private readonly pending: Uint16Array;
  private readonly startUs: Float64Array;
  private readonly due: Float64Array;
  // Min-heap of (due time, user); stale entries (due changed since) are skipped when popped.
  private heapUser: Int32Array;
  private heapKey: Float64Array;
  private heapLen = 0;
  private t0 = 0;
  private nextStartUser = 0;
  private nextSession = 0;
  private endAtUs = Infinity;
  private stopped = false;
  /** The user, address and port of the packet take() returned last. */
  curUser = -1;
  curIp = 0;
  curPort = 0;
  /** The capture-relative time (µs) of that packet. */
  curTsUs = 0;

  constructor(
    private readonly plan: LoadPlan,
    private readonly store: SessionStore,
  ) {
    const n = plan.users;
    const a = plan.addresses.length;
    plan.addresses.forEach((ip, i) => this.addrIndex.set(ip >>> 0, i));
    this.lanePorts = Math.max(1, Math.floor(PORTS_PER_ADDRESS / Math.ceil(n / a)));
    this.state = new Uint8Array(n);
    this.session = new Int32Array(n).fill(-1);
    this.nextPkt = new Int32Array(n);
    this.endPkt = new Int32Array(n);
    this.seqNo = new Uint32Array(n);
    this.pending = new Uint16Array(n);
    this.startUs = new Float64Array(n);
    this.due = new Float64Array(n).fill(Infinity);
    const cap = Math.min(n, 1 << 16) * 2 + 16;
    this.heapUser = new Int32Array(cap);
    this.heapKey = new Float64Array(cap);
    this.counters = {
      usersRequested: n,
      usersActive: 0,
      usersPeak: 0,
      usersPeakAtUs: 0,
      sessionsStarted: 0,
      sessionsEnded: 0,
      packetsReleased: 0,
      requestsReleased: 0,
      packetsAbandoned: 0,
    };
  }

  /** Bytes of per-user state and the heap. */
  get memoryBytes(): number {
    return this.plan.users * 39 + this.heapUser.byteLength + this.heapKey.byteLength;
  }

  /** No packet will be released any more (duration over, or -T sessions all done). */
  get ended(): boolean {
    return this.stopped;
  }

  begin(nowUs: number): void {
    this.t0 = nowUs;
    this.endAtUs = nowUs + this.plan.durationUs;
    if (this.store.sessions === 0) this.stopped = true;
  }

  /** When take() has something next (a packet, a user's start, the end of the run). */
  nextReleaseUs(): number {
    if (this.stopped) return Infinity;
    let at = this.endAtUs;
    if (this.heapLen > 0 && (this.heapKey[0] as number) < at) at = this.heapKey[0] as number;
    if (this.nextStartUser < this.plan.users) {
      const s = this.rampStartUs(this.nextStartUser);
      if (s < at) at = s;
    }
    return at;
  }

  /**
   * The next packet due at nowUs (a global packet index; curIp/curPort/curTsUs say how to send
   * it), or −1 when none is due.
   */
  take(nowUs: number): number {
    if (this.stopped) return -1;
    if (nowUs >= this.endAtUs) {
      this.stopped = true;
      return -1;
    }
    const plan = this.plan;
    while (this.nextStartUser < plan.users && this.rampStartUs(this.nextStartUser) <= nowUs) {
      const u = this.nextStartUser++;
      this.startSession(u, nowUs);
    }
    while (this.heapLen > 0) {
      const key = this.heapKey[0] as number;
      if (key > nowUs) return -1;
      const u = this.heapUser[0] as number;
      this.pop();
      if (this.due[u] !== key || this.state[u] !== ST_RUNNING) continue;
      const p = this.nextPkt[u] as number;
      if (p >= (this.endPkt[u] as number)) {
        this.due[u] = Infinity;
        continue;
      }
      this.nextPkt[u] = p + 1;
      this.schedule(u);
      this.curUser = u;
      this.curIp = plan.addresses[u % plan.addresses.length] as number;
      this.curPort = this.portOf(u, this.seqNo[u] as number);
      this.curTsUs = this.store.offsetUs(p);
      this.counters.packetsReleased++;
      if (this.store.startsRequest(p)) this.counters.requestsReleased++;
      return p;
    }
    return -1;
  }

  /**
   * The engine reported a session of the online client clientIp:clientPort over (`reconnected`:
   * it continues in another session, so the user is not over). Unknown or stale tuples are
   * ignored. Returns true when the user's session is over.
   */
  sessionEnded(clientIp: number, clientPort: number, continues: boolean, whole: boolean, nowUs: number): boolean {
    if (continues) return false;
    const a = this.addrIndex.get(clientIp >>> 0);
    if (a === undefined || clientPort < PORT_LO) return false;
    const off = clientPort - PORT_LO;
    const lane = Math.floor(off / this.lanePorts);
    const u = lane * this.plan.addresses.length + a;
    if (u >= this.plan.users || this.state[u] !== ST_RUNNING) return false;
    if (off - lane * this.lanePorts !== (this.seqNo[u] as number) % this.lanePorts) return false;
    const left = whole ? 0 : (this.pending[u] as number) - 1;
    if (left > 0) {
      this.pending[u] = left;
      return false;
    }
    const c = this.counters;
    c.packetsAbandoned += (this.endPkt[u] as number) - (this.nextPkt[u] as number);
    c.usersActive--;
    c.sessionsEnded++;
    this.state[u] = ST_IDLE;
    this.due[u] = Infinity;
    if (!this.stopped) this.startSession(u, nowUs);
    if (c.sessionsStarted >= this.plan.maxSessions && c.usersActive === 0 && this.nextStartUser >= this.plan.users) this.stopped = true;
    return true;
  }

  /** User u's address and the online port of its k-th session. */
  portOf(u: number, k: number): number {
    const lane = Math.floor(u / this.plan.addresses.length);
    return PORT_LO + lane * this.lanePorts + (k % this.lanePorts);
  }

  private rampStartUs(u: number): number {
    return this.t0 + (this.plan.rampUs * u) / this.plan.users;
  }

  private startSession(u: number, nowUs: number): void {
    const c = this.counters;
    if (c.sessionsStarted >= this.plan.maxSessions) {
      this.state[u] = ST_DONE;
      if (c.usersActive === 0 && this.nextStartUser >= this.plan.users) this.stopped = true;
      return;
    }
    const s = this.nextSession;
    this.nextSession = s + 1 >= this.store.sessions ? 0 : s + 1;
    if ((this.session[u] as number) >= 0) this.seqNo[u] = (this.seqNo[u] as number) + 1;
    c.sessionsStarted++;
    this.state[u] = ST_RUNNING;
    this.session[u] = s;
    this.nextPkt[u] = this.store.firstPacket(s);
    this.endPkt[u] = this.store.endPacket(s);
    this.pending[u] = this.plan.replicas;
    this.startUs[u] = nowUs;
    c.usersActive++;
    if (c.usersActive > c.usersPeak) {
      c.usersPeak = c.usersActive;
      c.usersPeakAtUs = nowUs - this.t0;
    }
    this.schedule(u);
  }

  /** Push user u's next packet (if any) at its release time. */
  private schedule(u: number): void {
    const p = this.nextPkt[u] as number;
    if (p >= (this.endPkt[u] as number)) {
      this.due[u] = Infinity;
      return;
    }
    const at = (this.startUs[u] as number) + this.store.offsetUs(p) / this.plan.acceleration;
    this.due[u] = at;
    this.push(u, at);
  }

  transferOf(u: number): number {
    return this.store.transferOf(this.session[u] as number);
  }

  private push(u: number, key: number): void {
    if (this.heapLen === this.heapUser.length) {
      const nu = new Int32Array(this.heapLen * 2);
      nu.set(this.heapUser);
      this.heapUser = nu;
      const nk = new Float64Array(this.heapLen * 2);
      nk.set(this.heapKey);
      this.heapKey = nk;
    }
    const hu = this.heapUser;
    const hk = this.heapKey;
    let i = this.heapLen++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((hk[parent] as number) <= key) break;
      hu[i] = hu[parent] as number;
      hk[i] = hk[parent] as number;
      i = parent;
    }
    hu[i] = u;
    hk[i] = key;
  }

  private pop(): void {
    const hu = this.heapUser;
    const hk = this.heapKey;
    const n = --this.heapLen;
    if (n === 0) return;
    const u = hu[n] as number;
    const key = hk[n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (hk[c + 1] as number) < (hk[c] as number)) c++;
      if ((hk[c] as number) >= key) break;
      hu[i] = hu[c] as number;
      hk[i] = hk[c] as number;
      i = c;
    }
    hu[i] = u;
    hk[i] = key;
  }
}
