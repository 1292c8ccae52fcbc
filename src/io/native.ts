import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Lazy loading of the native addons. They are loaded only by the adapter that needs them, so
 * `tcpcopy -h` or offline-only runs work without a built NFQUEUE binding, and a missing build
 * turns into one actionable message instead of a stack trace from deep inside node-gyp output.
 *
 * 'nfq' (batched NFQUEUE, src/native/nfq), 'rawsend' (batched raw sends, src/native/rawsend) and
 * 'pktstat' (kernel drop counters of a capture socket) and 'pcapbatch' (batched libpcap capture) are the project's own addons, built by `npm run build:native` into
 * src/native/<name>/build/Release/<name>.node; the others are npm packages.
 */
export type AddonName = 'nfqueue' | 'raw-socket' | 'cap' | OwnAddon;

/** The project's own addons (src/native/<name>). */
export type OwnAddon = 'nfq' | 'rawsend' | 'pktstat' | 'pcapbatch';

const OWN_FIX =
  `Build it with 'npm run build:native' (part of 'npm run build'; needs make, a C compiler (Debian build-essential), ` +
  `python3 and Node's headers in <node prefix>/include/node; node-gyp comes with npm).`;

const FIX: Record<AddonName, string> = {
  nfqueue: `Install the system library and rebuild: run 'bash scripts/install-deps.sh' (Debian package libnetfilter-queue-dev), then 'npm rebuild nfqueue'.`,
  'raw-socket': `Install a compiler and rebuild: run 'bash scripts/install-deps.sh' (Debian package build-essential), then 'npm rebuild raw-socket'.`,
  cap: `Install the system library and rebuild: run 'bash scripts/install-deps.sh' (Debian package libpcap-dev), then 'npm rebuild cap'.`,
  nfq: OWN_FIX,
  rawsend: OWN_FIX,
  pcapbatch: `${OWN_FIX} It also needs libpcap-dev ('bash scripts/install-deps.sh'); without it live capture uses the slower 'cap' package.`,
  pktstat: `Build it with 'npm run build:native' (part of 'npm run build'); without it live capture works but cannot count kernel drops.`,
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
 * Where one of the project's own addons is: this file runs compiled from dist/src/io/ (normal)
 * or from src/io/ (a TS runner); both lead to src/native/<name>/build/Release/<name>.node in the
 * checkout.
 */
export function ownAddonPath(name: OwnAddon): string {
  const rel = `native/${name}/build/Release/${name}.node`;
  const candidates = [`../../../src/${rel}`, `../${rel}`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** The NFQUEUE addon's path (see ownAddonPath). */
export function nfqAddonPath(): string {
  return ownAddonPath('nfq');
}

/** Loads an addon once; throws NativeAddonError naming the fix when it is not usable. */
export function loadAddon<T>(name: AddonName): T {
  const hit = cache.get(name);
  if (hit !== undefined) return hit as T;
  let mod: T;
  try {
    mod = require(name === 'nfq' || name === 'rawsend' || name === 'pktstat' || name === 'pcapbatch' ? ownAddonPath(name) : name) as T;
  } catch (err) {
    throw new NativeAddonError(name, err);
  }
  cache.set(name, mod);
  return mod;
}
