// Helper process for pcap-capture.test.ts, run inside a test namespace (never the root one):
// opens one capture through the chosen backend and prints, as one JSON line, every packet's
// length, truncation, capture timestamp and the wall time it reached JS, then the drop counters.
// argv: device snaplen filter count backend(auto|pcap|cap)
import { chooseCapture, type CaptureBackendChoice } from '../../src/io/open-capture.js';

const [device = 'lo', snap = '65535', filter = 'tcp', count = '10', backend = 'auto'] = process.argv.slice(2);
const want = Number(count);
const chosen = chooseCapture(backend as CaptureBackendChoice);
const got: { len: number; truncated: boolean; tsUs: number | null; wallUs: number }[] = [];
const errors: string[] = [];
const h = chosen.open({
  device,
  filter,
  bufferBytes: 4 << 20,
  snapLen: Number(snap),
  onPacket: (_buf, len, truncated, _off, tsUs) => {
    got.push({ len, truncated, tsUs: tsUs ?? null, wallUs: Date.now() * 1000 });
    if (got.length >= want) finish();
  },
  onError: (m) => {
    errors.push(m);
    finish();
  },
});
const timer = setTimeout(finish, 15_000);
let finished = false;

function finish(): void {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  const stats = h.stats();
  h.close();
  process.stdout.write(`${JSON.stringify({ backend: h.backend, linkType: h.linkType, got, stats, errors })}\n`);
}

process.stdout.write('ready\n');
