import { openCapture, type CaptureBackend, type OpenCapture } from './live-capture.js';
import { NativeAddonError } from './native.js';
import { loadPcapBatch, openPcapBatchCapture, type PcapBatchModule } from './pcap-batch-capture.js';

/**
 * Backend choice for live capture, like the raw sink's: 'auto' takes the project's pcapbatch
 * addon when it loads and falls back to the `cap` package otherwise, saying why; a named backend
 * is used or fails. A device libpcap refuses is an error with either backend, never a fallback.
 */
export type CaptureBackendChoice = CaptureBackend | 'auto';

export interface ChosenCapture {
  backend: CaptureBackend;
  open: OpenCapture;
  /** Why the pcap backend is not in use (null when it is). */
  fallbackReason: string | null;
}

export interface ChooseCaptureDeps {
  loadPcap?: () => PcapBatchModule;
}

/** Throws NativeAddonError when 'pcap' is asked for and the addon is not built. */
export function chooseCapture(choice: CaptureBackendChoice, deps: ChooseCaptureDeps = {}): ChosenCapture {
  const cap: ChosenCapture = { backend: 'cap', open: openCapture, fallbackReason: '--capture-backend cap' };
  if (choice === 'cap') return cap;
  let mod: PcapBatchModule;
  try {
    mod = (deps.loadPcap ?? loadPcapBatch)();
  } catch (err) {
    if (choice === 'pcap' || !(err instanceof NativeAddonError)) throw err;
    return { ...cap, fallbackReason: err.message };
  }
  return { backend: 'pcap', open: (o) => openPcapBatchCapture(o, { module: mod }), fallbackReason: null };
}
