import type { Transfer } from '../transfer.js';
import type { TcpcopyRawOptions } from './tcpcopy-raw.js';
import type { CaptureInput } from './tcpcopy-input.js';

type WarnedOptions = Pick<TcpcopyRawOptions, 'rate' | 'maxOpening' | 'accelerate' | 'interval' | 'times' | 'percentage' | 'gradual' | 'buffer' | 'snaplen' | 'captureLatency'>;

/**
 * Flags that are valid but have no effect as given (for this input, or next to another flag),
 * and -x entries that can never match: the warnings tcpcopy logs at start.
 */
export function flagWarnings(raw: WarnedOptions, transfers: readonly Transfer[], input: CaptureInput, mirror: boolean): string[] {
  const warnings: string[] = [];
  // -x is matched in order, first match wins (as in stock): a later entry for the same online
  // side is never used, which an operator who meant "copy to both targets" must hear.
  if (!mirror) {
    transfers.forEach((t, i) => {
      const first = transfers.findIndex((u) => u.onlinePort === t.onlinePort && (u.onlineIp === null || u.onlineIp === t.onlineIp));
      if (first !== i) warnings.push(`-x entry ${i + 1} is never used: entry ${first + 1} already takes traffic to its online port (the first match wins; split by online address, or use --mirror, to copy to several targets)`);
    });
  }
  if (raw.rate === true && raw.accelerate !== undefined) warnings.push('--rate replays as fast as possible: -a only scales think time');
  if (raw.rate === true && raw.interval !== undefined) warnings.push('--rate ignores capture timestamps: -I has no effect');
  if (raw.percentage !== undefined && raw.gradual === true) warnings.push('-g overrides -r');
  if (input.kind === 'live') {
    const offline = (
      [
        ['-a', raw.accelerate],
        ['-I', raw.interval],
        ['-T', raw.times],
        ['--rate', raw.rate === true ? 'on' : undefined],
        ['--max-opening', raw.maxOpening],
      ] as const
    ).filter(([, v]) => v !== undefined);
    if (offline.length > 0) warnings.push(`${offline.map(([f]) => f).join(', ')}: only for a capture file; live packets are copied as they arrive`);
  } else {
    const liveOnly = [raw.buffer === undefined ? null : '-B', raw.snaplen === undefined ? null : '-S', raw.captureLatency === undefined ? null : '--capture-latency'].filter((f) => f !== null);
    if (liveOnly.length > 0) warnings.push(`${liveOnly.join(', ')}: only for live capture; ignored when replaying ${input.kind === 'file' ? input.path : input.url.text}`);
  }
  return warnings;
}
