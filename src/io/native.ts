import { createRequire } from 'node:module';

/**
 * Lazy loading of the native addons. They are loaded only by the adapter that needs them, so
 * `tcpcopy -h` or offline-only runs work without a built NFQUEUE binding, and a missing build
 * turns into one actionable message instead of a stack trace from deep inside node-gyp output.
 */
export type AddonName = 'nfqueue' | 'raw-socket' | 'cap';

const SYSTEM_PACKAGE: Record<AddonName, string> = {
  nfqueue: 'libnetfilter-queue-dev',
  'raw-socket': 'build-essential',
  cap: 'libpcap-dev',
};

export class NativeAddonError extends Error {
  constructor(
    readonly addon: AddonName,
    reason: unknown,
  ) {
    const detail = reason instanceof Error ? reason.message.split('\n')[0] : String(reason);
    super(
      `native addon '${addon}' could not be loaded (${detail}). ` +
        `Install the system library and rebuild: run 'bash scripts/install-deps.sh' ` +
        `(Debian package ${SYSTEM_PACKAGE[addon]}), then 'npm rebuild ${addon}'.`,
      { cause: reason },
    );
    this.name = 'NativeAddonError';
  }
}

const require = createRequire(import.meta.url);
const cache = new Map<AddonName, unknown>();

/** Loads an addon once; throws NativeAddonError naming the fix when it is not usable. */
export function loadAddon<T>(name: AddonName): T {
  const hit = cache.get(name);
  if (hit !== undefined) return hit as T;
  let mod: T;
  try {
    mod = require(name) as T;
  } catch (err) {
    throw new NativeAddonError(name, err);
  }
  cache.set(name, mod);
  return mod;
}
