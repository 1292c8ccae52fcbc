import { loadAddon } from '../../src/io/native.js';

/** A skip reason when the project's fast NFQUEUE addon is not built, else false. */
export function nfqAddonMissing(): string | false {
  try {
    loadAddon('nfq');
    return false;
  } catch (err) {
    return `fast NFQUEUE addon not built: ${(err as Error).message}`;
  }
}
