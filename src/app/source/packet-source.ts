import type { Buffer } from 'node:buffer';

/**
 * The copier's input seam. A source delivers client→server IPv4 packets with their capture
 * timestamps, in batches, already selected (-F, -x matched once: each packet comes with the index
 * of its transfer). It knows where packets come from and nothing about TCP or the wire.
 *
 *   capture file   pausable; paced by its timestamps (-a, -I, --rate), -T runs
 *   live capture   not pausable: what the copier cannot take now is dropped and counted
 *   load (-u)     pausable; N users replaying a session store built from a file (load-source.ts)
 *
 * The copier calls feed() when the source woke it (events.wake), when nextReleaseUs is reached,
 * or when the sink can take more; feed() hands over at most one batch and says why it stopped.
 */
export interface PacketConsumer {
  /**
   * False while the sink pushes back. A pausable source stops ('paused'; the copier calls feed
   * again on drain); a live one drops what arrives meanwhile and counts it.
   */
  readonly accepting: boolean;
  /** One packet; buf is the source's memory, valid only during the call. */
  packet(buf: Buffer, ipOff: number, capLen: number, tsUs: number, transferIdx: number): void;
  /**
   * A server→client packet of a replayed service, in capture order with the others (sources
   * asked for them with `reverse`: the replay report's reference answers). Not replayed.
   */
  reversePacket?(buf: Buffer, ipOff: number, capLen: number, tsUs: number): void;
}

/**
 * Why feed() returned:
 *   more    the batch is full: call again next turn
 *   wait    the next packet is not due yet (see nextReleaseUs)
 *   io      nothing buffered; events.wake() follows
 *   paused  the consumer is not accepting
 *   done    no packet will come any more (events.ended(), or events.error(), was called)
 */
export type FeedResult = 'more' | 'wait' | 'io' | 'paused' | 'done';

export interface SourceProgress {
  /** 0..1 where the total is known (a file), else null (live). */
  fraction: number | null;
  /** Packets taken from the input (all runs), and those handed to the engine. */
  packets: number;
  packetsUsed: number;
  /** Input bytes consumed in this run, and the run's total (0 unknown). */
  bytes: number;
  totalBytes: number;
  /** Packets lost before the engine (kernel/interface drops, overload drops of a live source). */
  drops: number;
  /** 0-based run and number of runs (-T); 0 / 1 for a live source. */
  loop: number;
  loops: number;
}

export interface SourceTotals {
  /** Packets taken from the input (all runs). */
  packetsRead: number;
  /** Packets that passed -F and matched a -x entry (handed to the engine). */
  packetsUsed: number;
  nonIpv4: number;
  filteredOut: number;
  notMatched: number;
  /** Packets shorter than on the wire (snap length). */
  truncatedRecords: number;
  /** Packets lost before the engine (see SourceProgress.drops). */
  drops: number;
  runsDone: number;
  runs: number;
  /** Most frequent TCP destinations of packets that matched no -x entry: ["ip:port", count]. */
  unmatchedDestinations: [string, number][];
  /** A live capture's own account (absent for a file). */
  live?: LiveTotals;
}

/** Why a live source lost a packet after libpcap handed it over. */
export type LiveDropReason = 'ring-full' | 'sink-busy';

export interface LiveTotals {
  devices: string[];
  /** From start() until capture stopped (or now). */
  capturingUs: number;
  /** Dropped by the source, by reason: the ring was full while the sink pushed back, or not. */
  dropsByReason: Record<LiveDropReason, number>;
  /** Dropped by the kernel (capture buffer full, -B) and by the interfaces; null = unknown. */
  kernelDrops: number | null;
  interfaceDrops: number | null;
  /** Why kernelDrops is unknown. */
  kernelDropsMissing: string | null;
  /** Captured while the copier was still starting (sink, channel): not replayed. */
  beforeStart: number;
}

export interface SourceEvents {
  /** More input can be fed (a read finished, packets arrived, a new run began). */
  wake(): void;
  /** Log-worthy information (a run ended, another begins). */
  info(message: string): void;
  /** The last packet was delivered: the source is over. */
  ended(): void;
  /** The source failed for good (corrupt file mid-way, I/O error, capture device gone). */
  error(message: string): void;
}

export interface PacketSource {
  /** For logs and the summary: "capture file x.pcap", "live capture on eth0". */
  readonly description: string;
  /** A file can wait for the copier; a live capture cannot (it drops and counts). */
  readonly pausable: boolean;
  /** Release time (µs, the copier's clock) of the next packet when it is waiting, else Infinity. */
  readonly nextReleaseUs: number;
  readonly ended: boolean;
  /**
   * When it ends, the sessions in flight get --end-grace to finish and are then ended (load mode:
   * the run's duration is over), instead of running until they close or fall silent.
   */
  readonly graceAtEnd?: boolean;
  /** Begin delivering (the pacing clock starts at nowUs). */
  start(nowUs: number): void;
  feed(nowUs: number, consumer: PacketConsumer): FeedResult;
  progress(): SourceProgress;
  /** Totals for the end summary and metrics. */
  totals(): SourceTotals;
  /**
   * Live sources (SIGINT/SIGTERM): take no new input, hand over what is buffered, then end
   * (events.ended()). A file has nothing to finish and simply stops with the copier.
   */
  stopInput?(): void;
  close(): void;
}
