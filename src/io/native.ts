import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Lazy loading of the native addons. They are loaded only by the adapter that needs them, so
 * `tcpcopy -h` or offline-only runs work without a built NFQUEUE binding, and a missing build
 * turns into one actionable message instead of a stack trace from deep inside node-gyp output.
 *
 * 'nfq' is the project's own batched NFQUEUE addon (src/native/nfq), built by
 * `npm run build:native` into src/native/nfq/build/Release/nfq.node; the others are npm packages.
 */
export type AddonName = 'nfqueue' | 'raw-socket' | 'cap' | 'nfq';

const FIX: Record<AddonName, string> = {
  nfqueue: `Install the system library and rebuild: run 'bash scripts/install-deps.sh' (Debian package libnetfilter-queue-dev), then 'npm rebuild nfqueue'.`,
  'raw-socket': `Install a compiler and rebuild: run 'bash scripts/install-deps.sh' (Debian package build-essential), then 'npm rebuild raw-socket'.`,
  cap: `Install the system library and rebuild: run 'bash scripts/install-deps.sh' (Debian package libpcap-dev), then 'npm rebuild cap'.`,
  nfq:
    `Build it with 'npm run build:native' (part of 'npm run build'; needs make, a C compiler (Debian build-essential), ` +
    `python3 and Node's headers in <node prefix>/include/node; node-gyp comes with npm).`,
};

export class NativeAddonError extends Error {
  constructor(
    readonly addon: AddonName,
    reason: unknown,
  ) {
    const detail = reason instanceof Error ? reason.message.split('\n')[0] : String(reason);
    super(`native addon '${addon}' could not be loaded (${detail}). ${FIX[addon]}`, { cause: reason });
    this.name = 'NativeAddonError';
  }
}

const require = createRequire(import.meta.url);
const cache = new Map<AddonName, unknown>();

/**
 * Where the project's own addon is: this file runs compiled from dist/src/io/ (normal) or from
 * src/io/ (a TS runner); both lead to src/native/nfq/build/Release/nfq.node in the checkout.
 */
export function nfqAddonPath(): string {
  const candidates = ['../../../src/native/nfq/build/Release/nfq.node', '../native/nfq/build/Release/nfq.node'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** Loads an addon once; throws NativeAddonError naming the fix when it is not usable. */
export function loadAddon<T>(name: AddonName): T {
  const hit = cache.get(name);
  if (hit !== undefined) return hit as T;
  let mod: T;
  try {
    mod = require(name === 'nfq' ? nfqAddonPath() : name) as T;
  } catch (err) {
    throw new NativeAddonError(name, err);
  }
  cache.set(name, mod);
  return mod;
}
