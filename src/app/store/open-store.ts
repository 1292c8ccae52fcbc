import type { StoreUrl } from '../../core/config/store-url.js';
import type { RecordStore } from '../../core/store/types.js';

/**
 * Connects to the store a URL names (the NATS adapter is loaded only then: runs without a store
 * pay nothing for it). A failure becomes `errorClass` with a message naming the flag and URL.
 */
export async function openStore(url: StoreUrl, flag: string, clientName: string, errorClass: new (message: string) => Error): Promise<RecordStore> {
  try {
    const { NatsStore } = await import('../../io/store/nats-store.js');
    return await NatsStore.open(url, clientName);
  } catch (err) {
    throw new errorClass(`${flag} ${JSON.stringify(url.text)}: ${(err as Error).message}`);
  }
}
