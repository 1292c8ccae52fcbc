import type { StoreUrl } from '../../core/config/store-url.js';
import type { TcpcopyConfig } from '../../core/config/tcpcopy-cli.js';
import type { PacerOptions } from '../../core/replay/pacer.js';
import { openStore } from '../store/open-store.js';
import type { PacketSource, SourceEvents } from './packet-source.js';
import { SourceOpenError } from './source-open-error.js';
import { StoreSource } from './store-source.js';

/** -i nats://…: connect, resolve the task or time range; any failure names -i and the URL. */
export async function openStoreSource(cfg: TcpcopyConfig, url: StoreUrl, pacing: PacerOptions, events: SourceEvents): Promise<PacketSource> {
  const store = await openStore(url, '-i', 'tcpcopy replay', SourceOpenError);
  try {
    return await StoreSource.open({ store, url, share: cfg.share, transfers: cfg.transfers, filter: cfg.filter, pacing, events });
  } catch (err) {
    await store.close(1000);
    throw new SourceOpenError(`-i ${JSON.stringify(url.text)}: ${(err as Error).message}`);
  }
}
